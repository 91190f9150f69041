/**
 * Outgoing calls (`startCaptureOutgoing()`, moesif-nodejs's "Capture Outgoing API Calls"): the
 * calls the app makes with node:http and node:https are logged as events with direction
 * 'Outgoing', through the same options, hooks and outbox as the calls it answers.
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
 *   host, as moesif-nodejs tells them. Global fetch (undici) is not captured, as by moesif-nodejs 3.11.
 */
import { randomUUID } from 'node:crypto';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import { BodyRecorder, flattenHeaders, maskUrl, type EncodedBody, type RawHeaders } from './body.js';
import { applyAnswers, askHooks, handOn, hookCaller, maskEvent, type Recording, type Method } from './event.js';
import { errorName } from './log.js';
import type { MockedRequest, MockedResponse, MoesifEvent } from './types.js';

/** moesif-nodejs's status for an outgoing call that got no answer. */
const NO_ANSWER = 599;

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
}

/**
 * Process state on purpose: node:http is one per process, so is its patch. `capturers` in the order
 * they started; the first receives every call, so two middlewares (or two starts) log each call once.
 */
const capturers: Capturer[] = [];
let installed: { uninstall(): void } | undefined;

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
  };
  const stop = () => {
    const index = capturers.indexOf(capturer);
    if (index >= 0) capturers.splice(index, 1);
    if (capturers.length === 0) {
      installed?.uninstall();
      installed = undefined;
    }
  };
  return {
    start() {
      if (!capturers.includes(capturer)) capturers.push(capturer);
      installed ??= install();
      recording.log.debug('capturing outgoing calls made with node:http and node:https');
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
      const capturer = capturers[0];
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
  for (const { module, name, wrapper } of wrapped) module[name] = wrapper;
  syncBuiltinESMExports();
  return {
    uninstall() {
      for (const { module, name, original, wrapper } of wrapped) if (module[name] === wrapper) module[name] = original;
      syncBuiltinESMExports();
    },
  };
}

/** The collector's requests (ours and moesif-nodejs's) and calls to Moesif, which are never logged. */
function isCollectorCall(req: ClientRequest): boolean {
  if (req.getHeader('x-moesif-application-id') !== undefined || req.getHeader('x-moesif-sdk') !== undefined) return true;
  const host = String(req.getHeader('host') ?? req.host ?? '');
  return /(^|\.)moesif\.net(:\d+)?$/i.test(host);
}

function observeCall(req: ClientRequest, recording: Recording): void {
  if (isCollectorCall(req)) return;
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

/** The call has ended, failed, closed or run out of time: build its event (hooks may be async) and hand it on. */
function complete(call: OutgoingCall): void {
  if (call.done) return;
  call.done = true;
  clearTimeout(call.timer);
  handOn(call.recording, buildEvent(call, Date.now()));
}

/** A header's value as one string, repeated values joined by ", " (as MockedHeaderReader promises). */
const headerString = (value: unknown): string =>
  Array.isArray(value) ? value.map(String).join(', ') : value === undefined || value === null ? '' : String(value);

/** getHeader and get of the mocked objects: any case of the name. */
function headerReader(headers: RawHeaders): (name: string) => string | undefined {
  return (name) => {
    if (typeof name !== 'string') return undefined;
    const value = headers[name] ?? headers[name.toLowerCase()];
    return value === undefined ? undefined : headerString(value);
  };
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

async function buildEvent(call: OutgoingCall, endedAt: number): Promise<MoesifEvent | undefined> {
  const { req, response, recording } = call;
  const { options, log } = recording;
  const deadline = Date.now() + options.hookTimeout;
  // A copy: the app may still set headers on a request that has not been sent (the timer's case).
  const requestHeaders: RawHeaders = { ...req.getHeaders() };
  const responseHeaders: MockedResponse['headers'] = response ? { ...response.headers } : {};
  const status = response?.statusCode ?? NO_ANSWER;
  const url = calledUrl(req);
  const method = req.method || 'GET';

  const requestBody = await encoded(call.requestBody, req.writableEnded, requestHeaders);
  const responseBody = await encoded(call.responseBody, call.responseEnded, responseHeaders);
  const mockedRequest: MockedRequest = {
    mo_mocked: true,
    _mo_mocked: true,
    headers: requestHeaders,
    url,
    method,
    getHeader: headerReader(requestHeaders),
    get: headerReader(requestHeaders),
    body: requestBody.body,
  };
  const mockedResponse: MockedResponse = {
    mo_mocked: true,
    _mo_mocked: true,
    headers: responseHeaders,
    statusCode: status,
    getHeader: headerReader(responseHeaders),
    get: headerReader(responseHeaders),
    body: responseBody.body,
  };
  // The hooks are typed for incoming requests (as moesif-nodejs's README documents them); here they get the mocked pair.
  type Hook = ((req: MockedRequest, res: MockedResponse) => unknown) | undefined;
  const askHook = hookCaller({ req: mockedRequest, res: mockedResponse, log, deadline, hookTimeout: options.hookTimeout });
  const answers = await askHooks((name, hook) => askHook(name, hook as Hook), options);
  if (!answers) return undefined;

  const event: MoesifEvent = {
    request: { time: new Date(call.startedAt).toISOString(), uri: url, verb: method, headers: flattenHeaders(requestHeaders) },
    response: { time: new Date(endedAt).toISOString(), status, headers: flattenHeaders(responseHeaders) },
    direction: 'Outgoing',
    transaction_id: randomUUID(),
  };
  const truncated: Array<'request' | 'response'> = [];
  for (const [side, { cut, ...body }] of [
    ['request', requestBody],
    ['response', responseBody],
  ] as const) {
    Object.assign(event[side], body);
    if (cut) truncated.push(side);
  }
  applyAnswers(event, answers, truncated);
  return maskEvent(event, options, log, deadline);
}
