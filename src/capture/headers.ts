import { MASK, type Headers as WireHeaders } from '../wire.js';

/**
 * Headers that carry credentials or identify a session: Authorization, Proxy-Authorization, Cookie,
 * Set-Cookie, X-Api-Key, X-Auth-Token, X-CSRF-Token and the like, in any case (a browser whose XMLHttpRequest
 * keeps the server's case still gets them masked). Masking a harmless header by
 * mistake costs little; sending a credential to analytics costs a lot. One pattern, broader than
 * usertrail/server's list (src/server/body.ts), for its size: test/masking.test.ts pins each difference.
 */
const SECRET = /auth|cookie|key|token|secret|passw|session|csrf/i;

/**
 * `text` with the credentials of every URL in it (`//user:password@`) masked, as the Authorization header
 * they stand for is: XMLHttpRequest sends them, and fetch refuses them with an error that quotes the URL.
 */
export const maskCredentials = (text: string): string => text.replace(/\/\/[^/@\s]+@/g, `//${MASK}@`);

/**
 * Headers as the event carries them, secrets masked. They come normalized (names lower-cased, repeats
 * joined with ', ', values trimmed) from a `Headers` or `parseHeaders`, or as the app gave them
 * (setRequestHeader's pairs, fetch's array), where a value may be a number: a string on the wire, as the
 * browser sends it. A name the app gave twice, in any case, is one header, its values joined with ', '
 * under the name as first written: what the browser sends (the Fetch standard's "combine", which
 * setRequestHeader and a Headers both use). `fromEntries` keeps names like `__proto__` plain entries.
 */
export const headerRecord = (headers: Iterable<[string, string]>): WireHeaders => {
  const combined = new Map<string, [name: string, value: string]>();
  for (const [name, value] of headers) {
    const earlier = combined.get(name.toLowerCase());
    combined.set(name.toLowerCase(), earlier ? [earlier[0], `${earlier[1]}, ${value}`] : [name, String(value)]);
  }
  return Object.fromEntries(Array.from(combined.values(), ([name, value]) => [name, SECRET.test(name) ? MASK : value]));
};

/**
 * An XMLHttpRequest's response headers, from getAllResponseHeaders(): `name: value\r\n` lines, names already lower-cased and
 * repeats joined by the browser. `.` stops before the CR.
 */
export const parseHeaders = (raw: string): Array<[string, string]> => Array.from(raw.matchAll(/^(.+?): (.*)/gm), (m) => m.slice(1) as [string, string]);
