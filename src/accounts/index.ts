export { AccountService, type Account } from './service.ts';
