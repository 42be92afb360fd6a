import { SCHEMA_GROUP, SCHEMA_USER } from './resources.ts';

/**
 * What /scim/v2 says about itself (RFC 7644 §4, RFC 7643 §5-7): ServiceProviderConfig, ResourceTypes and
 * Schemas. Static: they describe exactly the attributes src/scim/resources.ts keeps and the features the door
 * serves (PATCH, filter; no bulk, sort, ETags, password change).
 */
export const SCHEMA_LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SCHEMA_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SCHEMA_SPC = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const SCHEMA_RESOURCE_TYPE = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export const MAX_RESULTS = 500;
export const MAX_BODY_BYTES = 1024 * 1024;

export function serviceProviderConfig(base: string) {
  return {
    schemas: [SCHEMA_SPC],
    documentationUri: 'https://github.com/logtrace/auth#scim-20-provisioning',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: MAX_BODY_BYTES },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [{ type: 'oauthbearertoken', name: 'Bearer token', description: 'The token shown once when the SCIM connection was created (POST /v1/connections, type scim) or rotated', primary: true }],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

export function resourceTypes(base: string) {
  return [
    { schemas: [SCHEMA_RESOURCE_TYPE], id: 'User', name: 'User', endpoint: '/Users', description: 'An account (its id is the account id of /v1/users)', schema: SCHEMA_USER, meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` } },
    { schemas: [SCHEMA_RESOURCE_TYPE], id: 'Group', name: 'Group', endpoint: '/Groups', description: 'A group of the group source named by the SCIM connection, for role mappings', schema: SCHEMA_GROUP, meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` } },
  ];
}

type Attribute = { name: string; type: string; multiValued: boolean; required: boolean; caseExact: boolean; mutability: string; returned: string; uniqueness: string; description: string; subAttributes?: Attribute[]; referenceTypes?: string[] };

const attr = (name: string, description: string, extra: Partial<Attribute> = {}): Attribute => ({ name, type: 'string', multiValued: false, required: false, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none', description, ...extra });

export function schemas(base: string) {
  const user = {
    schemas: [SCHEMA_SCHEMA],
    id: SCHEMA_USER,
    name: 'User',
    description: 'User Account',
    attributes: [
      attr('userName', 'Unique per SCIM connection; an email address, or a name when emails has one', { required: true, uniqueness: 'server' }),
      attr('externalId', "The directory's identifier for the User", { caseExact: true }),
      attr('displayName', 'Shown as the account name'),
      attr('name', 'The components of the name', {
        type: 'complex',
        subAttributes: ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => attr(n, n)),
      }),
      attr('active', 'false disables the account: its sessions and refresh tokens stop working at once', { type: 'boolean' }),
      attr('emails', 'The primary (else work, else first) is the address the account is made with and signs in with', {
        type: 'complex',
        multiValued: true,
        subAttributes: [attr('value', 'The address'), attr('type', 'work, home, other'), attr('primary', 'The one the account uses', { type: 'boolean' })],
      }),
    ],
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${SCHEMA_USER}` },
  };
  const group = {
    schemas: [SCHEMA_SCHEMA],
    id: SCHEMA_GROUP,
    name: 'Group',
    description: 'Group',
    attributes: [
      attr('displayName', 'The group name role mappings name (source: the SCIM connection id)', { required: true, uniqueness: 'server' }),
      attr('externalId', "The directory's identifier for the Group", { caseExact: true }),
      attr('members', 'Users of this SCIM connection', {
        type: 'complex',
        multiValued: true,
        subAttributes: [attr('value', 'The User id', { mutability: 'immutable', caseExact: true }), attr('$ref', 'The User URI', { type: 'reference', referenceTypes: ['User'], mutability: 'immutable' })],
      }),
    ],
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${SCHEMA_GROUP}` },
  };
  return [user, group];
}
