/**
 * One way to POST JSON to the collector. node:http(s) rather than global fetch: an app that patches
 * fetch (test mocks, APM agents) must not see or break our traffic, and a keep-alive Agent unrefs idle
 * sockets, so a quiet middleware never keeps the process alive.
 */
import { AsyncResource } from 'node:async_hooks';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { parseRetryAfter } from '../delivery/backoff.js';
import { APPLICATION_ID_HEADER, SDK_HEADER } from '../wire.js';

/** Replaced by the package version at build time (rollup.config.mjs); left as is in unit tests. */
export const SDK_HEADER_VALUE = 'usertrail-node/__USERTRAIL_VERSION__';

export interface SendResult {
  /** HTTP status, or 0 when no answer came. */
  status: number;
  retryAfterMs?: number;
  /** A short reason (error code or "timeout"), never payload data. */
  error?: string;
}

/** POST `json` (already serialized, so a bad value fails where it was made, not in a batch) to `path`. */
export type Send = (path: string, json: string) => Promise<SendResult>;

export interface TransportConfig {
  baseUri: string;
  applicationId: string;
  requestTimeout: number;
  /** Compress bodies (Content-Encoding: gzip), as moesif-nodejs always does. */
  gzip: boolean;
  /** Sockets kept for requests under way at once. */
  maxSockets: number;
}

/**
 * zlib's asynchronous gzip runs in libuv's thread pool, so the largest batch never holds the app's
 * event loop (the synchronous call would, for milliseconds). Level 1: events of one API are much
 * alike, so the fastest level already shrinks a batch about twentyfold (200 of the bench's events:
 * 21x at level 1, 28x at the default 6) for less than half the CPU (2.4 against 5.2 µs per event),
 * which the app's process pays.
 */
const gzip = promisify(gzipCallback);
const GZIP_OPTIONS = { level: 1 };

/** Collector answers are tiny; a larger one is not read further (it only has to be drained). */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * The async context deliveries run in (see createTransport). It holds no handle and so never keeps a
 * process alive, which `hasRef()` tells whoever asks: Jest's --detectOpenHandles asks it of every async
 * resource made while a test runs, and listed each middleware as an open handle (AsyncResource.bind()'s
 * resource, which cannot say so).
 */
class DeliveryContext extends AsyncResource {
  constructor() {
    super('usertrail/server delivery');
  }

  hasRef(): boolean {
    return false;
  }
}

export function createTransport(config: TransportConfig): Send {
  const secure = config.baseUri.startsWith('https:');
  // As many sockets as requests may be under way: more would only load a struggling collector.
  const { maxSockets } = config;
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets }) : new HttpAgent({ keepAlive: true, maxSockets });
  const request = secure ? httpsRequest : httpRequest;

  // Run in the async context the middleware is made in, at the app's start: called from a request's
  // hooks or timers, a delivery ran in that request's context, and an APM agent (OpenTelemetry,
  // dd-trace) traced it as part of that request, carrying other requests' events and ending up to
  // batchMaxTime after it. The agent may still trace it, as a trace of its own.
  const context = new DeliveryContext();
  const send = async (path: string, json: string): Promise<SendResult> => {
    const { body, encoding } = await encode(json, config.gzip);
    const headers = {
      'Content-Type': 'application/json',
      'Content-Length': String(body.length),
      ...encoding,
      [APPLICATION_ID_HEADER]: config.applicationId,
      [SDK_HEADER]: SDK_HEADER_VALUE,
    };
    return post({ request, url: `${config.baseUri}${path}`, options: { method: 'POST', agent, headers }, body, timeout: config.requestTimeout });
  };
  return (path, json) => context.runInAsyncScope(send, undefined, path, json);
}

/** The body and its headers, compressed unless the option says not to; compression failing sends it as is. */
async function encode(json: string, compress: boolean): Promise<{ body: Buffer; encoding: Record<string, string> }> {
  const plain = Buffer.from(json, 'utf8');
  if (!compress) return { body: plain, encoding: {} };
  try {
    return { body: await gzip(plain, GZIP_OPTIONS), encoding: { 'Content-Encoding': 'gzip' } };
  } catch {
    return { body: plain, encoding: {} };
  }
}

interface Post {
  request: typeof httpRequest;
  url: string;
  options: RequestOptions;
  body: Buffer;
  /** Milliseconds the whole exchange may take. */
  timeout: number;
}

/**
 * How a kept-alive socket that was closed while idle fails on reuse: reset by a NAT that forgot the
 * connection (NAT gateways and Lambda's own drop idle ones after 350 s, while a function is frozen
 * between invocations, without telling either end), or by a collector that closed it as the request
 * left. Nothing was answered: the request goes again, on another socket, as Node's documentation of
 * `request.reusedSocket` advises. Without it, the first flush() after a long idle failed, and its
 * events stayed in a frozen function until a later invocation, or were lost when Lambda recycled it.
 */
const STALE_SOCKET_ERRORS = new Set(['ECONNRESET', 'EPIPE']);

/** One request. Resolves with its answer, or with status 0 and a short reason; never rejects. */
function post({ request, url, options, body, timeout }: Post): Promise<SendResult> {
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const done = (result: SendResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    /** Failed for good: nothing more to wait for. */
    const failed = (result: SendResult) => {
      clearTimeout(deadline);
      done(result);
    };
    let current: ClientRequest | undefined;
    // The timeout bounds the whole exchange, not only silences: an answer that trickles in (a proxy
    // padding a stalled upstream) never idles, and would keep the batch in flight for ever.
    const deadline = setTimeout(() => {
      current?.destroy();
      done({ status: 0, error: 'timeout' });
    }, timeout);
    deadline.unref?.();
    const attempt = (): void => {
      try {
        const req = request(url, options, (res) => {
          // The status line is the answer: the outcome does not wait for a body nobody reads.
          done(answerOf(res));
          drain(res);
          res.on('close', () => clearTimeout(deadline));
        });
        current = req;
        req.on('error', (error: NodeJS.ErrnoException) => {
          // Each stale socket fails once and is dropped from the agent: this ends, on a new connection at the latest.
          if (!settled && req.reusedSocket && STALE_SOCKET_ERRORS.has(error.code ?? '')) attempt();
          else failed({ status: 0, error: error.code ?? error.name });
        });
        req.end(body);
      } catch (error) {
        // An invalid header value or URL: a value, not a throw.
        failed({ status: 0, error: error instanceof Error ? error.name : 'error' });
      }
    };
    attempt();
  });
}

/** The status of an answer, and the wait its Retry-After asks for. */
function answerOf(res: IncomingMessage): SendResult {
  const status = res.statusCode ?? 0;
  const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
  return retryAfterMs === undefined ? { status } : { status, retryAfterMs };
}

/** Reads the answer through without keeping it, so that the socket returns to the agent; a large one is cut off. */
function drain(res: IncomingMessage): void {
  let read = 0;
  res.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > MAX_ANSWER_BYTES) res.destroy();
  });
  res.on('error', () => {});
}
