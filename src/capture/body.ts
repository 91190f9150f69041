import type { Body } from './types';

/** C0 control characters other than tab, line feeds and carriage return: text that has them is binary. */
const BINARY = /[\0-\b\x0e-\x1f]/;

/**
 * Bytes as the event carries them: JSON parsed, other UTF-8 text as a string, anything else base64
 * with `transfer_encoding: 'base64'` (Moesif's encoding for binary bodies). A cut body ends mid-way,
 * so it stays text (or base64) rather than half-parsed JSON.
 */
export function decode(bytes: Uint8Array, cut: boolean): Body {
  let text: string;
  try {
    // `stream` keeps a multi-byte character split by the cut from counting as invalid UTF-8.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: cut });
    if (BINARY.test(text)) throw 0;
  } catch {
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return { body: btoa(binary), transfer_encoding: 'base64', cut };
  }
  try {
    return { body: cut ? text : JSON.parse(text), cut };
  } catch {
    return { body: text, cut };
  }
}

/**
 * Reads at most `max` bytes of a body and stops the stream there, so a 5 MB download costs 64 KB.
 * `source` must be ours to consume: a clone, or a value (string, Blob, FormData, ArrayBuffer...) that
 * `new Response()` copies. A ReadableStream is never touched: it is the app's, and reading it would
 * take it away from the request it belongs to. A Document has no cheap serialization: left out.
 */
export async function readBody(source: unknown, max: number): Promise<Body> {
  try {
    const stream =
      source instanceof ReadableStream || source instanceof Document ? null : (source instanceof Request || source instanceof Response ? source : new Response(source as BodyInit | null)).body;
    if (!stream) return {};
    const reader = stream.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    while (size <= max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
    // Cancelling our branch of a clone leaves the app's branch flowing.
    if (size > max) reader.cancel().catch(() => {});
    // Joined here rather than through a Blob: a Blob is a round trip to the browser's blob store,
    // which cost milliseconds per captured call.
    const bytes = new Uint8Array(Math.min(size, max));
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk.subarray(0, bytes.length - offset), offset);
      offset += chunk.length;
      if (offset >= bytes.length) break;
    }
    return bytes.length ? decode(bytes, size > max) : {};
  } catch {
    // An aborted or failed body is logged without it.
    return {};
  }
}
