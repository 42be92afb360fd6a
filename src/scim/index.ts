export { ScimService, type ScimServiceDeps, type ScimUserRecord, type ScimGroupRecord, type ScimGroupView, type ScimRequestMeta } from './service.ts';
export { scimApi, SCIM_BASE } from './routes.ts';
