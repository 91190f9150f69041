/**
 * Bodies and headers as they go into an event: recorded up to a byte cap, decoded (JSON, text or
 * base64), and with secrets masked. The traffic itself is never changed: everything here works on
 * copies.
 */
import { isUtf8 } from 'node:buffer';
import type { Transform } from 'node:stream';
import { constants, createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { APPLICATION_ID_HEADER, MASK, type Headers } from '../wire.js';

/** Zero bytes, shared by every recorder until its first chunk. */
const NOTHING: Buffer = Buffer.alloc(0);

/**
 * A prefix up to this many bytes, in two chunks or more, is kept as a string of its bytes (latin1:
 * one character per byte) rather than in a buffer: an idle event stream keeps it for hours, and a
 * buffer of its own costs a Buffer, an ArrayBuffer and a native backing store besides its bytes
 * (about twice the bytes of a few events). Rebuilt whole for each chunk, which stays cheap at this size.
 */
const SMALL_PREFIX = 1024;

/**
 * Collects the first `cap` bytes of a stream of chunks and counts all of them. A class, unlike the
 * closure factories elsewhere: an open event stream keeps its recorder for as long as it lasts, and
 * a factory's four closures and their context were a third of what usertrail/server kept per open
 * stream; an instance is its four fields, the methods are shared.
 */
export class BodyRecorder {
  // Most bodies come in one chunk, kept as Node's cheapest copy (a slice of its shared pool), or
  // not copied at all when the bytes are our own (a string encoded here). From the second chunk on
  // the prefix is one string while small (SMALL_PREFIX), then one buffer of its own, grown by
  // doubling up to the cap. Kept as one small copy per chunk, an event stream of short lines held a
  // Buffer object for each line, and each copy a slice of the pool that kept a whole 8 KB slab
  // alive: 500 streams at the 100 KB cap retained about 210 MB instead of 50.
  private store: Buffer | string = NOTHING;
  private kept = 0;
  private seen = 0;

  constructor(private readonly cap: number) {}

  add(chunk: unknown, encoding?: unknown): void {
    const room = this.cap - this.kept;
    if (typeof chunk === 'string') {
      // Node's write/end take an encoding for strings ('hex', 'base64', 'latin1'...); count bytes as sent.
      const enc = typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8';
      if (enc === 'utf8' || enc === 'utf-8') {
        if (chunk.length <= room + 1) {
          const bytes = Buffer.from(chunk, 'utf8');
          this.seen += bytes.length;
          this.keep(bytes, true);
          return;
        }
        // A string longer than the room left is not encoded whole: a node:http app's 2 MB JSON
        // answer (res.end(JSON.stringify(...))) cost a 2 MB copy (6 to 9 ms at load 7) to keep
        // 100 KB, and each write of an endless event stream one more copy. Each UTF-16 unit is at
        // least one UTF-8 byte, so its first room + 1 units (one more keeps a surrogate pair whole)
        // hold its first room bytes, and its length is counted: less than its bytes, but already
        // more than was kept, which is all total() is for.
        this.seen += chunk.length;
        if (room > 0) this.keep(Buffer.from(chunk.slice(0, room + 1), 'utf8'), true);
        return;
      }
      if (room <= 0) {
        // Past the cap only the count is needed, and it is known without decoding the string.
        this.seen += Buffer.byteLength(chunk, enc);
        return;
      }
      const bytes = Buffer.from(chunk, enc);
      this.seen += bytes.length;
      this.keep(bytes, true);
    } else if (chunk instanceof Uint8Array) {
      this.seen += chunk.byteLength;
      if (room > 0) this.keep(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), false);
    }
  }

  /** The bytes kept (at most `cap`). */
  bytes(): Buffer {
    const { store } = this;
    if (typeof store === 'string') return Buffer.from(store, 'latin1');
    return this.kept === store.length ? store : store.subarray(0, this.kept);
  }

  /**
   * What was kept, as the event carries it (see decodeRecorded). A body whose end never came (`ended`
   * false: a client that left, an upload refused unread, a response the app stopped reading) is cut,
   * however little of it arrived: not parsed as whole JSON, and a character cut at its end is not binary.
   */
  decode({ ended, contentType, contentEncoding }: { ended: boolean; contentType: string; contentEncoding: string }): EncodedBody | Promise<EncodedBody> {
    return decodeRecorded(this.bytes(), this.seen + (ended ? 0 : 1), contentType, contentEncoding, this.cap);
  }

  /**
   * Bytes seen, kept or not: exact while everything was kept; once something was cut, more than was
   * kept but possibly fewer than were sent (strings past the cap are counted by length, not encoded).
   */
  total(): number {
    return this.seen;
  }

  private keep(bytes: Buffer, ours: boolean): void {
    const { cap, kept, store } = this;
    const room = cap - kept;
    const piece = bytes.length <= room ? bytes : bytes.subarray(0, room);
    const size = kept + piece.length;
    if (kept === 0) {
      // Copied unless ours (the caller may reuse its buffer after write() returns), or cut: a slice
      // would keep all of a string's bytes alive.
      this.store = ours && piece.length === bytes.length ? piece : Buffer.from(piece);
    } else if (size <= SMALL_PREFIX) {
      const before = typeof store === 'string' ? Buffer.from(store, 'latin1') : store;
      this.store = Buffer.concat([before, piece], size).toString('latin1');
    } else {
      let buffer = typeof store === 'string' ? Buffer.from(store, 'latin1') : store;
      if (size > buffer.length) {
        // Unpooled, so that a stream's prefix never holds a slab shared with anything else.
        const grown = Buffer.allocUnsafeSlow(Math.min(cap, Math.max(size, buffer.length * 2)));
        buffer.copy(grown, 0, 0, kept);
        buffer = grown;
      }
      buffer.set(piece, kept);
      this.store = buffer;
    }
    this.kept = size;
  }
}

/** Headers as Node gives them (getHeaders(), IncomingMessage.headers, writeHead()'s object): a value, repeated values, or none. */
export type RawHeaders = Record<string, string | string[] | number | undefined>;

export interface EncodedBody {
  body?: unknown;
  transfer_encoding?: 'base64';
  /** The body is only the start of what was sent: not an event field, it goes into `metadata.truncated`. */
  cut?: true;
}

const isJsonType = (contentType: string): boolean => /[/+]json\b/i.test(contentType);
/**
 * Streams of JSON values: server-sent events (an LLM's tokens as `data: {...}` lines), NDJSON and JSON
 * Lines. Never whole JSON, so their fields were not masked (a `"token"` streamed went out as sent),
 * and NDJSON was not even text (base64, as moesif-nodejs sends it). Also multipart/mixed: GraphQL's
 * incremental delivery (Apollo Server's answer to `@defer`) sends each result as a JSON part.
 */
export const isJsonStreamType = (contentType: string): boolean => /event-stream|ndjson|jsonl\b|multipart\/mixed/i.test(contentType);
const isFormType = (contentType: string): boolean => /x-www-form-urlencoded/i.test(contentType);
const isTextType = (contentType: string): boolean =>
  /^text\/|[/+](json|xml)\b|javascript|x-www-form-urlencoded|graphql|ndjson|jsonl\b|multipart\/mixed/i.test(contentType);

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

function isSensitiveName(name: string): boolean {
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
const maskJwts = (text: string): string => (text.includes('eyJ') ? text.replace(JWT, MASK) : text);

/**
 * Whether a value looks like a payment card number, which moesif-nodejs hides by default whatever
 * field holds it (its README, noAutoHideSensitive): 12 to 19 digits, spaces and dashes between them
 * allowed, that pass the Luhn check and start as a card network's numbers do (Visa, Mastercard, Amex,
 * Diners, Discover, JCB, Maestro, UnionPay, Mir, Elo). Most values fail at the first test, as most
 * strings of a body are not 12 to 40 characters starting with a digit.
 */
const CARD_START = /^(?:[3-6]|2[2-7]|2131|1800)/;
function looksLikeCardNumber(value: string | number): boolean {
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
function maskFields(value: unknown, depth = 0, seen?: Set<object>): unknown {
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

/** Text that reads as JSON (an object or array), whatever its declared type. */
const looksLikeJson = (text: string): boolean => /^\s*[[{]/.test(text);

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
 * Headers that carry a URL: where a response sends the client, the page a browser called from (a
 * password-reset page's ?token=, sent whole to its own origin), and HTTP/2's request target (its
 * request line travels as headers, so an ?api_key= went out unmasked in :path).
 */
const URL_HEADERS = new Set(['location', 'content-location', 'refresh', 'referer', ':path']);

/**
 * UTF-8 text, or undefined when the bytes are not text. A code point cut by the cap is tolerated,
 * only when the body was cut (`whole` false): at the end of a whole body an incomplete sequence is
 * not text, and was dropped (a Latin-1 "café" was logged as "caf").
 */
function utf8(bytes: Buffer, whole: boolean): string | undefined {
  // The usual case, whole valid text, without making a decoder for it.
  if (isUtf8(bytes)) return bytes.toString('utf8');
  if (whole) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
  } catch {
    return undefined;
  }
}

/**
 * Raw bytes as Moesif takes a body: parsed JSON when the type says JSON and the body was kept whole,
 * else text, else base64 with `transfer_encoding`; marked `cut` when it is not whole (total is more
 * than was kept). The bytes are as the client or app meant them: a Content-Encoding is undone first
 * by `decodeRecorded`.
 */
function encodeRaw(bytes: Buffer, total: number, contentType: string): EncodedBody {
  const encoded = encodeBytes(bytes, total, contentType);
  return total > bytes.length && encoded.body !== undefined ? { ...encoded, cut: true } : encoded;
}

function encodeBytes(bytes: Buffer, total: number, contentType: string): EncodedBody {
  // Multipart uploads are files and form fields together: as base64 their fields (a password) could
  // not be masked, and the files are no analytics. moesif-nodejs skips them too. A parser's fields
  // (multer's req.body) are still recorded, masked, through encodeParsed. multipart/mixed is not an
  // upload but parts of text (a deferred GraphQL answer's JSON results), recorded as text when it is.
  // Nothing kept (a cap of 0) is no body, not an empty one: "" would say the API answered nothing.
  if (bytes.length === 0 || /^\s*multipart\/(?!mixed\b)/i.test(contentType)) return {};
  const whole = total <= bytes.length;
  const text = contentType === '' || isTextType(contentType) ? utf8(bytes, whole) : undefined;
  if (text === undefined) return { body: bytes.toString('base64'), transfer_encoding: 'base64' };
  // JSON by its type, or by its look when it has no type or a text one (a node:http app that sets
  // none, as moesif-nodejs's own example; Express's res.send(JSON.stringify(...)) as text/html):
  // moesif-nodejs records both parsed, and Moesif can then filter on their fields.
  const json = !isFormType(contentType) && (isJsonType(contentType) || looksLikeJson(text));
  if (json && whole) {
    try {
      return { body: maskFields(JSON.parse(text)) };
    } catch {
      // Not JSON after all (or declared JSON but malformed): kept as text.
    }
  }
  return { body: maskText(text, contentType, json) };
}

/**
 * Text kept as text, masked as its type or look says: a form's sensitive fields, or JSON's that could
 * not be parsed (cut at the cap, malformed, or a stream of JSON values), and any JWT. Bodies recorded
 * from the stream and strings a parser made (express.text()) go through it alike. `json`: JSON by its
 * type or look, when the caller has judged it already.
 */
function maskText(text: string, contentType: string, json = isJsonType(contentType) || looksLikeJson(text)): string {
  if (isFormType(contentType)) return maskJwts(maskForm(text));
  return maskJwts(json || isJsonStreamType(contentType) ? maskJsonText(text) : text);
}

function decoderFor(encoding: string): Array<() => Transform> {
  // Flush modes that give what a cut-off stream holds instead of failing on its missing end.
  const zlib = { finishFlush: constants.Z_SYNC_FLUSH };
  switch (encoding) {
    case 'gzip':
    case 'x-gzip':
      return [() => createGunzip(zlib)];
    case 'deflate': // zlib-wrapped as the RFC says, or raw as some servers send it
      return [() => createInflate(zlib), () => createInflateRaw(zlib)];
    case 'br':
      return [() => createBrotliDecompress({ finishFlush: constants.BROTLI_OPERATION_FLUSH })];
    default:
      return [];
  }
}

/** Up to `cap` decoded bytes, or undefined when the bytes do not decode. Asynchronous: zlib works off the event loop. */
function inflate(make: () => Transform, bytes: Buffer, cap: number): Promise<{ bytes: Buffer; cut: boolean } | undefined> {
  return new Promise((resolve) => {
    const decoder = make();
    const chunks: Buffer[] = [];
    let kept = 0;
    const done = (cut: boolean) => resolve({ bytes: Buffer.concat(chunks, kept), cut });
    decoder.on('data', (chunk: Buffer) => {
      const room = cap - kept;
      chunks.push(chunk.subarray(0, room));
      kept += Math.min(room, chunk.length);
      // Past the cap the rest is not needed, and a small bomb must not inflate into memory.
      if (chunk.length > room) {
        decoder.destroy();
        done(true);
      }
    });
    decoder.on('end', () => done(false));
    decoder.on('error', () => resolve(undefined));
    decoder.end(bytes);
  });
}

/** Bytes checked for control characters by looksPlain: past these, compressed data has always shown one. */
const PLAIN_PREFIX = 64;

/**
 * Whether bytes declared compressed are in fact the plain body: valid UTF-8 with no control character
 * but tab and line breaks near its start. That is what a compression middleware mounted before this
 * one leaves us (the app's bytes, the header already set). Raw deflate and brotli have no header to
 * check, so such bytes sometimes "decoded" into garbage ({"a":1} as deflate) or into nothing ([] as
 * br). Compressed output is not text: of 3,509 JSON and text bodies (2 to 720 bytes) gzip, deflate,
 * raw deflate and brotli each made none that passes this check.
 */
function looksPlain(bytes: Buffer): boolean {
  if (!isUtf8(bytes)) return false;
  const end = Math.min(bytes.length, PLAIN_PREFIX);
  for (let i = 0; i < end; i++) {
    const byte = bytes[i] as number;
    if ((byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) || byte === 0x7f) return false;
  }
  return true;
}

/**
 * A recorded body as Moesif takes it, its Content-Encoding (gzip, deflate, br) undone first, so a
 * compressed JSON body is readable and masked like any other instead of going out as base64 that
 * anyone can decompress, credentials and all. Bytes that are plain text already (looksPlain), or do
 * not decode under their declared encoding, are taken as they are: recorded beneath a compression
 * middleware (mounted before this one), the app's bytes are still plain while the header already
 * says gzip.
 */
function decodeRecorded(
  bytes: Buffer,
  total: number,
  contentType: string,
  contentEncoding: string,
  cap: number,
): EncodedBody | Promise<EncodedBody> {
  const encoding = contentEncoding.trim().toLowerCase();
  const decoders = total > 0 && encoding !== '' && encoding !== 'identity' ? decoderFor(encoding) : [];
  // Synchronous when there is nothing to decode (most bodies), so no promise is made for them.
  if (decoders.length === 0 || looksPlain(bytes)) return encodeRaw(bytes, total, contentType);
  return (async () => {
    for (const make of decoders) {
      const decoded = await inflate(make, bytes, cap);
      // Whole only when every compressed byte was kept and its output fitted the cap.
      if (decoded) return encodeRaw(decoded.bytes, decoded.bytes.length + (decoded.cut || total > bytes.length ? 1 : 0), contentType);
    }
    return encodeRaw(bytes, total, contentType);
  })();
}

/** The most bytes a JSON number takes: a double's shortest form, sign and exponent included. */
const NUMBER_BYTES = 24;

/**
 * An upper bound of the UTF-8 bytes of `JSON.stringify(value)`, for what maskFields returns (plain
 * objects and arrays of JSON values), or Infinity for anything else (a Buffer, a BigInt); it stops
 * counting once past `limit`. A character of a string counts 6 bytes (its longest form, a \uXXXX
 * escape). Parsed bodies are mostly far below the cap, and serializing each one only to measure it
 * cost as much as a third of serializing the whole event (issue 18).
 */
function jsonBytesAtMost(value: unknown, limit: number): number {
  switch (typeof value) {
    case 'string':
      return 2 + 6 * value.length;
    case 'number':
      return NUMBER_BYTES;
    case 'boolean':
      return 5;
    case 'undefined':
    case 'function':
    case 'symbol':
      return 4; // null in an array, left out of an object
    case 'object':
      break;
    default:
      return Infinity; // a BigInt, which JSON cannot hold
  }
  if (value === null) return 4;
  let bytes = 2;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && bytes <= limit; i++) bytes += 1 + jsonBytesAtMost(value[i], limit - bytes);
    return bytes;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return Infinity;
  const fields = value as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    bytes += 4 + 6 * key.length + jsonBytesAtMost(fields[key], limit - bytes);
    if (bytes > limit) break;
  }
  return bytes;
}

/**
 * A body a parser already produced (`req.body`): objects are masked and kept when their JSON fits
 * the cap, else cut to the cap as text; strings and Buffers go through the same cap.
 */
export function encodeParsed(value: unknown, cap: number, contentType: string): EncodedBody {
  if (value === undefined || value === null) return {};
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return encodeRaw(bytes.subarray(0, cap), bytes.length, contentType);
  }
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    // A text parser's string (a form a webhook reads as text to check its signature, an event
    // stream) is masked as the same body recorded from the stream; its token= went out as sent.
    if (bytes.length <= cap) return { body: maskText(value, contentType) };
    return encodeRaw(bytes.subarray(0, cap), bytes.length, contentType);
  }
  if (typeof value === 'object') {
    // An empty object is what some parsers leave when there was no body at all.
    if (!Array.isArray(value) && Object.keys(value).length === 0) return {};
    let masked: unknown;
    let json: string;
    try {
      masked = maskFields(value, 0, new Set());
      if (jsonBytesAtMost(masked, cap) <= cap) return { body: masked };
      json = JSON.stringify(masked);
    } catch {
      // A getter of the app's object that throws, or a value JSON cannot hold (a BigInt).
      return {};
    }
    if (Buffer.byteLength(json, 'utf8') <= cap) return { body: masked };
    const bytes = Buffer.from(json, 'utf8');
    return encodeRaw(bytes.subarray(0, cap), bytes.length, 'text/plain');
  }
  return { body: value };
}

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
