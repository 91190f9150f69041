import type { Headers as WireHeaders } from '../wire';

/**
 * Headers that carry credentials or identify a session: Authorization, Proxy-Authorization, Cookie,
 * Set-Cookie, X-Api-Key, X-Auth-Token, X-CSRF-Token and the like (names arrive lower-cased). Masking a harmless header by
 * mistake costs little; sending a credential to analytics costs a lot.
 */
const SECRET = /auth|cookie|key|token|secret|passw|session|csrf/;

export const MASK = '*****';

/**
 * Headers as the event carries them, secrets masked. Going through `Headers` lower-cases names and
 * joins repeats with ', ' as browsers do; `fromEntries` keeps names like `__proto__` plain entries.
 */
export const headerRecord = (init: HeadersInit): WireHeaders =>
  // A Headers object is read as it is: copying one costs a trip through the browser's header checks per call.
  Object.fromEntries(Array.from(init instanceof Headers ? init : new Headers(init), ([name, value]) => [name, SECRET.test(name) ? MASK : value]));

/**
 * XMLHttpRequest's getAllResponseHeaders(): `name: value` lines. `Headers` trims the space after the
 * colon and the CR of each line.
 */
export const parseHeaders = (raw: string): Headers => new Headers(Array.from(raw.matchAll(/^(.+?):(.*)/gm), (m) => m.slice(1) as [string, string]));
