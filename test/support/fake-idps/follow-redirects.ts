/**
 * Plays the browser between our `begin()` URL and our callback: follows redirects through the upstream with a
 * cookie jar over plain fetch (`redirect: 'manual'`), and returns the callback URL once a redirect points at
 * `redirectUri` (which nothing needs to serve).
 */
export async function followRedirects(start: string, redirectUri: string, options: { maxHops?: number } = {}): Promise<URL> {
  const jar = new Map<string, string>();
  let url = start;
  for (let hop = 0; hop < (options.maxHops ?? 20); hop += 1) {
    if (url.startsWith(redirectUri)) return new URL(url);
    const response = await fetch(url, {
      redirect: 'manual',
      headers: jar.size > 0 ? { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') } : {},
    });
    for (const line of response.headers.getSetCookie()) storeCookie(jar, line);
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || location === null) {
      const body = (await response.text()).slice(0, 500);
      throw new Error(`followRedirects: ${url} answered ${response.status} instead of a redirect: ${body}`);
    }
    await response.body?.cancel();
    url = new URL(location, url).toString();
  }
  if (url.startsWith(redirectUri)) return new URL(url);
  throw new Error(`followRedirects: no redirect to ${redirectUri} within ${options.maxHops ?? 20} hops`);
}

/** Keeps name=value; a cookie set to expire (Max-Age=0 or an Expires in the past) is removed. */
function storeCookie(jar: Map<string, string>, line: string): void {
  const [pair = '', ...attributes] = line.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  const expired = attributes.some((attribute) => {
    const [key = '', val = ''] = attribute.split('=').map((part) => part.trim());
    if (key.toLowerCase() === 'max-age') return Number(val) <= 0;
    if (key.toLowerCase() === 'expires') return Date.parse(val) <= Date.now();
    return false;
  });
  if (expired) jar.delete(name);
  else jar.set(name, value);
}
