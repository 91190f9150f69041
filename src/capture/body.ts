import type { Body } from './types.js';

/**
 * C0 control characters other than tab, line feeds and carriage return, or U+FFFD, which the decoder
 * puts for bytes that are not UTF-8: text that has them is binary.
 */
const BINARY = /[\0-\b\x0e-\x1f\ufffd]/;

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
 * Reads at most `max` bytes of a body and stops the stream there, so a 5 MB download costs 64 KB.
 * `source` is a Request or Response (read from a clone taken now, before anyone reads the original),
 * or a value (string, Blob, FormData, ArrayBuffer...) that `new Response()` copies. A ReadableStream
 * is never touched: it is the app's, and reading it would take it away from the request it belongs
 * to. A Request built on one (a streaming upload, which only Chromium sends) cannot be told from a
 * Request built on a string, so its clone is read: the tee then pulls the app's stream ahead of the
 * upload (nothing is lost or changed on the wire). A Document has no cheap serialization: left out. The body (none if it failed) goes into `part`;
 * resolves to whether it was cut. Never rejects.
 */
export async function readBody(source: unknown, max: number, part: Body): Promise<boolean> {
  try {
    // Nothing to read is the common case (a GET): checked, not thrown, since an exception per call
    // (an Error with its stack) is what a profile showed as most of capture's cost.
    const reader = (
      source instanceof Request || source instanceof Response
        ? source.body && source.clone()
        : source == null || source instanceof ReadableStream || source instanceof Document
          ? null
          : new Response(source as BodyInit)
    )?.body?.getReader();
    if (!reader) return false;
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (let chunk; size <= max && !(chunk = await reader.read()).done; size += chunk.value.length) chunks.push(chunk.value);
    // Cancelling our branch of a clone leaves the app's branch flowing.
    if (size > max) reader.cancel().catch(() => {});
    // Joined here rather than through a Blob: a Blob is a round trip to the browser's blob store,
    // which cost milliseconds per captured call.
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    if (size) Object.assign(part, decode(bytes.subarray(0, max), size > max));
    return size > max;
  } catch {
    // An aborted or failed body is logged without it.
    return false;
  }
}
