export { ProvisioningRuleService, provisioningRuleInput, type ProvisioningRuleBody, type ProvisioningRuleServiceDeps } from './rules.ts';
export { RoleMappingService, groupSources, type RoleMappingInput, type RoleChangePreview, type RoleMappingServiceDeps } from './role-mappings.ts';
