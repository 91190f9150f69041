import type { Body } from './types.js';

/**
 * C0 control characters other than tab, line feeds and carriage return, or U+FFFD, which the decoder
 * puts for bytes that are not UTF-8: text that has them is binary.
 */
const BINARY = /[\0-\b\x0e-\x1f\ufffd]/;

/**
 * How long capture reads its copy of a body. A body still streaming then (a generated answer, a
 * download on a slow line, one the app dropped without cancelling) is recorded as far as it came,
 * marked truncated, and capture's copy is cancelled, so that it never keeps the connection open.
 */
export const BODY_WAIT_MS = 2000;

/**
 * Bytes as the event carries them: JSON parsed, other UTF-8 text as a string, anything else base64
 * with `transfer_encoding: 'base64'` (Moesif's encoding for binary bodies). A cut body ends mid-way,
 * so it stays text (or base64) rather than half-parsed JSON.
 */
export function decode(bytes: Uint8Array, cut: boolean): Body {
  // `stream` holds back a multi-byte character split by the cut instead of decoding it as U+FFFD.
  const text = new TextDecoder().decode(bytes, { stream: cut });
  if (BINARY.test(text)) {
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return { body: btoa(binary), transfer_encoding: 'base64' };
  }
  try {
    return { body: cut ? text : JSON.parse(text) };
  } catch {
    return { body: text }; // text that is not JSON
  }
}

/**
 * Capture's own copy of a streamed body (a Request's or a Response's, taken with `clone()` before
 * anyone reads the original), read later. `release` cancels it: when the app drops its own body,
 * when the read took too long. A released copy is recorded as far as it was read, as truncated.
 */
export interface Copy {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  released?: boolean;
  release(): void;
}

/** A copy of the body of `source`, or nothing when it has none. Never throws. */
export function copyBody(source: Request | Response): Copy | undefined {
  try {
    const reader = source.body && source.clone().body?.getReader();
    if (!reader) return;
    const copy: Copy = {
      reader,
      release() {
        copy.released = true;
        // Cancelling our branch of a clone leaves the app's branch flowing; with both cancelled the
        // browser closes the connection.
        reader.cancel().catch(() => {});
      },
    };
    return copy;
  } catch {
    return; // a body already used or locked: logged without it
  }
}

/** Reads at most `max` bytes of a copy, for BODY_WAIT_MS at most; then lets it go. */
async function readCopy(copy: Copy, max: number): Promise<[Uint8Array, boolean]> {
  const timer = setTimeout(copy.release, BODY_WAIT_MS);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (let chunk; size <= max && !(chunk = await copy.reader.read()).done; size += chunk.value.length) chunks.push(chunk.value);
  } finally {
    clearTimeout(timer);
  }
  // More than we keep: our copy stops here (so a 5 MB download costs 64 KB), the app's flows on.
  if (size > max) copy.release();
  // Joined here rather than through a Blob: a Blob is a round trip to the browser's blob store,
  // which cost milliseconds per captured call.
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return [bytes, !!copy.released];
}

/** Puts the first `max` bytes into the event's part; gives back whether there were more. */
function keep(bytes: Uint8Array, cut: boolean, max: number, part: Body): boolean {
  cut ||= bytes.length > max;
  if (bytes.length) Object.assign(part, decode(bytes.subarray(0, max), cut));
  return cut;
}

/**
 * Reads at most `max` bytes of a body into `part` (none if it failed); gives back whether it was cut:
 * at once for a value, as a promise for a body that streams. `source` is a Copy (see copyBody), a
 * Request or Response (copied at once), or a value the app no longer owns: a string,
 * URLSearchParams, ArrayBuffer or view (cut before they are encoded or copied: at most `max + 1`
 * bytes, enough to tell that there was more; a character is at least one byte), a Blob or FormData.
 * A ReadableStream is never touched: it is the app's, and reading it would take it away from the
 * request it belongs to. A Document has no cheap serialization: left out. Never throws or rejects.
 */
export function readBody(source: unknown, max: number, part: Body): boolean | Promise<boolean> {
  try {
    if (source == null || source instanceof ReadableStream || source instanceof Document) return false;
    if (typeof source == 'string' || source instanceof URLSearchParams) return keep(new TextEncoder().encode(String(source).slice(0, max + 1)), false, max, part);
    if (source instanceof ArrayBuffer || ArrayBuffer.isView(source))
      return keep(new Uint8Array((source as ArrayBufferView).buffer || source, (source as ArrayBufferView).byteOffset, Math.min(source.byteLength, max + 1)), false, max, part);
    // A Copy; a Request or Response (copied now); a Blob or FormData, read through a Response of them
    // (a Blob's bytes are not copied to make it; FormData's multipart encoding is the browser's to make).
    const copy = (source as Copy).reader
      ? (source as Copy)
      : copyBody(source instanceof Request || source instanceof Response ? source : new Response(source as BodyInit));
    // An aborted or failed body is logged without it.
    return copy ? readCopy(copy, max).then(([bytes, cut]) => keep(bytes, cut, max, part), () => false) : false;
  } catch {
    return false;
  }
}
