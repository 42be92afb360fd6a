export { ClientRepository, CLIENT_GRANT_TYPES, CLIENT_TYPES, type ClientGrantType, type ClientRecord, type ClientType, type StoredSecret } from './repository.ts';
export { ClientService, CLIENT_API_SCOPES, CLIENT_OPENID_SCOPES, redirectUriProblem, type ClientView, type CreateClientInput } from './service.ts';
export { CLIENT_ID_PREFIX, secretMatches, hashSecret } from './secrets.ts';
