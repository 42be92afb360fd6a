export { ScimService, type ScimUserRecord, type ScimGroupRecord, type ScimGroupView, type ScimRequestMeta } from './service.ts';
export { scimApi } from './routes.ts';
