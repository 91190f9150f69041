import type { Headers } from '../wire';

/**
 * Headers that carry credentials or identify a session: Authorization, Proxy-Authorization, Cookie,
 * Set-Cookie, X-Api-Key, X-Auth-Token, X-CSRF-Token and the like. Masking a harmless header by
 * mistake costs little; sending a credential to analytics costs a lot.
 */
const SECRET = /auth|cookie|key|token|secret|passw|session|csrf/i;

export const MASK = '*****';

/** Header pairs as the event carries them: names lower-cased, repeats joined, secrets masked. */
export function headerRecord(pairs: Iterable<[string, string]>): Headers {
  // A Map, so that names like `__proto__` or `constructor` stay plain entries.
  const out = new Map<string, string>();
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    out.set(key, SECRET.test(key) ? MASK : out.has(key) ? `${out.get(key)}, ${value}` : value);
  }
  return Object.fromEntries(out);
}
