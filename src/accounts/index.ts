export { AccountService, type Account, type AccountServiceDeps } from './service.ts';
