/**
 * Outgoing calls made with Node's global `fetch` (undici), which does not go through node:http: the
 * OpenAI and Anthropic SDKs, Next.js's server code and most code written since Node 18 call APIs this
 * way. moesif-nodejs 3.11 does not capture them. Each call is logged as outgoing.ts logs node:http's:
 * the same event, hooks and options, once its answer's body has been read, or when it failed (599).
 *
 * How, and what it costs the app:
 * - The app's arguments go to fetch untouched, and the app gets a promise settled as fetch's (the same
 *   Response, the same error). URL, method and headers are read from a Request built as fetch builds
 *   one; a body the app gave as a value (a string, bytes, URLSearchParams, a Blob, FormData) is read
 *   from that Request, and a Request's body from a clone. A body the app streams (a ReadableStream, an
 *   async iterable) is left to fetch alone and not recorded.
 * - The answer's body is read from a clone, its first responseMaxBodySize bytes, then the clone is
 *   cancelled: the app's branch flows on, and holds at most those bytes ahead of the app's reading. A
 *   clone is not the app's body, so a body the app cancels is still read by capture up to that size,
 *   or up to maxOutgoingTimeout, after which the call is logged with what was read, marked truncated.
 * - Answers read as they arrive (server-sent events, NDJSON: a model's streamed answer) are logged
 *   when their headers come, without a body, and capture never reads them: a clone would keep the
 *   upstream's stream open after the app stopped reading it.
 * - The body is recorded as fetch gave it to the app, decoded: the Content-Encoding header stays in
 *   the event's headers, as the upstream sent it.
 */
import { maskUrl, type EncodedBody } from './body.js';
import type { Recording } from './event.js';
import { isCollectorCall, logOutgoing, NO_ANSWER, type OutgoingExchange } from './outgoing-event.js';
import { rawHeaders, readFirstBytes, type Recorded } from './web-body.js';

/** Answers read as they arrive: logged without a body, and never read by capture. */
const STREAMING = /event-stream|ndjson/i;

/** One call to fetch while it runs. */
export interface FetchCall {
  readonly recording: Recording;
  readonly startedAt: number;
  /** The request as fetch sends it, without a body the app streams (see requestOf). */
  readonly request: Request;
  readonly requestBody: Promise<Recorded> | undefined;
  /** Aborted at maxOutgoingTimeout: capture stops reading the bodies' copies then. */
  readonly timeout: AbortController;
  readonly timer: ReturnType<typeof setTimeout>;
  /** Logged, or being logged once the answer's body is read. */
  done: boolean;
}

/** Starts recording a call to fetch with these arguments; undefined for calls that are not logged. */
export function startFetch(recording: Recording, input: unknown, init: RequestInit | undefined): FetchCall | undefined {
  const { options } = recording;
  let request: Request;
  let body: ReadableStream<Uint8Array> | null;
  try {
    ({ request, body } = requestOf(input, init));
  } catch {
    // Arguments fetch rejects itself (a relative URL, a GET with a body): it says so to the app.
    return undefined;
  }
  if (isCollectorCall((name) => request.headers.has(name), new URL(request.url).host)) return undefined;
  const timeout = new AbortController();
  const call: FetchCall = {
    recording,
    startedAt: Date.now(),
    request,
    requestBody: options.logBody && body ? readFirstBytes(body, options.requestMaxBodySize, timeout.signal) : undefined,
    timeout,
    timer: setTimeout(() => {
      timeout.abort();
      // No answer yet: logged as moesif-nodejs logs a call that timed out. An answer that came is
      // logged when the read of its body, cancelled just now, gives up.
      if (!call.done) end(call, undefined, undefined);
    }, options.maxOutgoingTimeout),
    done: false,
  };
  call.timer.unref?.();
  return call;
}

/**
 * The promise the app gets for fetch's `result`: settled as it is, one step later, so that capture
 * takes its clone of the answer's body before the app can read the body.
 */
export function followFetch(call: FetchCall, result: Promise<Response>): Promise<Response> {
  return result.then(
    (response) => {
      try {
        answered(call, response);
      } catch {
        // A mocked fetch that resolved to no Response: not a call to log.
        call.done = true;
        clearTimeout(call.timer);
      }
      return response;
    },
    (error: unknown) => {
      end(call, undefined, undefined);
      throw error;
    },
  );
}

/** The types of body the app hands fetch as a value, which a Request built by capture can read too. */
function isValueBody(body: unknown): boolean {
  return (
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof FormData
  );
}

/**
 * The Request fetch will send, built from the app's arguments as fetch builds it (URL resolved, method
 * normalized, the Content-Type a body implies), and the stream to read its body from: the built
 * Request's for a value in `init.body`, a clone's for a Request's own body (building a Request from
 * another would take that body away from the app's), none for a body the app streams.
 */
function requestOf(input: unknown, init: RequestInit | undefined): { request: Request; body: ReadableStream<Uint8Array> | null } {
  const given = input instanceof Request ? input : undefined;
  const initBody = init?.body;
  const valueBody = initBody != null && isValueBody(initBody) ? initBody : null;
  const request = new Request(given ? given.url : (input as string | URL), {
    method: init?.method ?? given?.method,
    headers: init?.headers ?? given?.headers,
    body: valueBody,
  });
  if (valueBody !== null) return { request, body: request.body };
  // A Request's body goes out unless init gives another; bodyUsed: fetch rejects it, and says so.
  const ownBody = given && initBody == null && given.body !== null && !given.bodyUsed;
  return { request, body: ownBody ? given.clone().body : null };
}

/** The answer came: its body is read from a clone unless it streams, then the call is logged. */
function answered(call: FetchCall, response: Response): void {
  if (call.done) return;
  const { options } = call.recording;
  const streaming = STREAMING.test(response.headers.get('content-type') ?? '');
  const copy = options.logBody && !streaming ? bodyCopy(response) : null;
  end(call, response, copy ? readFirstBytes(copy, options.responseMaxBodySize, call.timeout.signal) : undefined);
}

/** A clone's body to read the answer from; null when it has none, or when a fetch wrapped inside ours gave one already read. */
function bodyCopy(response: Response): ReadableStream<Uint8Array> | null {
  try {
    return response.body === null ? null : response.clone().body;
  } catch {
    return null;
  }
}

/** Logs the call once: with no answer (`response` undefined), or once the answer's body is read. */
function end(call: FetchCall, response: Response | undefined, responseBody: Promise<Recorded> | undefined): void {
  if (call.done) return;
  call.done = true;
  logOutgoing(call.recording, exchange(call, response, responseBody));
}

async function exchange(call: FetchCall, response: Response | undefined, responseBody: Promise<Recorded> | undefined): Promise<OutgoingExchange> {
  const { request } = call;
  const requestRecorded = await call.requestBody;
  const responseRecorded = await responseBody;
  clearTimeout(call.timer);
  const endedAt = Date.now();
  const requestHeaders = rawHeaders(request.headers);
  return {
    startedAt: call.startedAt,
    endedAt,
    url: maskUrl(request.url),
    method: request.method,
    requestHeaders,
    requestBody: await encoded(requestRecorded, request.headers, request.headers.get('content-encoding') ?? ''),
    status: response?.status ?? NO_ANSWER,
    responseHeaders: response ? rawHeaders(response.headers) : {},
    // fetch hands the app the body decoded, and that is what the clone read.
    responseBody: await encoded(responseRecorded, response?.headers, ''),
  };
}

async function encoded(recorded: Recorded | undefined, headers: Headers | undefined, contentEncoding: string): Promise<EncodedBody> {
  if (!recorded) return {};
  return recorded.recorder.decode({ ended: recorded.ended, contentType: headers?.get('content-type') ?? '', contentEncoding });
}
