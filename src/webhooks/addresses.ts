/**
 * Where a webhook may point. With `block_private_addresses` (the default), a URL's host must not be, or
 * resolve to, an address inside the operator's network or the machine itself unless `outbound.allow_private`
 * names it, and the URL must be https unless the allowlist names its host: otherwise anyone allowed to
 * create a webhook could make this server POST to internal services (SSRF). This is the check at creation,
 * for a clear answer; every delivery is checked again on the address it connects to (src/net/outbound.ts).
 */
import { BlockedAddressError, OutboundPolicy } from '../net/index.ts';

export { isBlockedAddress } from '../net/index.ts';

type UrlCheck = { ok: true; url: string } | { ok: false; message: string };

const MAX_URL_LENGTH = 2048;

/** Checks a webhook URL against the policy; returns its normalised form. */
export async function checkWebhookUrl(input: unknown, policy: OutboundPolicy): Promise<UrlCheck> {
  if (typeof input !== 'string' || input.length === 0) return { ok: false, message: 'url is required' };
  if (input.length > MAX_URL_LENGTH) return { ok: false, message: `url must be at most ${MAX_URL_LENGTH} characters` };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, message: 'url is not a valid absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, message: `url must use https or http, not ${url.protocol.replace(/:$/, '')}` };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, message: 'url must not contain credentials' };
  if (policy.blockPrivate) {
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    let addresses: string[];
    try {
      addresses = (await policy.resolve(url.hostname, port)).map((a) => a.address);
    } catch (error) {
      if (error instanceof BlockedAddressError) return { ok: false, message: `url host ${error.message.replace(/^refused: /, '')}` };
      return { ok: false, message: `url host "${url.hostname.replace(/^\[|\]$/g, '')}" could not be resolved` };
    }
    // Plain http only to a receiver the operator named: elsewhere the events would cross networks unencrypted.
    if (url.protocol !== 'https:' && !addresses.every((address) => policy.allowlisted(url.hostname, port, address))) {
      return { ok: false, message: 'url must use https' };
    }
  }
  return { ok: true, url: url.href };
}
