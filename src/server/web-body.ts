/**
 * The Web's Request and Response (route handlers, global fetch) as the recording of node:http's
 * calls takes them: a body's first bytes in a BodyRecorder, and headers as Node's header objects.
 */
import { BodyRecorder, type EncodedBody } from './body.js';

/** A body's first bytes, and whether what was read is all of it. */
export interface Recorded {
  recorder: BodyRecorder;
  ended: boolean;
}

/** A read of a body's first bytes under way; `stop()` ends it where it is, as a body cut short. */
export interface Reading {
  readonly recorded: Promise<Recorded>;
  stop(): void;
}

/**
 * Reads the first `cap` bytes of `body`, a stream of capture's own (a clone's: the app's branch flows
 * on), then cancels it, so that the other branch is not held to capture's pace and an upload or
 * download is never buffered whole a second time.
 */
export function readFirstBytes(body: ReadableStream<Uint8Array>, cap: number): Reading {
  const recorder = new BodyRecorder(cap);
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = body.getReader();
  } catch {
    // Locked: another reader has it, and nothing is recorded.
    return { recorded: Promise.resolve({ recorder, ended: false }), stop() {} };
  }
  let stopped = false;
  const stop = () => {
    stopped = true;
    reader.cancel().catch(() => {});
  };
  const read = async (): Promise<Recorded> => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        // A read that stop() cancelled ends as done too, without the body's end.
        if (done) return { recorder, ended: !stopped };
        recorder.add(value);
        if (recorder.total() > cap) break;
      }
    } catch {
      // The upload or download failed or was aborted: recorded as far as it came.
    }
    stop();
    return { recorder, ended: false };
  };
  return { recorded: read(), stop };
}

/**
 * A recorded body as the event carries it, typed by `headers`. `contentEncoding` is what the bytes are
 * still encoded with: the Content-Encoding header's, unless they were read decoded (a fetch answer).
 * A body whose end never came (a client that left, a failed upload or download) is cut.
 */
export async function encodedBody(
  recorded: Recorded | undefined,
  headers: Headers | undefined,
  contentEncoding = headers?.get('content-encoding') ?? '',
): Promise<EncodedBody> {
  if (!recorded) return {};
  return recorded.recorder.decode({ ended: recorded.ended, contentType: headers?.get('content-type') ?? '', contentEncoding });
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
