import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, secretKeyFromEnv, ConfigError } from '../config/index.ts';
import { type Store, SecretBox } from '../store/index.ts';
import { hashPassword } from '../directory/index.ts';
import { ensureKeySet, listSigningKeys, rotateCookieKeys, rotateSigningKey, type SigningAlg } from '../oidc/index.ts';
import { DomainError, type DomainErrorCode } from '../domain/index.ts';
import { buildServices } from '../container.ts';
import { operator, type CliServices } from './services.ts';
import { bootstrapCommand, keysCommand, CliError, type Options } from './keys.ts';
import { usersCommand } from './users.ts';
import { clientsCommand, CLIENTS_USAGE } from './clients.ts';

const USAGE = `Usage: npm run --silent cli -- <command> [options]

Commands:
  bootstrap --project <name> [--json]
                                create the root organisation (if absent) and, the first time
                                only, an API key on it with every scope
  keys create --project <id|name> --name <n> --scopes read:logs,write:alerts[,admin:projects]
              [--env live|test] [--ttl-days 90] [--ip-allowlist 10.0.0.0/8,…] [--auto-rotate] [--json]
  keys list --project <id|name> [--json]
  keys rotate --id <key id> [--grace-seconds 86400] [--json]
  keys revoke --id <key id> [--json]
  users add --email <e> [--name <n>] [--project <id|name> --role owner|admin|member|viewer]
            [--password-stdin] [--json]
                                a local account (password from standard input) with a role
${CLIENTS_USAGE}
  hash-password                 read a password from standard input, print its argon2id hash
  signing-keys list [--json]    list signing keys (never the private parts)
  signing-keys rotate [--alg ES256|EdDSA|RS256] [--now] [--json]
                                add a new signing key: published at once, signing only after
                                signing_keys.publish_ahead seconds (resource servers' cached
                                JWKS learn it first); the old key stays published until tokens
                                it signed have expired. --now (emergency): sign with the new
                                key at once and withdraw the old one at once (its tokens stop
                                verifying as caches refresh). Needs the servers'
                                LOGTRACE_SECRET_KEY when the keys are sealed with it
  cookie-keys rotate [--json]   replace the cookie keys: every browser session and sign-in in
                                progress ends (for keys that may have been read)

The store is the one the configuration names (LOGTRACE_CONFIG, DATA_DIR, REDIS_URL as for the server).`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Every command that touches the store runs on the services the server builds (src/container.ts), built
 * for a one-shot process: no background work, no protocol. Only warnings and errors reach standard error.
 */
async function withServices<T>(fn: (services: CliServices) => Promise<T>): Promise<T> {
  const { config } = await loadConfig();
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const services: CliServices = { ...(await buildServices(config, logger, { mode: 'cli' })), ...operator() };
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

/** New keys are sealed with LOGTRACE_SECRET_KEY exactly as the server seals its keys. */
function keyBox(store: Store): SecretBox | undefined {
  const secretKey = secretKeyFromEnv().encryptionKey;
  if (!secretKey) console.error('warning: LOGTRACE_SECRET_KEY is not set: signing and cookie keys stay in the store in clear');
  return secretKey ? new SecretBox(store, secretKey) : undefined;
}

/** Every command's options; an unknown or malformed one is a usage error (exit 2). */
function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        alg: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        project: { type: 'string' },
        name: { type: 'string' },
        scopes: { type: 'string' },
        env: { type: 'string' },
        'ttl-days': { type: 'string' },
        'ip-allowlist': { type: 'string' },
        'auto-rotate': { type: 'boolean' },
        id: { type: 'string' },
        'grace-seconds': { type: 'string' },
        email: { type: 'string' },
        role: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        now: { type: 'boolean', default: false },
        type: { type: 'string' },
        'grant-types': { type: 'string' },
        'redirect-uris': { type: 'string' },
        'post-logout-redirect-uris': { type: 'string' },
        'first-party': { type: 'boolean' },
        'secret-ttl-days': { type: 'string' },
        'client-id': { type: 'string' },
      },
    });
  } catch (err) {
    throw new CliError(`${err instanceof Error ? err.message : String(err)} (see --help)`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseCommandLine(argv);
  const [command, sub] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }

  if (command === 'hash-password') {
    const password = await readStdin();
    if (password.length < 8) {
      console.error('error: the password must be at least 8 characters');
      return 2;
    }
    console.log(await hashPassword(password));
    return 0;
  }

  if (command === 'bootstrap') return withServices((services) => bootstrapCommand(services, values as Options));
  if (command === 'users') return withServices((services) => usersCommand(services, sub, values as Options));
  if (command === 'keys') return withServices((services) => keysCommand(services, sub, values as Options));
  if (command === 'clients') return withServices((services) => clientsCommand(services, sub, values as Options));

  if (command === 'signing-keys' && sub === 'list') {
    return withServices(async ({ store }) => {
      const keySet = await listSigningKeys(store);
      const keys = (keySet?.keys ?? []).map((k) => ({ kid: k.kid, alg: k.alg, created_at: k.created_at, sign_from: k.sign_from ?? null, retire_at: k.retire_at ?? null }));
      if (values.json) console.log(JSON.stringify({ version: keySet?.version ?? 0, keys }));
      else for (const k of keys) console.log(`${k.kid}  ${k.alg}  created ${k.created_at}${k.sign_from && Date.parse(k.sign_from) > Date.now() ? `  signs from ${k.sign_from}` : ''}${k.retire_at ? `  retires ${k.retire_at}` : '  active'}`);
      return 0;
    });
  }

  if (command === 'signing-keys' && sub === 'rotate') {
    return withServices(async ({ store, config }) => {
      const alg = (values.alg ?? config.signing_keys.algorithm) as SigningAlg;
      if (!['ES256', 'EdDSA', 'RS256'].includes(alg)) {
        console.error(`error: --alg must be ES256, EdDSA or RS256, not ${alg}`);
        return 2;
      }
      const box = keyBox(store);
      await ensureKeySet(store, config.signing_keys.algorithm, config.signing_keys.additional, box);
      // Tokens signed by the old key live at most this long: keep it published until then.
      const retireAfter = Math.max(config.tokens.access_token_ttl, config.tokens.id_token_ttl) + 300;
      const now = values.now === true;
      const { added, retired } = await rotateSigningKey(store, alg, retireAfter, box, { publishAheadSeconds: now ? 0 : config.signing_keys.publish_ahead, withdrawNow: now });
      const signFrom = added.sign_from ?? added.created_at;
      const result = { added: { kid: added.kid, alg: added.alg, sign_from: signFrom }, retired: retired.map((k) => ({ kid: k.kid, retire_at: k.retire_at })) };
      if (values.json) console.log(JSON.stringify(result));
      else {
        const published = `new ${added.alg} signing key ${added.kid}; running servers publish it within ${config.signing_keys.reload_interval} s`;
        const signs = now ? 'and sign with it at once (--now)' : `and sign with it from ${signFrom}`;
        console.log(`${published} ${signs}${retired.map((k) => (now ? `\nkey ${k.kid} withdrawn` : `\nkey ${k.kid} stays published until ${k.retire_at}`)).join('')}`);
      }
      return 0;
    });
  }

  if (command === 'cookie-keys' && sub === 'rotate') {
    return withServices(async ({ store, config }) => {
      const box = keyBox(store);
      const { version } = await rotateCookieKeys(store, box);
      if (values.json) console.log(JSON.stringify({ version }));
      else console.log(`new cookie keys (key set version ${version}); running servers pick them up within ${config.signing_keys.reload_interval} s, and every browser signs in again`);
      return 0;
    });
  }

  console.error(`error: unknown command ${positionals.join(' ')}\n\n${USAGE}`);
  return 2;
}

/** Exit codes of a refused command, by kind, so scripts can tell them apart (0: done, 1: could not run). */
const EXIT_CODES: Record<DomainErrorCode, number> = { invalid: 2, forbidden: 3, not_found: 4, conflict: 5, unavailable: 6, rate_limited: 6 };

/**
 * The CLI's one error mapper: what a failed command prints on standard error and the exit code it ends
 * with. A usage error or invalid input: 2; a service's DomainError: its kind's code (EXIT_CODES); the
 * configuration, the store or anything unexpected: 1. With --json the refusal is also one JSON line
 * (`{"error":{"code","message","field"?}}`) for scripts.
 */
function failure(err: unknown, json: boolean): { exitCode: number; message: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: json ? JSON.stringify({ error: { code: 'invalid', message: err.message } }) : `error: ${err.message}` };
  if (err instanceof DomainError) {
    const text = `${err.field ? `${err.field}: ` : ''}${err.message}`;
    return { exitCode: EXIT_CODES[err.code], message: json ? JSON.stringify({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } }) : `error: ${text}` };
  }
  if (err instanceof ConfigError) return { exitCode: 1, message: err.message };
  return { exitCode: 1, message: `error: ${err instanceof Error ? err.message : String(err)}` };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const { exitCode, message } = failure(err, process.argv.includes('--json'));
    console.error(message);
    process.exit(exitCode);
  },
);
