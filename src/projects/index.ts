export { ProjectService, MembershipService, type Member, type ProjectServiceDeps, type MembershipServiceDeps } from './service.ts';
