/**
 * The Web's Request and Response (route handlers, global fetch) as the recording of node:http's
 * calls takes them: a body's first bytes in a BodyRecorder, and headers as Node's header objects.
 */
import { BodyRecorder } from './body.js';

/** A body's first bytes, and whether what was read is all of it. */
export interface Recorded {
  recorder: BodyRecorder;
  ended: boolean;
}

/**
 * Reads the first `cap` bytes of `body`, a stream of capture's own (a clone's: the app's branch
 * flows on). Cancelled past the cap, or when `stop` aborts, so that the other branch is not held to
 * capture's pace and an upload or download is never buffered whole a second time.
 */
export async function readFirstBytes(body: ReadableStream<Uint8Array> | null, cap: number, stop?: AbortSignal): Promise<Recorded> {
  const recorder = new BodyRecorder(cap);
  if (!body) return { recorder, ended: true };
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const cancel = () => reader?.cancel().catch(() => {});
  stop?.addEventListener('abort', cancel);
  try {
    reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      // A read that `stop` cancelled ends as done too, without the body's end.
      if (done) return { recorder, ended: !stop?.aborted };
      recorder.add(value);
      if (recorder.total() > cap) break;
    }
  } catch {
    // The upload or download failed or was aborted, or the body was used already: recorded as far as it came.
  } finally {
    stop?.removeEventListener('abort', cancel);
  }
  cancel();
  return { recorder, ended: false };
}

/** A Web Headers as Node's header objects are, repeated names (Set-Cookie) as arrays, for flattenHeaders. */
export function rawHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  // forEach, not for...of: the DOM's Headers is iterable only with the DOM.Iterable library.
  headers.forEach((value, name) => {
    const before = out[name];
    out[name] = before === undefined ? value : [...[before].flat(), value];
  });
  return out;
}
