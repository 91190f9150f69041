/**
 * Outgoing calls made with Node's global `fetch` (undici), which does not go through node:http: the
 * OpenAI and Anthropic SDKs, Next.js's server code and most code written since Node 18 call APIs this
 * way. moesif-nodejs 3.11 does not capture them. Each call is logged as outgoing.ts logs node:http's:
 * the same event, hooks and options, once its answer's body has been read, or when it failed (599).
 *
 * How, and what it costs the app:
 * - The app's arguments go to fetch untouched, and the app gets a promise settled as fetch's (the same
 *   Response, the same error). URL, method and headers are read from them as fetch reads them (see
 *   requestOf); a body the app gave as a value (a string, bytes, URLSearchParams, a Blob) is read from
 *   the value, and a Request's body from a clone. A body the app streams (a ReadableStream, an async
 *   iterable) is left to fetch alone and not recorded, nor is FormData (multipart, see body.ts).
 * - The answer's body is read from a clone, its first responseMaxBodySize bytes, then the clone is
 *   cancelled: the app's branch flows on, and holds at most those bytes ahead of the app's reading. A
 *   clone is not the app's body, so a body the app cancels is still read by capture up to that size,
 *   or up to maxOutgoingTimeout, after which the call is logged with what was read, marked truncated.
 * - Answers read as they arrive (server-sent events, NDJSON, JSON Lines: a model's streamed answer;
 *   GraphQL's incremental multipart/mixed) are logged when their headers come, without a body, and
 *   capture never reads them: a clone would keep the upstream's stream open after the app stopped
 *   reading it.
 * - The body is recorded as fetch gave it to the app, decoded: the Content-Encoding header stays in
 *   the event's headers, as the upstream sent it.
 * - The request's headers are recorded as undici sends them (sentRequest), fetch's own (User-Agent,
 *   Accept...) and an APM agent's trace headers among them: OpenTelemetry's undici instrumentation adds
 *   traceparent on undici's request, and dd-trace's fetch wrapper, inside ours when it was installed
 *   first, on a Request of its own; read from the app's arguments, neither was in the event.
 */
import { BodyRecorder } from './body.js';
import { isJsonStreamType } from './content-type.js';
import type { RawHeaders } from './headers.js';
import { maskUrl } from './masking.js';
import { isCollectorCall, logOutgoing, NO_ANSWER, type OutgoingExchange } from './outgoing-event.js';
import type { Recording } from './recording.js';
import { encodedBody, rawHeaders, readFirstBytes, type Reading, type Recorded } from './web-body.js';

/** One call to fetch while it runs. */
export interface FetchCall {
  readonly recording: Recording;
  readonly startedAt: number;
  /** The request as fetch sends it, without its body (see requestOf). */
  readonly request: Omit<OutgoingRequest, 'body'>;
  readonly requestBody: Reading | undefined;
  responseBody: Reading | undefined;
  /** undici's request for the call's first hop (see sentRequest), once undici made it. */
  sent: UndiciRequest | undefined;
  readonly timer: ReturnType<typeof setTimeout>;
  /** Logged, or being logged once the answer's body is read. */
  done: boolean;
}

/** Starts recording a call to fetch with these arguments; undefined for calls that are not logged. */
export function startFetch(recording: Recording, input: unknown, init: RequestInit | undefined): FetchCall | undefined {
  const { options } = recording;
  let outgoing: OutgoingRequest;
  try {
    outgoing = requestOf(input, init);
  } catch {
    // Arguments fetch rejects itself (a relative URL, a GET with a body): it says so to the app.
    return undefined;
  }
  const { body, ...request } = outgoing;
  if (isCollectorCall((name) => request.headers.has(name), request.url.host)) return undefined;
  const call: FetchCall = {
    recording,
    startedAt: Date.now(),
    request,
    requestBody: options.logBody && body !== null ? readRequestBody(body, options.requestMaxBodySize) : undefined,
    responseBody: undefined,
    sent: undefined,
    timer: setTimeout(() => {
      call.requestBody?.stop();
      call.responseBody?.stop();
      // No answer yet: logged as moesif-nodejs logs a call that timed out. An answer that came is
      // logged when the read of its body, stopped just now, gives up.
      if (!call.done) end(call, undefined);
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
      end(call, undefined);
      throw error;
    },
  );
}

/**
 * What undici's 'undici:request:create' diagnostics channel carries of a request: its header list
 * as it will be written, `[name, value, name, value...]` (undici 6 and later; a value may be an
 * array) or `'name: value\r\n'` lines (undici 5, in Node 20's first releases). Agents add
 * theirs to it (`request.addHeader()`) in their own subscriber, before or after ours.
 */
export interface UndiciRequest {
  readonly headers?: unknown;
}

/**
 * undici made the request for `call` (outgoing.ts tells it by the async context of our fetch wrapper).
 * The first one is kept: a followed redirect makes one per hop, and the event has the URL the app called.
 */
export function sentRequest(call: FetchCall, request: UndiciRequest | undefined): void {
  call.sent ??= request;
}

/** The headers of undici's request, read when the call is logged (every subscriber has added its own); undefined when its list is not one undici makes. */
function sentHeaders(request: UndiciRequest | undefined): RawHeaders | undefined {
  const list = request?.headers;
  const headers: RawHeaders = {};
  const add = (name: string, value: unknown) => {
    const key = name.toLowerCase();
    const values = [headers[key] ?? [], value].flat().map(String);
    headers[key] = values.length === 1 ? (values[0] as string) : values;
  };
  if (Array.isArray(list)) for (let i = 0; i + 1 < list.length; i += 2) add(String(list[i]), list[i + 1]);
  else if (typeof list === 'string') {
    for (const line of list.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) add(line.slice(0, colon), line.slice(colon + 1).trim());
    }
  } else return undefined;
  return headers;
}

/** Where capture reads a request body from: the value the app gave, or a stream of capture's own. */
type RequestBody = string | URLSearchParams | ArrayBuffer | ArrayBufferView | Blob | ReadableStream<Uint8Array> | null;

/** What is recorded of the request a call to fetch sends. */
interface OutgoingRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Headers;
  readonly body: RequestBody;
}

/** The Content-Type fetch sends with a body given as a value, when the app set none (the Fetch standard's "extract a body"). */
function impliedType(body: unknown): string | undefined {
  if (typeof body === 'string') return 'text/plain;charset=UTF-8';
  // Without the boundary, which fetch makes as it writes the body: the event has it from undici's request (sentHeaders).
  if (body instanceof FormData) return 'multipart/form-data';
  if (body instanceof URLSearchParams) return 'application/x-www-form-urlencoded;charset=UTF-8';
  if (body instanceof Blob) return body.type || undefined;
  return undefined;
}

/** A normalized method's spelling (the Fetch standard's list); other methods are sent as the app spells them. */
const NORMALIZED_METHODS = /^(DELETE|GET|HEAD|OPTIONS|POST|PUT)$/i;

/**
 * The request as fetch will send it (URL resolved, method normalized, the Content-Type a body implies),
 * read from the app's arguments as fetch reads them, and where its body is read from. No Request is
 * built for this, nor a stream for a body the app gave as a value: each cost a call about as much as
 * the rest of its recording (Node makes every Web stream transferable, and every Request its own
 * AbortSignal). FormData is not read: multipart bodies are never recorded (body.ts), and its boundary
 * is made only as fetch writes it out. A Request's own body is read from a clone (it goes out unless
 * init gives another). A body the app streams is not read.
 */
function requestOf(input: unknown, init: RequestInit | undefined): OutgoingRequest {
  const given = input instanceof Request ? input : undefined;
  const initBody = init?.body;
  const asked = init?.method ?? given?.method ?? 'GET';
  const method = NORMALIZED_METHODS.test(asked) ? asked.toUpperCase() : asked;
  // The body init gives, or the Request's own (fetch(postRequest, { method: 'GET' }) is refused too).
  const sendsBody = initBody != null || (given !== undefined && given.body !== null);
  if (sendsBody && (method === 'GET' || method === 'HEAD')) throw new TypeError('fetch refuses a body with GET or HEAD');
  // As fetch: a URL, or a string (absolute: Node has no base URL); one with credentials is refused.
  const url = new URL(given ? given.url : input instanceof URL ? input.href : String(input));
  if (url.username || url.password) throw new TypeError('fetch refuses a URL with credentials');
  const headers = new Headers(init?.headers ?? given?.headers);
  if (initBody != null) {
    // duplex is Node's (undici's RequestInit), not in the global RequestInit type.
    const { duplex } = init as { duplex?: unknown };
    if (isStreamedBody(initBody) && duplex == null) throw new TypeError("fetch refuses a streamed body without duplex: 'half'");
    const type = impliedType(initBody);
    if (type && !headers.has('content-type')) headers.set('content-type', type);
    return { url, method, headers, body: isValueBody(initBody) ? initBody : null };
  }
  // clone() throws, as fetch refuses, for a Request whose body was read already (sent by an earlier
  // fetch): that call never goes out, and is not logged.
  return { url, method, headers, body: given && given.body !== null ? given.clone().body : null };
}

/** A body the app streams (a ReadableStream, an async iterable such as a Node stream), which Node's fetch takes only with duplex: 'half'. */
function isStreamedBody(body: unknown): boolean {
  return body instanceof ReadableStream || (typeof body === 'object' && body !== null && Symbol.asyncIterator in body);
}

/** The types of body the app hands fetch as a value. */
function isValueBody(body: unknown): body is Exclude<RequestBody, ReadableStream<Uint8Array> | null> {
  return typeof body === 'string' || body instanceof URLSearchParams || body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof Blob;
}

/** Reads a request body's first `cap` bytes from where requestOf found it. */
function readRequestBody(body: Exclude<RequestBody, null>, cap: number): Reading {
  if (body instanceof ReadableStream) return readFirstBytes(body, cap);
  const recorder = new BodyRecorder(cap);
  const recorded = async (): Promise<Recorded> => {
    if (body instanceof Blob) recorder.add(new Uint8Array(await body.slice(0, cap + 1).arrayBuffer()));
    else if (body instanceof ArrayBuffer) recorder.add(new Uint8Array(body));
    else if (ArrayBuffer.isView(body)) recorder.add(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    else recorder.add(String(body));
    return { recorder, ended: true };
  };
  return { recorded: recorded(), stop() {} };
}

/** The answer came: its body is read from a clone unless it streams, then the call is logged. */
function answered(call: FetchCall, response: Response): void {
  if (call.done) return;
  const { options } = call.recording;
  // Read as they arrive (the streams of JSON values body.ts knows: events, NDJSON, JSON Lines, GraphQL's multipart/mixed): never read by capture.
  const streaming = isJsonStreamType(response.headers.get('content-type') ?? '');
  const copy = options.logBody && !streaming ? bodyCopy(response) : null;
  if (copy) call.responseBody = readFirstBytes(copy, options.responseMaxBodySize);
  end(call, response);
}

/** A clone's body to read the answer from; null when it has none, or when a fetch wrapped inside ours gave one already read. */
function bodyCopy(response: Response): ReadableStream<Uint8Array> | null {
  try {
    return response.body === null ? null : response.clone().body;
  } catch {
    return null;
  }
}

/** Logs the call once: with no answer (`response` undefined), or once the bodies being read are. */
function end(call: FetchCall, response: Response | undefined): void {
  if (call.done) return;
  call.done = true;
  logOutgoing(call.recording, exchange(call, response));
}

async function exchange(call: FetchCall, response: Response | undefined): Promise<OutgoingExchange> {
  const { request } = call;
  const requestRecorded = await call.requestBody?.recorded;
  const responseRecorded = response ? await call.responseBody?.recorded : undefined;
  clearTimeout(call.timer);
  return {
    startedAt: call.startedAt,
    endedAt: Date.now(),
    url: maskUrl(request.url.href),
    method: request.method,
    requestHeaders: sentHeaders(call.sent) ?? rawHeaders(request.headers),
    requestBody: await encodedBody(requestRecorded, request.headers),
    status: response?.status ?? NO_ANSWER,
    responseHeaders: response ? rawHeaders(response.headers) : {},
    // fetch hands the app the body decoded, and that is what the clone read.
    responseBody: await encodedBody(responseRecorded, response?.headers, ''),
  };
}
