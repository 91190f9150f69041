/**
 * Masking what an event must not carry: values of fields and parameters whose names say secret,
 * JWTs wherever they appear, and payment card numbers (as moesif-nodejs hides them by default), in
 * parsed JSON, JSON kept as text, forms and URLs. Everything here works on copies.
 */
import { MASK } from '../wire.js';
import { isFormType, isJsonStreamType, isJsonType, looksLikeJson } from './content-type.js';

/**
 * Field names whose values are masked in JSON and form bodies and query strings. Matched on the
 * name lower-cased without separators, by suffix, so `access_token`, `clientSecret` and `x-api-key`
 * are caught but `max_tokens` is not.
 */
const SENSITIVE_SUFFIXES = [
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'authorization',
  'creditcard',
  'cardnumber',
  'cvv',
  'cvc',
  'ssn',
  'privatekey',
  // Keys named by what they unlock: secretKey, AWS's aws_secret_access_key and accessKey, Azure's
  // Ocp-Apim-Subscription-Key and X-Functions-Key. Not 'key' alone: idempotencyKey, publicKey.
  'secretkey',
  'accesskey',
  'subscriptionkey',
  'functionskey',
  'signingkey',
  'sessionid',
  'credential',
  'credentials',
];
function judgeName(name: string): boolean {
  const key = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  // 'password' anywhere, as moesif-nodejs hides it (`key.indexOf('password')`): Rails' and Laravel's
  // password_confirmation, currentPasswordHash.
  return key === 'pwd' || key === 'pin' || key.includes('password') || SENSITIVE_SUFFIXES.some((suffix) => key.endsWith(suffix));
}

/**
 * An API's field and header names repeat on every call, so each is judged once: this was most of the
 * cost of masking a JSON body (issue 18). Bounded, as names can come from clients: past the bound
 * the memo starts over.
 */
const judged = new Map<string, boolean>();
const MAX_JUDGED_NAMES = 5_000;

export function isSensitiveName(name: string): boolean {
  let sensitive = judged.get(name);
  if (sensitive === undefined) {
    sensitive = judgeName(name);
    if (judged.size >= MAX_JUDGED_NAMES) judged.clear();
    judged.set(name, sensitive);
  }
  return sensitive;
}

/**
 * A JWT (JWS compact form): a base64url JSON header, which always starts `eyJ` (`{"`), a payload and
 * a signature. It is a bearer credential wherever it appears, whatever holds it: the `refresh` and
 * `access` of a token endpoint's answer, a path segment, `?jwt=`, a proxy's X-Amzn-Oidc-Data.
 */
const JWT = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
export const maskJwts = (text: string): string => (text.includes('eyJ') ? text.replace(JWT, MASK) : text);

/**
 * Whether a value looks like a payment card number, which moesif-nodejs hides by default whatever
 * field holds it (its README, noAutoHideSensitive): 12 to 19 digits, spaces and dashes between them
 * allowed, that pass the Luhn check and start as a card network's numbers do (Visa, Mastercard, Amex,
 * Diners, Discover, JCB, Maestro, UnionPay, Mir, Elo). Most values fail at the first test, as most
 * strings of a body are not 12 to 40 characters starting with a digit.
 */
const CARD_START = /^(?:[3-6]|2[2-7]|2131|1800)/;
export function looksLikeCardNumber(value: string | number): boolean {
  const text = typeof value === 'number' ? (Number.isSafeInteger(value) && value >= 1e11 ? String(value) : '') : value;
  if (text.length < 12 || text.length > 40) return false;
  const first = text.charCodeAt(0);
  if (first < 0x31 || first > 0x36) return false;
  const digits = text.replace(/[\s-]/g, '');
  if (digits.length < 12 || digits.length > 19 || !/^\d+$/.test(digits) || !CARD_START.test(digits)) return false;
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let digit = digits.charCodeAt(i) - 0x30;
    if (double) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return sum % 10 === 0;
}

/** What stands for an object met a second time in an app's object graph (util.inspect's word). */
const CIRCULAR = '[Circular]';

/**
 * A masked copy of a JSON-like value; the app's own objects (req.body) are never modified. `seen` is
 * given for objects the app made, which may be graphs (an ORM record whose relations lead back to
 * it): each object is then walked once and met again becomes CIRCULAR, a shared but acyclic one too,
 * as the walk cannot tell them apart cheaply. Walked as a tree, two links back to the root were 2^32
 * visits before the depth limit, and the app's event loop never came back. Their `toJSON()` is
 * honoured, as JSON.stringify would. JSON.parse gives trees of plain values, so its output is walked
 * without either.
 */
export function maskFields(value: unknown, depth = 0, seen?: Set<object>): unknown {
  if (typeof value === 'string') return looksLikeCardNumber(value) ? MASK : maskJwts(value);
  if (typeof value === 'number') return looksLikeCardNumber(value) ? MASK : value;
  if (value === null || typeof value !== 'object') return value;
  // A body nested deeper than this is not worth walking; its structure is replaced, not leaked.
  if (depth > 32) return MASK;
  if (Buffer.isBuffer(value)) return value;
  if (seen) {
    if (seen.has(value)) return CIRCULAR;
    seen.add(value);
    // A Date, a decimal: its JSON is what the app would send, where its fields would be {}.
    const { toJSON } = value as { toJSON?: unknown };
    if (typeof toJSON === 'function') return maskFields(toJSON.call(value, ''), depth + 1, seen);
  }
  if (Array.isArray(value)) return value.map((item) => maskFields(item, depth + 1, seen));
  // Object.keys, not Object.entries: no [key, value] array per field (a tenth of the walk's time).
  const fields = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(fields)) {
    out[key] = isSensitiveName(key) ? MASK : maskFields(fields[key], depth + 1, seen);
  }
  return out;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const isSpace = (code: number): boolean => code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;

/** The index after the string literal that opens at `start`, or the text's end when it is unterminated. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === BACKSLASH) i += 1;
    else if (code === QUOTE) return i + 1;
  }
  return text.length;
}

/** The index after the JSON value that starts at `start`: a string, a whole object or array, or a literal. */
function valueEnd(text: string, start: number): number {
  const first = text[start];
  if (first === '"') return stringEnd(text, start);
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') i = stringEnd(text, i) - 1;
    else if (c === '{' || c === '[') depth += 1;
    else if (c === '}' || c === ']' || c === ',') {
      // A literal ends at its delimiter; an object or array at the bracket that closes it.
      if (depth === 0) return i;
      if (c !== ',' && --depth === 0) return i + 1;
    } else if (depth === 0 && isSpace(text.charCodeAt(i))) return i;
  }
  return text.length;
}

/**
 * JSON text that could not be parsed (cut at the byte cap, or declared JSON but malformed) with the
 * values of sensitive keys masked, every other character kept. Without this such a body went out
 * as raw text, credentials included. One pass: a string followed by `:` is a key; the value after a
 * sensitive key (string, literal, or whole object/array) becomes "*****", to the end of the text
 * when the cut fell inside it.
 */
function maskJsonText(text: string): string {
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < text.length) {
    if (text.charCodeAt(i) !== QUOTE) {
      i += 1;
      continue;
    }
    const end = stringEnd(text, i);
    let colon = end;
    while (colon < text.length && isSpace(text.charCodeAt(colon))) colon += 1;
    if (text[colon] === ':' && isSensitiveName(text.slice(i + 1, end - 1))) {
      let value = colon + 1;
      while (value < text.length && isSpace(text.charCodeAt(value))) value += 1;
      if (value < text.length) {
        out += `${text.slice(copied, value)}"${MASK}"`;
        copied = i = valueEnd(text, value);
        continue;
      }
    }
    i = end;
  }
  return maskCardValues(copied === 0 ? text : out + text.slice(copied));
}

/**
 * A JSON value (string or integer, after `:`, `[` or `,`, before `,`, `]`, `}` or the cut) that looks
 * like a card number. Parsed JSON is walked by maskFields; this is for JSON kept as text (cut at the
 * cap, event streams, NDJSON), which moesif-nodejs sends as no body or as base64 and this as text.
 */
const CARD_VALUE = /([:[,]\s*)("[1-6][\d -]{11,38}"|[1-6]\d{11,18})(?=\s*(?:[,\]}]|$))/g;

/**
 * A string value that the text ends inside (the cap cut it), made of digits, spaces and dashes as a
 * card number is. Its Luhn digit may be gone, so it cannot be told from other numbers: it is masked
 * when it shows more than a card's first six digits, the issuer number that PCI DSS lets show.
 */
const CUT_CARD_VALUE = /([:[,]\s*)"([1-6][\d -]*)$/;
const ISSUER_DIGITS = 6;

function maskCardValues(text: string): string {
  return text
    .replace(CARD_VALUE, (whole, before: string, value: string) => (looksLikeCardNumber(value.startsWith('"') ? value.slice(1, -1) : value) ? `${before}"${MASK}"` : whole))
    .replace(CUT_CARD_VALUE, (whole, before: string, value: string) => (value.replace(/\D/g, '').length > ISSUER_DIGITS ? `${before}"${MASK}"` : whole));
}

/** A form or query value that is a card number, spaces written as + or %20 too (a parsed form's is masked by maskFields). */
function isCardInForm(raw: string): boolean {
  if (raw.length < 12 || !/^[1-6]/.test(raw)) return false;
  try {
    return looksLikeCardNumber(decodeURIComponent(raw.replace(/\+/g, ' ')));
  } catch {
    return false;
  }
}

/** Masks sensitive fields of a form or query string in place; every other byte is kept as sent. */
function maskForm(text: string): string {
  return text
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      const rawKey = eq < 0 ? part : part.slice(0, eq);
      let key = rawKey;
      try {
        key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the name as written.
      }
      return eq >= 0 && (isSensitiveName(key) || isCardInForm(part.slice(eq + 1))) ? `${rawKey}=${MASK}` : part;
    })
    .join('&');
}

/**
 * A URL with the values of sensitive parameters (`?api_key=`, `?access_token=`) masked, in the query
 * and in the fragment (where the OAuth implicit flow puts the access token), and any JWT masked.
 */
export function maskUrl(url: string): string {
  const hash = url.indexOf('#');
  const beforeHash = hash < 0 ? url : url.slice(0, hash);
  const q = beforeHash.indexOf('?');
  let masked = q < 0 ? beforeHash : `${beforeHash.slice(0, q)}?${maskForm(beforeHash.slice(q + 1))}`;
  if (hash >= 0) masked += `#${maskForm(url.slice(hash + 1))}`;
  return maskJwts(masked);
}

/**
 * Text kept as text, masked as its type or look says: a form's sensitive fields, or JSON's that could
 * not be parsed (cut at the cap, malformed, or a stream of JSON values), and any JWT. Bodies recorded
 * from the stream and strings a parser made (express.text()) go through it alike. `json`: JSON by its
 * type or look, when the caller has judged it already.
 */
export function maskText(text: string, contentType: string, json = isJsonType(contentType) || looksLikeJson(text)): string {
  if (isFormType(contentType)) return maskJwts(maskForm(text));
  return maskJwts(json || isJsonStreamType(contentType) ? maskJsonText(text) : text);
}
