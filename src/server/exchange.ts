/**
 * Observing one incoming call while it happens: the request body as Node's parser pushes it, the
 * answer as the app gives it, and the moment it has finished (or its client left), when its event is
 * built (event.ts).
 *
 * Request body, the choice made: when a body parser ran (before or after us) its `req.body` is used,
 * as moesif-nodejs does. Otherwise the raw bytes are observed by wrapping `req.push`, the method
 * Node's HTTP parser calls for each chunk it receives. Unlike a 'data' listener this neither
 * switches the stream to flowing mode nor consumes anything: the app reads the stream exactly as
 * it would without us, and a body the app never reads is only buffered as Node already buffers it.
 */
import type { ServerHttp2Stream } from 'node:http2';
import type { Writable } from 'node:stream';
import { BodyRecorder } from './body.js';
import { buildEvent } from './event.js';
import type { RawHeaders } from './headers.js';
import { handOn, type Recording } from './recording.js';
import { firstHeaderValue, receivedUrl } from './request-origin.js';
import { TRANSACTION_ID_HEADER, takenTransactionId } from './transaction-id.js';
import type { MoesifRequest, MoesifResponse } from './types.js';

/**
 * The headers of a `writeHead(status, [message], [headers])` call: an object, or Node's flat
 * `[name, value, name, value...]` array. Undefined when none were given.
 */
function writeHeadHeaders(args: unknown[]): RawHeaders | undefined {
  const given = typeof args[1] === 'string' ? args[2] : args[1];
  if (Array.isArray(given)) {
    const out: RawHeaders = {};
    for (let i = 0; i + 1 < given.length; i += 2) {
      const name = String(given[i]).toLowerCase();
      const before = out[name];
      // A name may repeat in the array (two Set-Cookie lines): keep every value.
      out[name] = before === undefined ? String(given[i + 1]) : [...[before].flat().map(String), String(given[i + 1])];
    }
    return out;
  }
  if (given === null || typeof given !== 'object') return undefined;
  const out: RawHeaders = {};
  for (const [name, value] of Object.entries(given as RawHeaders)) out[name.toLowerCase()] = value;
  return out;
}

/**
 * What is kept of one request and its response while they happen, in one object. An event stream
 * stays open for hours, and this is kept that long for each client connected: kept as a dozen
 * closures, their contexts, two once() wrappers and body recorders made before any byte, it was
 * twice what moesif-nodejs keeps per open stream (bench/stream-memory.mjs).
 */
export interface Exchange {
  readonly req: MoesifRequest;
  readonly res: MoesifResponse;
  readonly recording: Recording;
  /** When the request came, as Date.now(). */
  readonly startedAt: number;
  /**
   * req.url as the app received it (receivedUrl): Express strips a router's mount path from req.url
   * while routing, and leaves it stripped when a route answers; the hooks, asked afterwards, get it
   * as received.
   */
  readonly url: string | undefined;
  /** The socket's address when the request came, while it is open (Node reads it once per connection and keeps it). */
  readonly socketAddress: string | undefined;
  /** The parser pushed the end of the request body (see wholeRequestBody in event.ts). */
  requestEnded: boolean;
  /** The call is being logged: nothing more is recorded. */
  done: boolean;
  /** Headers given to writeHead() that Node keeps out of getHeaders() (see noteHeadHeaders). */
  headHeaders: RawHeaders | undefined;
  /** Made at the first byte: most requests have none, and a recorder before any byte was kept for nothing. */
  requestBody: BodyRecorder | undefined;
  responseBody: BodyRecorder | undefined;
  /** Inside the app's end(), which may pass its chunk on to write() (a wrapper mounted before us). */
  ending: boolean;
  /** The id sent in X-Moesif-Transaction-Id (see offerTransactionId); undefined with disableTransactionId. */
  readonly transactionId: string | undefined;
}

export interface ExchangeObserver {
  /**
   * Start observing one request/response pair; a pair this observer already observes is left alone.
   * Synchronous and cheap: it only wraps methods, adds a listener and sets the transaction id's
   * response header (offerTransactionId); everything else happens after the response has been sent.
   */
  observe(req: MoesifRequest, res: MoesifResponse): void;
}

/** One per middleware: the listener it adds to every response is made here, once, not per request. */
export function createExchangeObserver(recording: Recording): ExchangeObserver {
  // Where the shared listeners find a response's exchange. One map per middleware: mounted twice on
  // overlapping paths (app and router), a middleware would otherwise log a call twice and record its
  // body twice; two middlewares each log it, as before. Not a property of the response: Express
  // switches the prototype of every response (to app.response), and V8 then gives each object its
  // own copy of the hidden class for every property added to it, about 3 µs and 1.5 KB each where a
  // WeakMap entry costs 0.1 µs (issue 18, bench/README.md "Server, fifteenth session").
  const exchanges = new WeakMap<MoesifResponse, Exchange>();
  const exchangeOf = (res: MoesifResponse): Exchange | undefined => exchanges.get(res);

  // 'close' comes once per response: after 'finish' (the answer was handed to the OS; node:http
  // emits it a tick later, node:http2's compatibility API right after), or before it when the client
  // went away. One listener for both: Node listens to 'finish' itself, and a second listener made
  // that an array on every response. If the client left after the answer had started, its status is
  // known and the call is logged now. If not, the app does not know and still answers (a slow call
  // is the one clients give up on): the call is logged when it calls end(), with its status and
  // body, instead of as the 200 Node starts with; or as 499 (nginx's "client closed request") if it
  // has not answered within ABANDONED_WAIT_MS. node:http2's compatibility API emits 'finish' and
  // 'close' together for a stream its client cancelled too (onStreamCloseResponse), so 'finish' says
  // nothing there: what does is whether the answer started (the stream's headersSent) or ended
  // (writableEnded), read the same way on both. Shared by every response, found by `this`.
  function onClose(this: MoesifResponse): void {
    const exchange = exchangeOf(this);
    if (!exchange || exchange.done) return;
    if (headSent(this) || this.writableEnded) complete(exchange);
    else awaitAnswer(exchange);
  }

  // The whole answer was handed on. A stub socket's write() calls back at once, so Node emits 'finish'
  // inside end(), before writableEnded turns true: the body has ended all the same.
  function onFinish(this: MoesifResponse): void {
    const exchange = exchangeOf(this);
    if (exchange && !exchange.done) complete(exchange, { ended: true });
  }

  return {
    observe(req, res) {
      if (exchangeOf(res)) return;
      const { options } = recording;
      const exchange: Exchange = {
        req,
        res,
        recording,
        startedAt: Date.now(),
        url: receivedUrl(req),
        socketAddress: req.socket?.remoteAddress,
        requestEnded: false,
        done: false,
        headHeaders: undefined,
        requestBody: undefined,
        responseBody: undefined,
        ending: false,
        transactionId: options.disableTransactionId ? undefined : offerTransactionId(req, res),
      };
      exchanges.set(res, exchange);
      let tapRequest = false;
      if (options.logBody) {
        // Mounted after an async middleware (a session lookup), Node has already pushed the first
        // chunks: recording the rest would pass the body's tail off as all of it. Then only a parser's
        // req.body is recorded.
        const missedChunks = req.readableLength > 0 || req.readableDidRead;
        // An HTTP/1 request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3): most
        // GETs, which then cost no wrapper. HTTP/2 frames bodies itself (node:http2's compatibility API).
        const hasBody =
          req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined || req.httpVersionMajor >= 2;
        tapRequest = !missedChunks && hasBody;
      }
      // node:http2's compatibility API hands every chunk to its stream, where an app may also write
      // itself (res.stream.write(), unseen on res): there each chunk is seen once, whoever wrote it.
      tapExchange(exchange, tapRequest, options.logBody ? (http2Stream(res) ?? res) : undefined);
      res.on('close', onClose);
      // A response no node:http server made gets no 'close' from Node: serverless adapters make their
      // own on a stub socket, and @codegenie/serverless-express (Lambda) never emits it, so none of its
      // calls was logged. Node's server listens to 'finish' before the app runs (resOnFinish); its
      // responses, and node:http2's (which emit 'close' themselves), keep the one listener.
      if (res.listenerCount('finish') === 0 && !http2Stream(res)) res.on('finish', onFinish);
    },
  };
}

/**
 * The call's transaction id, as moesif-nodejs 3.11 makes it (lib/index.js, before next()): the
 * client's X-Moesif-Transaction-Id when it sent one (a gateway that logs the same call to Moesif
 * passes its id, so that the two events are one), else a new UUID; set as a response header at once,
 * so that it leaves with the first byte of any answer, streamed or not, HTTP/1 or 2. Mounted after
 * something that already sent the headers, moesif-nodejs's setHeader() throws
 * (ERR_HTTP_HEADERS_SENT) and Express cuts the answer off; here the header is left out and the
 * event keeps the id.
 */
function offerTransactionId(req: MoesifRequest, res: MoesifResponse): string {
  const id = takenTransactionId(firstHeaderValue(req.headers[TRANSACTION_ID_HEADER]));
  if (!headSent(res) && typeof res.setHeader === 'function') res.setHeader(TRANSACTION_ID_HEADER, id);
  return id;
}

/**
 * Whether the response's head has gone out, as Node's own `headersSent` getter (node:http's or
 * node:http2's, on the prototype) says. @fastify/express, the plugin through which Fastify apps mount
 * this middleware, gives each response an own `headersSent` that says whether Express's res.send()
 * ran: false whenever Fastify answers, as it does for its routes. An event stream whose client left
 * then looked unanswered, and was logged 30 s later as 499 instead of as the 200 it had started.
 */
function headSent(res: MoesifResponse): boolean {
  const byNode: unknown = Reflect.get(Object.getPrototypeOf(res) ?? {}, 'headersSent', res);
  return typeof byNode === 'boolean' ? byNode : !!res.headersSent;
}

/** Recording is best effort: whatever happens in `record`, the app's call goes through. */
function safely(record: (exchange: Exchange, args: unknown[]) => void, exchange: Exchange, args: unknown[]): void {
  try {
    record(exchange, args);
  } catch {
    // Nothing to do: the call is logged with what was recorded.
  }
}

/** Typed loosely on purpose: a wrapper forwards exactly what it got, whichever overload. */
export type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Wrap the methods through which the app answers (and through which Node's parser pushes the request
 * body, when `tapRequest`), keeping `this`, arguments and return value. The wrappers of an exchange
 * share one closure context, which holds only the exchange and the methods they wrap.
 */
function tapExchange(exchange: Exchange, tapRequest: boolean, sink: Writable | undefined): void {
  const { req, res } = exchange;
  const writeHead = res.writeHead as Method;
  // Once a header is set (Express sets X-Powered-By first thing), Node adds what writeHead() is
  // given to getHeaders() itself: only a response with none yet needs its writeHead() watched.
  if (typeof writeHead === 'function' && !hasHeaders(res)) {
    (res as { writeHead: Method }).writeHead = function (this: unknown, ...args: unknown[]) {
      safely(noteHeadHeaders, exchange, args);
      return writeHead.apply(this, args);
    };
  }
  const push = req.push as Method;
  if (tapRequest && typeof push === 'function') {
    (req as { push: Method }).push = function (this: unknown, ...args: unknown[]) {
      safely(recordRequestChunk, exchange, args);
      return push.apply(this, args);
    };
  }
  if (!sink) return;
  const write = sink.write as Method;
  const end = sink.end as Method;
  if (typeof write === 'function') {
    (sink as { write: Method }).write = function (this: unknown, ...args: unknown[]) {
      // end(chunk) of a wrapper mounted before us that sends through write() passes its chunk on to
      // write(): recorded by end, it was recorded twice.
      if (!exchange.ending) safely(recordResponseChunk, exchange, args);
      return write.apply(this, args);
    };
  }
  if (typeof end === 'function') {
    (sink as { end: Method }).end = function (this: unknown, ...args: unknown[]) {
      safely(recordResponseChunk, exchange, args);
      return callEnding(exchange, end, this, args);
    };
  }
}

/**
 * Node keeps headers given to writeHead() out of getHeaders() when no setHeader() came first (its
 * fast path, the usual way plain node:http apps answer), so those are kept as they pass. After a
 * setHeader() (Express sets X-Powered-By on every response) Node adds them to getHeaders() itself,
 * and a copy kept them twice for as long as a stream lasted.
 */
function noteHeadHeaders(exchange: Exchange, args: unknown[]): void {
  const given = writeHeadHeaders(args);
  if (given && !hasHeaders(exchange.res)) exchange.headHeaders = { ...exchange.headHeaders, ...given };
}

/** Whether a header is set on the response (false for a response-like object without getHeaderNames()). */
const hasHeaders = (res: MoesifResponse): boolean => typeof res.getHeaderNames === 'function' && res.getHeaderNames().length > 0;

/** push(chunk, encoding?) of Node's parser; push(null) says the body ended. */
function recordRequestChunk(exchange: Exchange, [chunk, encoding]: unknown[]): void {
  if (exchange.done) return;
  if (chunk === null) exchange.requestEnded ||= !wasAborted(exchange.req);
  else if (chunk !== undefined) (exchange.requestBody ??= new BodyRecorder(exchange.recording.options.requestMaxBodySize)).add(chunk, encoding);
}


/** write(chunk, encoding?, cb?) and end(chunk?, encoding?, cb?): a function in first place is a callback. */
function recordResponseChunk(exchange: Exchange, [chunk, encoding]: unknown[]): void {
  if (exchange.done || (typeof chunk !== 'string' && !(chunk instanceof Uint8Array))) return;
  (exchange.responseBody ??= new BodyRecorder(exchange.recording.options.responseMaxBodySize)).add(chunk, encoding);
}

/**
 * What the event says instead of what the response says: the 499 of a call never answered, or an
 * answer node:http2 dropped (see keepLateAnswer).
 */
interface Answer {
  status?: number;
  headers?: RawHeaders;
  ended?: boolean;
}

/** The client left before the answer started: the call is logged when the app answers, or as 499. */
function awaitAnswer(exchange: Exchange): void {
  const { res } = exchange;
  const timer = setTimeout(() => complete(exchange, { status: CLIENT_CLOSED_REQUEST }), ABANDONED_WAIT_MS);
  timer.unref?.();
  const end = res.end as Method;
  if (typeof end !== 'function') return;
  const late = http2Stream(res) ? keepLateAnswer(exchange) : undefined;
  (res as { end: Method }).end = function (this: unknown, ...args: unknown[]) {
    clearTimeout(timer);
    if (late) {
      if (exchange.recording.options.logBody) safely(recordResponseChunk, exchange, args);
      late.ended = true;
    }
    // After end() has run: its body is recorded and its headers are set.
    queueMicrotask(() => complete(exchange, late));
    return callEnding(exchange, end, this, args);
  };
}

/**
 * Calls the app's end() marked as ending: a write() it makes passes on the chunk end() was given, which
 * the write wrappers then leave alone (it is recorded once, as end()'s).
 */
function callEnding(exchange: Exchange, end: Method, self: unknown, args: unknown[]): unknown {
  exchange.ending = true;
  try {
    return end.apply(self, args);
  } finally {
    exchange.ending = false;
  }
}

/**
 * node:http2's compatibility API drops an answer given once its stream has closed (Node 20,
 * lib/internal/http2/compat.js): writeHead() returns at once (`if (state.closed ||
 * this.stream.destroyed || this.stream.closed) return this;`) and keeps neither status nor headers,
 * write() fails with ERR_HTTP2_INVALID_STREAM before the stream (where the body is recorded) sees
 * its chunk, and end() returns before setting what writableEnded reads. statusCode and setHeader()
 * still work. So what writeHead() and write() are given is kept here; end() is awaitAnswer's.
 */
function keepLateAnswer(exchange: Exchange): Answer {
  const { res } = exchange;
  const late: Answer = {};
  const writeHead = res.writeHead as Method;
  if (typeof writeHead === 'function') {
    (res as { writeHead: Method }).writeHead = function (this: unknown, ...args: unknown[]) {
      if (typeof args[0] === 'number') late.status = args[0];
      const given = writeHeadHeaders(args);
      if (given) late.headers = { ...late.headers, ...given };
      return writeHead.apply(this, args);
    };
  }
  const write = res.write as Method;
  if (exchange.recording.options.logBody && typeof write === 'function') {
    (res as { write: Method }).write = function (this: unknown, ...args: unknown[]) {
      // end(chunk) passes its chunk on to write() (for a HEAD request): end recorded it already.
      if (!exchange.ending) safely(recordResponseChunk, exchange, args);
      return write.apply(this, args);
    };
  }
  return late;
}

/** The response has finished, or its client left: build the event (hooks may be async) and hand it on. */
function complete(exchange: Exchange, answer?: Answer): void {
  if (exchange.done) return;
  exchange.done = true;
  const { res, recording } = exchange;
  const sent = http2SentHead(res);
  // Most of the time only getHeaders(), a copy already: merged into another only when there is more.
  const headers =
    exchange.headHeaders || sent || answer?.headers
      ? { ...exchange.headHeaders, ...res.getHeaders(), ...sent?.headers, ...answer?.headers }
      : res.getHeaders();
  // node:http2's compatibility API lists the ':status' it sent among getHeaders(): the event has its own status.
  if (sent) delete headers[':status'];
  const response = {
    status: answer?.status ?? sent?.status ?? res.statusCode,
    headers,
    // A body the app never ended (a stream the client left) is cut where it was: not parsed as
    // whole JSON, and a character cut at its end (a piped file's chunk) does not make it binary.
    bodyEnded: answer?.ended ?? res.writableEnded,
  };
  handOn(recording, buildEvent(exchange, response));
}

/**
 * Whether the request's HTTP/2 stream was aborted (its client reset it, or its connection went) before
 * the end of its body came. node:http2's compatibility API pushes the end of the request body when
 * the stream closes, an aborted one too (onStreamCloseRequest), where a body that ended (END_STREAM)
 * was pushed before: only the latter is whole. `aborted` is node:http2's own flag; node:http has none
 * here, and pushes no end for a request whose client left.
 */
function wasAborted(req: MoesifRequest): boolean {
  const { stream } = req as { stream?: { aborted?: boolean } };
  return !!stream?.aborted;
}

/**
 * The stream under a response of node:http2's compatibility API, which is where everything it sends
 * goes; node:http's responses have none. Told apart by the stream's respond(), as importing
 * node:http2 for an instanceof cost every app about 20 ms and 2 MB at start.
 */
function http2Stream(res: MoesifResponse): ServerHttp2Stream | undefined {
  const { stream } = res as { stream?: Partial<ServerHttp2Stream> };
  return typeof stream?.respond === 'function' ? (stream as ServerHttp2Stream) : undefined;
}

/**
 * The status and headers node:http2 sent, as its stream records them. An app on the compatibility
 * API may answer on `res.stream` itself (`res.stream.respond({ ':status': 201 })`): res.statusCode
 * then still says 200 and res.getHeaders() has none of them, and that is what was logged.
 */
function http2SentHead(res: MoesifResponse): { status: number; headers: RawHeaders } | undefined {
  const sent = http2Stream(res)?.sentHeaders;
  if (sent?.[':status'] === undefined) return undefined;
  const headers: RawHeaders = {};
  for (const [name, value] of Object.entries(sent)) if (!name.startsWith(':')) headers[name] = value;
  return { status: Number(sent[':status']), headers };
}

/** How long a call whose client left is waited for before it is logged unanswered. */
const ABANDONED_WAIT_MS = 30_000;
const CLIENT_CLOSED_REQUEST = 499;
