import { z } from 'zod';
import { commonConnectorSchema, connectorTypes } from '../connectors/index.ts';
import { scimConnectionSchema } from '../connectors/connections.ts';
import type { ConnectionService } from '../connectors/service.ts';
import type { ApiRoutes } from './api-routes.ts';
import { callerOf } from '../http/caller.ts';

const TAG = 'Connections';

const CONNECTION_ID = z.object({ id: z.string().describe('The connection id') });

/**
 * A connection's settings as JSON Schema, one per connector type (its ConnectorType.configSchema with the
 * keys every connector has) and SCIM's: the request body of POST /v1/connections in the document. The
 * settings are validated once, by the ConnectionSet with those same schemas (and the checks that need the
 * server's state: the shared directory, stored secrets), so the door accepts any object and does not
 * validate a second time with other words.
 */
function settingsVariants(): Array<Record<string, unknown>> {
  const describe = (schema: z.ZodType, title: string): Record<string, unknown> => {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete json.$schema;
    return { title, ...json };
  };
  const variants = connectorTypes().map((type) => {
    const own = type.configSchema instanceof z.ZodObject ? (type.configSchema.shape as z.ZodRawShape) : {};
    return describe(commonConnectorSchema.extend({ type: z.literal(type.type) }).extend(own), type.names.en);
  });
  variants.push(describe(scimConnectionSchema, 'SCIM 2.0 provisioning'));
  return variants;
}

const SETTINGS_NOTE =
  'Secrets (client_secret, ldap.bind_password, …) are write-only: stored sealed, never answered, listed in `secrets_set`. Settings that name files on the server are refused.';

function createBody() {
  return z.looseObject({}).meta({
    description: `A connection's settings: the keys every connector has and those of its type (\`type\`), or a SCIM connection (\`type: scim\`). ${SETTINGS_NOTE}`,
    oneOf: settingsVariants(),
    discriminator: { propertyName: 'type' },
  });
}

const PATCH_BODY = z.looseObject({}).meta({
  description: `An RFC 7396 JSON Merge Patch of the connection's settings: members replace, objects merge, \`null\` removes (back to the default). \`id\` and \`type\` cannot change. A secret left out is kept while the settings it is sent to stay the same. ${SETTINGS_NOTE}`,
});

const STAMPS = {
  created_at: z.iso.datetime().describe('Connections made through this API'),
  updated_at: z.iso.datetime().describe('Connections made through this API'),
};

/** A SCIM connection: the door a directory pushes people and groups through, tied to a connector. */
const SCIM_VIEW = z.strictObject({
  id: z.string(),
  type: z.literal('scim'),
  name: z.string().optional(),
  connector: z.string().describe('The connector its people sign in with'),
  enabled: z.boolean(),
  origin: z.literal('api'),
  secrets_set: z.array(z.string()).max(0),
  ...STAMPS,
});

/** A connector's connection: the common keys below, and its type's own settings without secrets. */
const CONNECTOR_VIEW = z
  .looseObject({
    id: z.string(),
    type: z.string().regex(/^(?!scim$)/, 'not scim').describe('The connector type (yandex, vk, entra, oidc, saml, ldap, or one registered by the server)'),
    name: z.string().optional(),
    email_domains: z.array(z.string()).optional(),
    require_mfa: z.boolean().optional(),
    trust_email: z.boolean().optional(),
    enabled: z.boolean().optional(),
    check_upstream_on_refresh: z.boolean().optional(),
    origin: z.enum(['config', 'api']).describe('`config`: from the configuration file (read-only here); `api`: made through this API or the dashboard'),
    secrets_set: z.array(z.string()).describe('The write-only settings that hold a value (never the values)'),
    created_at: STAMPS.created_at.optional(),
    updated_at: STAMPS.updated_at.optional(),
  })
  .describe("A connection of a connector type: the keys every connector has, then its type's own settings (secrets removed)");

const CONNECTION_VIEW = z.union([SCIM_VIEW, CONNECTOR_VIEW]);
const CREATED_VIEW = z.union([SCIM_VIEW.extend({ token: z.string().describe('The bearer token the directory sends (lts_scim_…), shown once') }), CONNECTOR_VIEW]);

const CHECK = z.strictObject({ check: z.string(), ok: z.boolean(), detail: z.string().describe('What was found, in plain words') });

/** /v1/connections: a thin door over ConnectionService (src/connectors/service.ts). */
export function connectionRoutes(api: ApiRoutes, { connections }: { connections: ConnectionService }): void {
  api.add(
    {
      method: 'get',
      path: '/v1/connections',
      operationId: 'listConnections',
      summary: 'Every connection: the configuration file’s (read-only), then those made at run time',
      tag: TAG,
      responses: { 200: { description: 'The connections', schema: z.strictObject({ connections: z.array(CONNECTION_VIEW) }) } },
    },
    async (ctx) => ({ connections: await connections.list(callerOf(ctx)) }),
  );

  api.add(
    {
      method: 'get',
      path: '/v1/connections/:id',
      operationId: 'getConnection',
      summary: 'One connection, its secrets left out',
      tag: TAG,
      params: CONNECTION_ID,
      responses: { 200: { description: 'The connection', schema: CONNECTION_VIEW } },
      problems: [404],
    },
    async (ctx, { params }) => connections.get(callerOf(ctx), params.id),
  );

  api.add(
    {
      method: 'post',
      path: '/v1/connections',
      operationId: 'createConnection',
      summary: 'Adds a connection (an owner of every organisation); in use on every node within the reload interval',
      description: 'A SCIM connection (`type: scim`) answers with its bearer token, once.',
      tag: TAG,
      body: createBody(),
      responses: { 201: { description: 'The connection as stored', schema: CREATED_VIEW } },
      problems: [409],
    },
    async (ctx, { body }) => connections.create(callerOf(ctx), body),
  );

  api.add(
    {
      method: 'patch',
      path: '/v1/connections/:id',
      operationId: 'updateConnection',
      summary: 'Changes a connection made at run time (a merge patch)',
      description: 'Admins may rename, enable or disable a connection and replace its secret; any other change needs an owner of every organisation. A connection from the configuration file is a 409.',
      tag: TAG,
      params: CONNECTION_ID,
      body: PATCH_BODY,
      responses: { 200: { description: 'The connection as stored', schema: CONNECTION_VIEW } },
      problems: [404, 409],
    },
    async (ctx, { params, body }) => connections.update(callerOf(ctx), params.id, body),
  );

  api.add(
    {
      method: 'delete',
      path: '/v1/connections/:id',
      operationId: 'deleteConnection',
      summary: 'Removes a connection made at run time; accounts stay (a SCIM connection’s people lose the roles its groups gave)',
      tag: TAG,
      params: CONNECTION_ID,
      responses: { 204: { description: 'Deleted' } },
      problems: [404, 409],
    },
    async (ctx, { params }) => {
      await connections.delete(callerOf(ctx), params.id);
      return null;
    },
  );

  api.add(
    {
      method: 'post',
      path: '/v1/connections/:id/token/rotate',
      operationId: 'rotateScimToken',
      summary: 'A new bearer token for a SCIM connection, shown once; the old one stops working at once',
      tag: TAG,
      params: CONNECTION_ID,
      responses: { 200: { description: 'The new token', schema: z.strictObject({ id: z.string(), token: z.string() }) } },
      problems: [400, 404],
    },
    async (ctx, { params }) => connections.rotateScimToken(callerOf(ctx), params.id),
  );

  api.add(
    {
      method: 'post',
      path: '/v1/connections/:id/test',
      operationId: 'testConnection',
      summary: 'Checks a connection (discovery, metadata, keys, a directory bind) and says what is wrong; changes nothing',
      tag: TAG,
      params: CONNECTION_ID,
      responses: { 200: { description: 'Each check with its outcome', schema: z.strictObject({ ok: z.boolean(), checks: z.array(CHECK) }) } },
      problems: [404],
    },
    async (ctx, { params }) => connections.test(callerOf(ctx), params.id),
  );
}
