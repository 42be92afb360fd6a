/** LOGTRACE_SECRET_KEY: 32 bytes (base64 or hex) that encrypt stored secrets such as webhook signing keys. */
export function secretKeyFromEnv(env: NodeJS.ProcessEnv = process.env): { encryptionKey?: Buffer } {
  const raw = env.LOGTRACE_SECRET_KEY;
  if (!raw) return {};
  const key = /^[0-9a-f]{64}$/i.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
  if (key.length !== 32) throw new Error('LOGTRACE_SECRET_KEY must be 32 bytes, base64 or hex encoded');
  return { encryptionKey: key };
}
