import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { Store, SecretBox } from '../store/index.ts';
import type { JWK } from 'jose';
import { keySetVersion, nextKeyTransition, publicJwks, readKeySet, type KeySet } from './keys.ts';

/**
 * Holds the running oidc-provider instance. oidc-provider's keystore is fixed at construction, so when
 * another process rotates the signing keys in the store, this node builds a new provider with the new
 * key set and swaps it in; requests in flight finish on the old one. It does the same when the clock
 * alone changes the keys: a key published ahead starts signing (sign_from), a retired one leaves.
 */
export class ProviderHolder {
  current: Provider;
  /** The current provider's request handler, composed once per provider (Koa composes on every callback()). */
  handler: ReturnType<Provider['callback']>;
  private version: number;
  private keySet: KeySet;
  private timer: NodeJS.Timeout | undefined;
  private transition: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly build: (keySet: KeySet) => Provider;
  private readonly onBuilt: ((provider: Provider) => void) | undefined;

  constructor(keySet: KeySet, build: (keySet: KeySet) => Provider, onBuilt?: (provider: Provider) => void) {
    this.build = build;
    this.onBuilt = onBuilt;
    this.current = build(keySet);
    this.handler = this.current.callback();
    onBuilt?.(this.current);
    this.version = keySet.version;
    this.keySet = keySet;
    this.scheduleTransition();
  }

  /** Rebuilds the provider when the next sign_from or retire_at of the held key set passes. */
  private scheduleTransition(): void {
    if (this.transition) clearTimeout(this.transition);
    this.transition = undefined;
    const at = nextKeyTransition(this.keySet);
    if (at === undefined || this.stopped) return;
    // setTimeout takes at most 2^31-1 ms; a later transition is looked at again then.
    this.transition = setTimeout(() => {
      if (Date.now() >= at) this.swap(this.keySet);
      else this.scheduleTransition();
    }, Math.min(at - Date.now() + 10, 2 ** 31 - 1));
    this.transition.unref();
  }

  private swap(keySet: KeySet): void {
    this.current = this.build(keySet);
    this.handler = this.current.callback();
    this.onBuilt?.(this.current);
    this.version = keySet.version;
    this.keySet = keySet;
    this.scheduleTransition();
  }

  /** Public signing keys currently published (for verifying our own tokens in-process). */
  publicJwks(): { keys: JWK[] } {
    return publicJwks(this.keySet);
  }

  /** Checks the store for a newer key set (opened with `box`, LOGTRACE_SECRET_KEY); true when the provider was rebuilt. */
  async reload(store: Store, box: SecretBox | undefined): Promise<boolean> {
    if ((await keySetVersion(store)) === this.version) return false;
    const keySet = await readKeySet(store, box);
    if (!keySet || keySet.version === this.version) return false;
    this.swap(keySet);
    return true;
  }

  watch(store: Store, box: SecretBox | undefined, intervalSeconds: number, logger: Logger): void {
    this.timer = setInterval(() => {
      this.reload(store, box)
        .then((changed) => {
          if (changed) logger.info({ version: this.version }, 'signing keys changed: provider reloaded');
        })
        .catch((err: unknown) => logger.warn({ err: String(err) }, 'could not check signing keys'));
    }, intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.transition) clearTimeout(this.transition);
  }
}
