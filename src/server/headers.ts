/** Headers as an event carries them: one flat map, secrets masked. */
import { APPLICATION_ID_HEADER, MASK, type Headers } from '../wire.js';
import { isSensitiveName, looksLikeCardNumber, maskJwts, maskUrl } from './masking.js';

/** Headers as Node gives them (getHeaders(), IncomingMessage.headers, writeHead()'s object): a value, repeated values, or none. */
export type RawHeaders = Record<string, string | string[] | number | undefined>;

/**
 * Headers that carry a URL: where a response sends the client, the page a browser called from (a
 * password-reset page's ?token=, sent whole to its own origin), and HTTP/2's request target (its
 * request line travels as headers, so an ?api_key= went out unmasked in :path).
 */
const URL_HEADERS = new Set(['location', 'content-location', 'refresh', 'referer', ':path']);

/**
 * Header names whose values are credentials. Others are masked too when their name says secret/token/key
 * (isSensitiveName). Narrower than the browser's pattern (src/capture/headers.ts), on purpose: the
 * server sees every header of its API, so Idempotency-Key or X-Public-Key must stay readable;
 * test/masking.test.ts pins each difference.
 */
const SECRET_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  APPLICATION_ID_HEADER.toLowerCase(),
]);

function maskHeaderValue(name: string, value: string): string {
  if (name === 'authorization' || name === 'proxy-authorization') {
    // Keep the scheme ("Bearer", "Basic"): it says how the client authenticated without the secret.
    const scheme = /^([A-Za-z][A-Za-z0-9._~+/-]*)\s+\S/.exec(value);
    return scheme ? `${scheme[1]} ${MASK}` : MASK;
  }
  return MASK;
}

/**
 * Headers whose values are trace ids written in decimal: Datadog's, random 64-bit numbers. About one
 * in forty passes for a card number (19 digits starting as a network's, then the Luhn check's one in
 * ten), so one call in twenty of an app traced by dd-trace lost its link to its trace, masked.
 */
const DECIMAL_TRACE_ID_HEADERS = new Set(['x-datadog-trace-id', 'x-datadog-parent-id']);

/** Headers as a flat map (repeated values joined by ", ", as Moesif documents), secrets masked. */
export function flattenHeaders(headers: RawHeaders): Headers {
  const out: Headers = {};
  for (const rawName of Object.keys(headers)) {
    const rawValue = headers[rawName];
    if (rawValue === undefined) continue;
    const name = rawName.toLowerCase();
    const value = Array.isArray(rawValue) ? rawValue.join(', ') : String(rawValue);
    if (SECRET_HEADERS.has(name) || isSensitiveName(name)) out[name] = maskHeaderValue(name, value);
    else if (URL_HEADERS.has(name)) out[name] = maskUrl(value);
    // A card number, whatever the header's name, as moesif-nodejs hides it in headers too.
    else out[name] = looksLikeCardNumber(value) && !DECIMAL_TRACE_ID_HEADERS.has(name) ? MASK : maskJwts(value);
  }
  return out;
}
