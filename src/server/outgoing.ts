/**
 * Outgoing calls (`startCaptureOutgoing()`, moesif-nodejs's "Capture Outgoing API Calls"): the
 * calls the app makes with node:http and node:https (here) and with global fetch (outgoing-fetch.ts,
 * which moesif-nodejs 3.11 does not capture) are logged as events with direction 'Outgoing', through
 * the same options, hooks and outbox as the calls it answers (outgoing-event.ts).
 *
 * How, and how it differs from moesif-nodejs 3.11 (lib/outgoing.js), on purpose:
 * - Calls are seen by wrapping `request` and `get` of both modules once per process, whoever asks.
 *   ESM named imports (`import { request } from 'node:https'`, as compiled SDKs such as Stripe's
 *   write it) are bindings of their own, brought up to date with syncBuiltinESMExports(); moesif-nodejs
 *   only patches the CommonJS objects, so those calls went unseen.
 * - Nothing is listened to: the request's and the response's `emit` are wrapped instead. moesif-nodejs
 *   adds 'error', 'response' and 'data' listeners, and each changes what the app sees: an 'error'
 *   listener swallows a refused connection the app does not handle (which crashes it without the
 *   SDK), a 'response' listener stops Node from dumping a response nobody asked for (its socket is
 *   then never freed), and a 'data' listener reads every response to its end, whether or not the app
 *   reads it, in flowing mode (an app that reads later loses the chunks). Here a response body is
 *   recorded as the app reads it ('data' is emitted for on('data'), pipe(), read() and async
 *   iteration alike), up to responseMaxBodySize; a response the app never reads is never read.
 * - A call is logged once, when its response ends, or when it fails (599 without an answer, as
 *   moesif-nodejs logs it), or when it closes or passes maxOutgoingTimeout with its answer started
 *   (logged with its status, the body so far marked truncated; moesif-nodejs logs those as 599, and
 *   a response that ended after its timer twice).
 * - The collector's own requests (ours, and moesif-nodejs's if it runs too) are told by the
 *   X-Moesif-Application-Id or X-Moesif-SDK header they carry, and calls to moesif.net by their
 *   host, as moesif-nodejs tells them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import { BodyRecorder, type EncodedBody } from './body.js';
import type { Method } from './exchange.js';
import type { RawHeaders } from './headers.js';
import { errorName } from './log.js';
import { maskUrl } from './masking.js';
import { headerString, isCollectorCall, logOutgoing, NO_ANSWER, type OutgoingExchange } from './outgoing-event.js';
import { followFetch, sentRequest, startFetch, type FetchCall, type UndiciRequest } from './outgoing-fetch.js';
import type { Recording } from './recording.js';
import type { MockedResponse } from './types.js';

/** One outgoing call while it runs. */
interface OutgoingCall {
  readonly req: ClientRequest;
  readonly recording: Recording;
  readonly startedAt: number;
  requestBody: BodyRecorder | undefined;
  response: IncomingMessage | undefined;
  responseBody: BodyRecorder | undefined;
  responseEnded: boolean;
  done: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Who receives the calls while capture is on: the first middleware that started it and has not stopped. */
interface Capturer {
  observe(req: ClientRequest): void;
  /** Starts recording a call to global fetch; undefined when it is not logged. */
  startFetch(input: unknown, init: RequestInit | undefined): FetchCall | undefined;
  /** A request went out through undici without passing our fetch wrapper (see onUndiciRequest). */
  missedFetch(): void;
}

/**
 * Process state on purpose: node:http is one per process, so is its patch. `capturers` in the order
 * they started; the first receives every call, so two middlewares (or two starts) log each call once.
 */
interface CaptureState {
  readonly capturers: Capturer[];
  installed: { uninstall(): void } | undefined;
}

/**
 * One per process even when the package is loaded twice, so it is kept on globalThis under a
 * registered symbol: an app whose CommonJS code require()s usertrail/server and whose ES modules
 * import it has two copies of this module (dist/server.cjs and dist/server.mjs), which require(esm)
 * (Node 20.19 and 22.12 on) makes common, as CommonJS code can now load ES modules that import it. With
 * a state per copy, each copy patched node:http and fetch, and each call was logged twice. The number
 * in the key changes whenever Capturer does, so that two versions of the package never share it.
 */
const STATE_KEY = Symbol.for('usertrail/server outgoing capture 1');

function captureState(): CaptureState {
  const global = globalThis as unknown as Record<symbol, CaptureState | undefined>;
  return (global[STATE_KEY] ??= { capturers: [], installed: undefined });
}

const TRACKED = Symbol('usertrail/server outgoing');

export interface OutgoingCapture {
  /** Start capturing for this middleware; returns the function that stops it. */
  start(): () => void;
}

export function createOutgoingCapture(recording: Recording): OutgoingCapture {
  const capturer: Capturer = {
    observe(req) {
      try {
        observeCall(req, recording);
      } catch (error) {
        // Whatever went wrong while setting up the recording, the app's call goes on unlogged.
        recording.log.warnOnce('outgoing', `an outgoing call could not be observed (${errorName(error)})`);
      }
    },
    missedFetch() {
      recording.log.warnOnce(
        'outgoing-unwrapped',
        'an outgoing call went out unlogged: it was made with a fetch taken before startCaptureOutgoing() (an API client such as OpenAI\'s or Anthropic\'s made earlier keeps the fetch it was given) or with the undici package; make such clients after starting capture',
      );
    },
    startFetch(input, init) {
      try {
        return startFetch(recording, input, init);
      } catch (error) {
        recording.log.warnOnce('outgoing', `an outgoing call could not be observed (${errorName(error)})`);
        return undefined;
      }
    },
  };
  const stop = () => {
    const state = captureState();
    const index = state.capturers.indexOf(capturer);
    if (index >= 0) state.capturers.splice(index, 1);
    if (state.capturers.length === 0) {
      state.installed?.uninstall();
      state.installed = undefined;
    }
  };
  return {
    start() {
      const state = captureState();
      if (!state.capturers.includes(capturer)) state.capturers.push(capturer);
      state.installed ??= install();
      recording.log.debug('capturing outgoing calls made with node:http, node:https and fetch');
      return stop;
    },
  };
}

/**
 * Wrap `request` and `get` of node:http and node:https. Node's `get` calls its module's own
 * `request`, not the exported one, so both are wrapped; node:https's `request` does not go through
 * node:http's. Uninstalling puts back the originals only where ours are still in place: a library
 * that wrapped them after us (a test mock, an APM agent) keeps its wrapper, and ours then passes
 * calls straight through.
 */
function install(): { uninstall(): void } {
  const wrapped: Array<{ module: Record<string, unknown>; name: string; original: unknown; wrapper: Method }> = [];
  for (const module of [http, https] as unknown as Array<Record<string, unknown>>) {
    const originalRequest = module.request as Method;
    const request: Method = function (this: unknown, ...args: unknown[]) {
      const req = originalRequest.apply(this, args) as ClientRequest;
      const capturer = captureState().capturers[0];
      if (capturer && !(req as unknown as Record<symbol, unknown>)[TRACKED]) {
        (req as unknown as Record<symbol, unknown>)[TRACKED] = true;
        capturer.observe(req);
      }
      return req;
    };
    // As Node's own get: request, then end.
    const get: Method = function (this: unknown, ...args: unknown[]) {
      const req = request.apply(this, args) as ClientRequest;
      req.end();
      return req;
    };
    wrapped.push({ module, name: 'request', original: originalRequest, wrapper: request });
    wrapped.push({ module, name: 'get', original: module.get, wrapper: get });
  }
  if (typeof globalThis.fetch === 'function') wrapped.push({ module: globalThis as unknown as Record<string, unknown>, name: 'fetch', original: globalThis.fetch, wrapper: wrapFetch(globalThis.fetch) });
  for (const { module, name, wrapper } of wrapped) module[name] = wrapper;
  syncBuiltinESMExports();
  subscribe(UNDICI_REQUEST, onUndiciRequest);
  return {
    uninstall() {
      for (const { module, name, original, wrapper } of wrapped) if (module[name] === wrapper) module[name] = original;
      syncBuiltinESMExports();
      unsubscribe(UNDICI_REQUEST, onUndiciRequest);
    },
  };
}

/**
 * undici's diagnostics channel for each request it sends: global fetch's (whoever holds a reference
 * to it), and the undici package's. Calls through our fetch wrapper run in `throughWrapper`'s context,
 * whose store holds the call being recorded until it is answered (none for a call that is not: the
 * collector's). Let go of then: a socket undici opens for the call keeps the store as long as it
 * lives, and a recorded body with it.
 */
const UNDICI_REQUEST = 'undici:request:create';
const throughWrapper = new AsyncLocalStorage<{ call: FetchCall | undefined }>();

/**
 * A request undici sends. Made by a call we record, it is kept for the headers it goes out with
 * (sentRequest). One our fetch wrapper did not see was made with a fetch taken before the start (an
 * API client made earlier, such as OpenAI's or Anthropic's, keeps the fetch it was given), or with
 * the undici package: it goes out unlogged, which nothing else would tell: said once, with the cure.
 */
function onUndiciRequest(message: unknown): void {
  const through = throughWrapper.getStore();
  if (through === undefined) captureState().capturers[0]?.missedFetch();
  else if (through.call) sentRequest(through.call, (message as { request?: UndiciRequest } | null)?.request);
}

/**
 * Global fetch, its calls recorded (outgoing-fetch.ts). The wrapper keeps the original's name and own
 * properties: a fetch patched before us (Next.js's) is told by them (`__nextPatched`).
 */
function wrapFetch(original: typeof fetch): Method {
  const wrapper: Method = function (this: unknown, ...args: unknown[]) {
    const call = captureState().capturers[0]?.startFetch(args[0], args[1] as RequestInit | undefined);
    const through = { call };
    const result = throughWrapper.run(through, () => original.apply(this, args as Parameters<typeof fetch>));
    if (!call) return result;
    try {
      const followed = followFetch(call, result);
      const letGo = () => {
        through.call = undefined;
      };
      followed.then(letGo, letGo);
      return followed;
    } catch {
      // A mocked fetch that answered without a promise: the app gets its answer, unlogged.
      return result;
    }
  };
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'prototype' || key === 'length') continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, key);
    if (descriptor) Object.defineProperty(wrapper, key, descriptor);
  }
  return wrapper;
}

function observeCall(req: ClientRequest, recording: Recording): void {
  if (isCollectorCall((name) => req.getHeader(name) !== undefined, String(req.getHeader('host') ?? req.host ?? ''))) return;
  const { options } = recording;
  const call: OutgoingCall = {
    req,
    recording,
    startedAt: Date.now(),
    requestBody: undefined,
    response: undefined,
    responseBody: undefined,
    responseEnded: false,
    done: false,
    timer: undefined,
  };
  call.timer = setTimeout(() => complete(call), options.maxOutgoingTimeout);
  call.timer.unref?.();

  if (options.logBody) {
    const write = req.write as Method;
    const end = req.end as Method;
    // What the app writes is recorded as it passes; Node's end() does not go through write().
    (req as unknown as { write: Method }).write = function (this: unknown, ...args: unknown[]) {
      recordChunk(call, 'requestBody', args, options.requestMaxBodySize);
      return write.apply(this, args);
    };
    (req as unknown as { end: Method }).end = function (this: unknown, ...args: unknown[]) {
      recordChunk(call, 'requestBody', args, options.requestMaxBodySize);
      return end.apply(this, args);
    };
  }

  const emitRequest = req.emit as Method;
  (req as unknown as { emit: Method }).emit = function (this: unknown, ...args: unknown[]) {
    const [event] = args;
    try {
      if (event === 'response' && !call.done) tapResponse(call, args[1] as IncomingMessage);
      // Before the app's listeners run, which may throw (an unhandled 'error').
      else if ((event === 'error' && !call.response) || event === 'close') complete(call);
    } catch {
      // Recording is best effort: the event reaches the app whatever happened here.
    }
    return emitRequest.apply(this, args);
  };
}

/** Watch the response as the app reads it: each 'data' the app is given, then its end or close. */
function tapResponse(call: OutgoingCall, res: IncomingMessage): void {
  call.response = res;
  const { options } = call.recording;
  const emit = res.emit as Method;
  (res as unknown as { emit: Method }).emit = function (this: unknown, ...args: unknown[]) {
    const [event] = args;
    if (!call.done) {
      if (event === 'data' && options.logBody) recordChunk(call, 'responseBody', [args[1]], options.responseMaxBodySize);
      else if (event === 'end') {
        call.responseEnded = true;
        complete(call);
      } else if (event === 'close' || event === 'error') complete(call);
    }
    // complete() only starts an async build, and recordChunk catches: nothing here throws into the app.
    return emit.apply(this, args);
  };
}

/** write(chunk, encoding?, cb?), end(chunk?, encoding?, cb?) or a 'data' chunk: anything but a string or bytes (end(cb)'s callback) is no chunk. */
function recordChunk(call: OutgoingCall, side: 'requestBody' | 'responseBody', args: unknown[], cap: number): void {
  if (call.done) return;
  try {
    const [chunk, encoding] = args;
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return;
    (call[side] ??= new BodyRecorder(cap)).add(chunk, encoding);
  } catch {
    // Recording is best effort: the call goes through whatever happens here.
  }
}

/** The call has ended, failed, closed or run out of time: build its event and hand it on. */
function complete(call: OutgoingCall): void {
  if (call.done) return;
  call.done = true;
  clearTimeout(call.timer);
  logOutgoing(call.recording, ended(call, Date.now()));
}

/** The URL called, as the request went out: its protocol, Host header (port included unless the default) and path. */
function calledUrl(req: ClientRequest): string {
  const host = headerString(req.getHeader('host')) || req.host || 'localhost';
  return maskUrl(`${req.protocol || 'http:'}//${host}${req.path || '/'}`);
}

async function encoded(recorder: BodyRecorder | undefined, ended: boolean, headers: RawHeaders): Promise<EncodedBody> {
  if (!recorder) return {};
  // A body whose end never came: the app stopped reading, the call failed.
  return recorder.decode({ ended, contentType: headerString(headers['content-type']), contentEncoding: headerString(headers['content-encoding']) });
}

async function ended(call: OutgoingCall, endedAt: number): Promise<OutgoingExchange> {
  const { req, response } = call;
  // A copy: the app may still set headers on a request that has not been sent (the timer's case).
  const requestHeaders: RawHeaders = { ...req.getHeaders() };
  const responseHeaders: MockedResponse['headers'] = response ? { ...response.headers } : {};
  return {
    startedAt: call.startedAt,
    endedAt,
    url: calledUrl(req),
    method: req.method || 'GET',
    requestHeaders,
    requestBody: await encoded(call.requestBody, req.writableEnded, requestHeaders),
    status: response?.statusCode ?? NO_ANSWER,
    responseHeaders,
    responseBody: await encoded(call.responseBody, call.responseEnded, responseHeaders),
  };
}
