/**
 * Secrets at rest that must be recoverable (webhook signing secrets, upstream refresh tokens, connection
 * client secrets, signing and cookie keys, dashboard sessions): unlike API keys they cannot be stored as a
 * hash, so they are sealed with AES-256-GCM, bound by additional data to what they belong to (a sealed
 * secret copied onto another record does not open).
 *
 * The key is `LOGTRACE_SECRET_KEY` (32 bytes) when configured. Without it, a random 32-byte data key is
 * generated once and kept in the store under `webhooks:{dek}` (putIfAbsent, so every node adopts the
 * first one written). That only keeps secrets out of casual view of the data: anyone who can read the
 * store can read the key too. Production deployments should set LOGTRACE_SECRET_KEY.
 * Each sealed value records which key sealed it, so setting LOGTRACE_SECRET_KEY later does not strand
 * secrets sealed with the stored key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Store } from './types.ts';

export type SealedSecret = { v: 1; key: 'configured' | 'stored'; iv: string; tag: string; ct: string };

const DATA_KEY = 'webhooks:{dek}';

export class SecretBox {
  private readonly store: Store;
  private readonly configuredKey: Buffer | undefined;
  private storedKeyPromise: Promise<Buffer> | undefined;

  constructor(store: Store, configuredKey: Buffer | undefined) {
    if (configuredKey !== undefined && configuredKey.length !== 32) {
      throw new RangeError(`webhooks: encryptionKey must be 32 bytes, got ${configuredKey.length}`);
    }
    this.store = store;
    this.configuredKey = configuredKey;
  }

  async seal(plaintext: string, aad: string): Promise<SealedSecret> {
    const keyName = this.configuredKey ? 'configured' : 'stored';
    const key = this.configuredKey ?? (await this.storedKey());
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { v: 1, key: keyName, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
  }

  /** Throws when the key is missing or wrong, or the value was tampered with. */
  async open(sealed: SealedSecret, aad: string): Promise<string> {
    let key: Buffer;
    if (sealed.key === 'configured') {
      if (!this.configuredKey) throw new Error('secret was sealed with LOGTRACE_SECRET_KEY, which is not set');
      key = this.configuredKey;
    } else {
      key = await this.storedKey();
    }
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString('utf8');
  }

  private storedKey(): Promise<Buffer> {
    this.storedKeyPromise ??= this.loadStoredKey().catch((error: unknown) => {
      this.storedKeyPromise = undefined; // a store outage must not stick
      throw error;
    });
    return this.storedKeyPromise;
  }

  private async loadStoredKey(): Promise<Buffer> {
    await this.store.putIfAbsent(DATA_KEY, { key: randomBytes(32).toString('base64'), created_at: new Date().toISOString() });
    const record = await this.store.get<{ key: string }>(DATA_KEY);
    const key = record ? Buffer.from(record.key, 'base64') : undefined;
    if (!key || key.length !== 32) throw new Error(`webhooks: ${DATA_KEY} in the store is missing or malformed`);
    return key;
  }
}
