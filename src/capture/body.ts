import type { Body } from './types.js';

/**
 * C0 control characters but the whitespace ones (tab, line feed, vertical tab, form feed, carriage
 * return: 0x09 to 0x0d), or U+FFFD, which the decoder puts for bytes that are not UTF-8: text that has
 * them is binary.
 */
const BINARY = /[\0-\b\x0e-\x1f\ufffd]/;

/**
 * How long capture reads its copy of a body. A body still streaming then (a generated answer, a
 * download on a slow line, one the app dropped without cancelling) is recorded as far as it came,
 * marked truncated, and capture's copy is cancelled, so that it never keeps the connection open.
 */
export const BODY_WAIT_MS = 2000;

/** Binary bytes as the event carries them: base64, with `transfer_encoding: 'base64'` (Moesif's encoding). */
function base64(bytes: Uint8Array): Body {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return { body: btoa(binary), transfer_encoding: 'base64' };
}

/** Text as the event carries it: JSON parsed, other text as a string. A cut text stays text rather than half-parsed JSON. */
function textBody(text: string, cut: boolean): Body {
  try {
    return { body: cut ? text : JSON.parse(text) };
  } catch {
    return { body: text }; // text that is not JSON
  }
}

/** Bytes as the event carries them: UTF-8 text as `textBody` keeps it, anything else as `base64`. */
export function decode(bytes: Uint8Array, cut: boolean): Body {
  // `stream` holds back a multi-byte character split by the cut instead of decoding it as U+FFFD.
  const text = new TextDecoder().decode(bytes, { stream: cut });
  return BINARY.test(text) ? base64(bytes) : textBody(text, cut);
}

/**
 * Capture's own copy of a streamed body (a Request's or a Response's, taken with `clone()` before
 * anyone reads the original), read later. `release` cancels it: when the app drops its own body (after
 * what the app got of it is read, see `stopAt`), when the read took too long. A released copy is
 * recorded as far as it was read, as truncated.
 */
export interface Copy {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  released?: boolean;
  release(): void;
  /**
   * What has been read of it, in order (made when reading starts: a Request's copy is taken on the
   * call path, which gains no allocation), and its size in bytes.
   */
  chunks?: Uint8Array[];
  size: number;
  /** Bytes to read at most: the cap once the event is built, what the app got once it cancelled. */
  until: number;
  /** The read under way or done: one at a time, so that the chunks stay in order. */
  reading?: Promise<void>;
}

/** Whether `source` is a Copy (see copyBody). */
export const isCopy = (source: unknown): source is Copy => !!(source as Copy | undefined)?.reader;

/** A copy of the body of `source`, made with `clone` (its own clone() by default), or nothing when it has none. Never throws. */
export function copyBody(source: Request | Response, clone: Function = source.clone): Copy | undefined {
  try {
    // Never `source.body` first: on a captured Response that is capture's own getter, which takes its copy
    // with this very function (see `bodies` in fetch.ts). A clone of a response without a body has none.
    const reader = (clone.call(source) as Request | Response).body?.getReader();
    if (!reader) return;
    const copy: Copy = {
      reader,
      size: 0,
      until: Infinity,
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

/** Reads a copy until it holds `limit` bytes (or `until`, if fewer), or ends; a released copy's reads are done. */
function pump(copy: Copy, limit: number): Promise<void> {
  copy.until = Math.min(copy.until, limit);
  return (copy.reading ??= (async () => {
    const chunks: Uint8Array[] = (copy.chunks = []);
    while (copy.size < copy.until) {
      const { done, value } = await copy.reader.read();
      if (done) break;
      chunks.push(value);
      copy.size += value.length;
    }
  })());
}

/**
 * The app cancelled its body after getting `bytes` of it: the copy keeps those and lets the rest go.
 * A clone's two branches get each chunk as either pulls it, so the copy holds what the app got (and
 * reading it pulls nothing more from the network): read at once, it is recorded. Apollo Client cancels
 * a multipart answer (@defer) once it has read its last part, before the stream says it is done; the
 * event lost the whole answer when the copy was cancelled unread.
 */
export function stopAt(copy: Copy, bytes: number): void {
  if (copy.size >= bytes) return copy.release();
  pump(copy, bytes).then(copy.release, copy.release);
}

/** Reads at most `max` bytes of a copy, for BODY_WAIT_MS at most; then lets it go. */
async function readCopy(copy: Copy, max: number): Promise<[Uint8Array, boolean]> {
  const timer = setTimeout(copy.release, BODY_WAIT_MS);
  try {
    await pump(copy, max + 1);
  } catch {
    // The body failed: the app aborted its fetch (Apollo Client does when a query is left while its
    // @defer parts come), or the connection dropped. Kept as far as it came, as cut.
    copy.released = true;
  } finally {
    clearTimeout(timer);
  }
  // More than we keep: our copy stops here (so a 5 MB download costs 64 KB), the app's flows on.
  if (copy.size > max) copy.release();
  // Joined here rather than through a Blob: a Blob is a round trip to the browser's blob store,
  // which cost milliseconds per captured call.
  const bytes = new Uint8Array(copy.size);
  let at = 0;
  for (const chunk of copy.chunks ?? []) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return [bytes, !!copy.released];
}

/** Puts the first `max` bytes into the event's part; gives back whether there were more, or the bytes were `cut` already. */
function keepBytes(bytes: Uint8Array, cut: boolean, max: number, part: Body): boolean {
  cut ||= bytes.length > max;
  if (bytes.length) Object.assign(part, decode(bytes.subarray(0, max), cut));
  return cut;
}

/**
 * `keepBytes` for text: a text of at most max / 3 UTF-16 units is at most `max` bytes, so it is kept as it
 * is, without encoding it to count its bytes and decoding it again (most API bodies); a longer one is
 * cut as bytes. Text with binary characters is base64 of its UTF-8 bytes, as `decode` gives.
 */
function keepText(text: string, max: number, part: Body): boolean {
  if (text.length * 3 > max) return keepBytes(new TextEncoder().encode(text.slice(0, max + 1)), false, max, part);
  if (text) Object.assign(part, BINARY.test(text) ? base64(new TextEncoder().encode(text)) : textBody(text, false));
  return false;
}

/**
 * The text the app read of a response (see the fetch patch), once its read ends. A read still under way
 * after BODY_WAIT_MS is left to the app: the event goes without its body, as cut.
 */
async function keepTextRead(read: Promise<string>, max: number, part: Body): Promise<boolean> {
  // Left to run out: it only settles a promise nobody waits for any more.
  const late = new Promise<undefined>((resolve) => setTimeout(resolve, BODY_WAIT_MS));
  const text = await Promise.race([read, late]);
  return text == null || keepText(text, max, part);
}

/**
 * Reads at most `max` bytes of a body into `part` (none if it failed); gives back whether it was cut:
 * at once for a value, as a promise for a body that streams. `source` is a Copy (see copyBody), the
 * app's own read of a response's text (a promise), or a value the app no longer owns: a string,
 * URLSearchParams, ArrayBuffer or view (cut before they are encoded or copied: at most `max + 1`
 * bytes, enough to tell that there was more; a character is at least one byte), a Blob or FormData,
 * or any other object, which the browser sends as its string (as a Response of it reads).
 * A ReadableStream is never touched: it is the app's, and reading it would take it away from the
 * request it belongs to. A Document has no cheap serialization: left out. Never throws or rejects.
 */
export function readBody(source: unknown, max: number, part: Body): boolean | Promise<boolean> {
  try {
    if (source == null || source instanceof ReadableStream || source instanceof Document) return false;
    if (typeof source == 'string' || source instanceof URLSearchParams) return keepText(String(source), max, part);
    // Told by its `then`, not `instanceof Promise`: a page's Promise may be another library's (zone.js puts
    // its own in place of the browser's, whose text() still gives the browser's promises).
    if (typeof (source as PromiseLike<string>).then == 'function') return keepTextRead(source as Promise<string>, max, part).catch(() => false);
    if (source instanceof ArrayBuffer) return keepBytes(new Uint8Array(source, 0, Math.min(source.byteLength, max + 1)), false, max, part);
    if (ArrayBuffer.isView(source)) return keepBytes(new Uint8Array(source.buffer, source.byteOffset, Math.min(source.byteLength, max + 1)), false, max, part);
    // A Copy; a Blob or FormData, read through a Response of them (a Blob's bytes are not copied to make
    // it; FormData's multipart encoding is the browser's to make). A Request's body was copied by `begin`.
    const copy = isCopy(source) ? source : copyBody(new Response(source as BodyInit));
    // An aborted or failed body is logged without it.
    return copy ? readCopy(copy, max).then(([bytes, cut]) => keepBytes(bytes, cut, max, part), () => false) : false;
  } catch {
    return false;
  }
}
