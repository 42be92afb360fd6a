export { ProjectService, MembershipService } from './service.ts';
