export { ProvisioningRuleService, provisioningRuleInput } from './rules.ts';
export { RoleMappingService, groupSources, type RoleChangePreview } from './role-mappings.ts';
