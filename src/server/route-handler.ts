/**
 * Route handlers of Next.js's App Router (moesif-nodejs's `isNextJsAppRouter`): functions that take
 * a Web `Request` and give back a `Response`, wrapped one by one, as moesif's Next.js example does:
 *
 *   const withMoesif = moesif({ applicationId, isNextJsAppRouter: true });
 *   export const GET = withMoesif(async (request) => Response.json({ ok: true }));
 *
 * Each call is logged through the same options, hooks and outbox as the middleware's; the hooks get
 * the handler's Request and the Response the client gets. How, and how it differs from moesif-nodejs
 * 3.11 (lib/nextjsUtils.js), on purpose:
 * - The response body is recorded as it goes to the client, through a stream that hands each chunk on
 *   as the client reads it, and the call is logged when the body has ended (or been cancelled), as the
 *   middleware logs when a response finishes. moesif-nodejs reads a clone (a tee): a client that left
 *   an event stream did not cancel the app's stream, since the clone still read it, so a generator (a
 *   model's answer, a feed) went on for nobody, and the call was logged only once that stream ended.
 * - The request body is read from a clone, as moesif-nodejs does (the handler's Request must stay the
 *   handler's, NextRequest and all), but only its first requestMaxBodySize bytes: then the clone is
 *   cancelled, so an upload the handler streams is not buffered whole a second time.
 * - A response whose headers cannot be changed (`return fetch(upstream)`, Response.redirect()) gets
 *   the X-Moesif-Transaction-Id header on a copy of it; moesif-nodejs's headers.set() throws there, and
 *   the route answers 500.
 * - A handler that throws is logged as the 500 Next.js answers, unless the error is one of Next.js's
 *   own (redirect(), notFound(): a `digest` starting NEXT_), which it turns into other answers that the
 *   wrapper cannot see; moesif-nodejs logs no thrown call. The error goes on to Next.js either way.
 * - identifyCompany is asked for the company; moesif-nodejs asks identifyUser for both ids here.
 * - The URL logged has the host the client called (see calledUrl).
 * - A context with `waitUntil()` (Netlify Functions 2 and Vercel's Web handlers pass one; Next.js's
 *   route context does not) is given the
 *   delivery of the call's event: the platform then keeps the function running after the answer until
 *   the collector has the event, where otherwise it may freeze or end the instance with the event
 *   queued (what AWS Lambda does, under Netlify's functions too). The handler itself cannot wait for it:
 *   the call is logged when the body has ended, after the handler has returned.
 */
import { randomUUID } from 'node:crypto';
import { BodyRecorder } from './body.js';
import { flattenHeaders } from './headers.js';
import { applyAnswers, askHooks, hookCaller, maskEvent } from './hooks.js';
import { errorName } from './log.js';
import { maskUrl } from './masking.js';
import { handOn, type Recording } from './recording.js';
import { clientIp } from './request-origin.js';
import { TRANSACTION_ID_HEADER, takenTransactionId } from './transaction-id.js';
import type { MoesifEvent, RouteHandler } from './types.js';
import { encodedBody, rawHeaders, readFirstBytes, type Recorded } from './web-body.js';

/** One call to a wrapped handler, from its Request to the end of its Response's body. */
interface RouteCall {
  readonly request: Request;
  readonly recording: Recording;
  readonly startedAt: number;
  readonly transactionId: string | undefined;
  /** The request body's first bytes, read from a clone (see readClone); undefined without one. */
  readonly requestBody: Promise<Recorded> | undefined;
  /** Called once the call's event has been handed on (see complete). */
  logged?: () => void;
}

/** How a wrapped handler's call ended: the Response the client got, and how much of its body. */
interface RouteAnswer {
  response: Response;
  responseBody: Recorded | undefined;
}

const INTERNAL_SERVER_ERROR = 500;

/**
 * Wraps route handlers so that each call is logged; one per middleware (see index.ts), whose flush()
 * sends what is queued.
 */
export function createRouteHandlerWrapper(recording: Recording, flush: () => Promise<void>) {
  return <Req extends Request, Context>(handler: RouteHandler<Req, Context>) =>
    async function (this: unknown, request: Req, context: Context): Promise<Response> {
      let call: RouteCall | undefined;
      try {
        call = startCall(request, recording);
      } catch (error) {
        // Whatever went wrong, the handler still answers, unlogged.
        recording.log.warnOnce('route', `a route handler's call could not be observed (${errorName(error)})`);
      }
      if (call) keepRunningUntilDelivered(call, context, flush);
      let response: unknown;
      try {
        response = await handler.call(this, request, context);
      } catch (error) {
        if (call && !isNextJsControlFlow(error)) complete(call, { response: new Response(null, { status: INTERNAL_SERVER_ERROR }), responseBody: undefined });
        // Next.js's own control flow is not logged: nothing to wait for.
        call?.logged?.();
        throw error;
      }
      if (!call || !(response instanceof Response)) {
        call?.logged?.();
        return response as Response;
      }
      try {
        return answer(call, response);
      } catch {
        // Recording is best effort: the client gets the handler's answer whatever happened here.
        call.logged?.();
        return response;
      }
    };
}

/**
 * Gives a platform's `waitUntil` (the context's, as Netlify Functions 2 and Vercel pass it) the delivery of the
 * call's event: its end (complete) and then the middleware's flush(). Never throws into the call.
 */
function keepRunningUntilDelivered(call: RouteCall, context: unknown, flush: () => Promise<void>): void {
  try {
    const waitUntil = (context as { waitUntil?: unknown } | null | undefined)?.waitUntil;
    if (typeof waitUntil !== 'function') return;
    const logged = new Promise<void>((resolve) => (call.logged = resolve));
    waitUntil.call(context, logged.then(flush));
  } catch (error) {
    call.recording.log.warnOnce('waitUntil', `the context's waitUntil() failed (${errorName(error)}); the call is logged without it`);
  }
}

/** Notes when the call started and its transaction id, and starts reading the request body's clone. */
function startCall(request: Request, recording: Recording): RouteCall {
  const { options } = recording;
  const hasBody = options.logBody && request.body !== null && !request.bodyUsed && request.method !== 'GET' && request.method !== 'HEAD';
  return {
    request,
    recording,
    startedAt: Date.now(),
    transactionId: options.disableTransactionId ? undefined : takenTransactionId(request.headers.get(TRANSACTION_ID_HEADER)),
    requestBody: hasBody ? readClone(request, options.requestMaxBodySize) : undefined,
  };
}

/**
 * The first `cap` bytes of a clone's body, read at once rather than after the handler: a tee keeps
 * for the branch that reads later everything the other has read, so a clone read afterwards held a
 * whole streamed upload in memory.
 */
function readClone(request: Request, cap: number): Promise<Recorded> {
  let clone: Request;
  try {
    clone = request.clone();
  } catch {
    // The handler was given a Request whose body is locked: none is recorded.
    return Promise.resolve({ recorder: new BodyRecorder(cap), ended: false });
  }
  return clone.body ? readFirstBytes(clone.body, cap).recorded : Promise.resolve({ recorder: new BodyRecorder(cap), ended: true });
}

/**
 * The Response to give the client: the handler's, with the transaction id header, and its body
 * passed through a stream that records it (see `tapped`). The call is logged when that body has
 * ended or been cancelled, or at once when there is none to record.
 */
function answer(call: RouteCall, given: Response): Response {
  const { options } = call.recording;
  let headers = given.headers;
  if (call.transactionId !== undefined) {
    // A fetch()'s response or Response.redirect()'s has immutable headers: the answer is a copy then.
    try {
      headers.set(TRANSACTION_ID_HEADER, call.transactionId);
    } catch {
      headers = new Headers(headers);
      headers.set(TRANSACTION_ID_HEADER, call.transactionId);
    }
  }
  // HEAD is answered by the GET handler and its body never read: nothing would end it.
  if (!options.logBody || given.body === null || call.request.method === 'HEAD') {
    const response = headers === given.headers ? given : new Response(given.body, { status: given.status, statusText: given.statusText, headers });
    complete(call, { response, responseBody: undefined });
    return response;
  }
  const recorder = new BodyRecorder(options.responseMaxBodySize);
  const response = new Response(tapped(given.body, recorder, (ended) => complete(call, { response, responseBody: { recorder, ended } })), {
    status: given.status,
    statusText: given.statusText,
    headers,
  });
  return response;
}

/**
 * `body` as the client reads it, each chunk recorded on its way: pulled only as the client reads, so
 * a slow client slows the handler's stream as it would without us, and cancelled when the client
 * leaves. `ended` is called once: with true after the last chunk, with false when the stream failed or
 * was cancelled.
 */
function tapped(body: ReadableStream<Uint8Array>, recorder: BodyRecorder, ended: (whole: boolean) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let done = false;
  const end = (whole: boolean): void => {
    if (done) return;
    done = true;
    ended(whole);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await reader.read().catch((error: unknown) => {
        end(false);
        controller.error(error);
      });
      if (!chunk) return;
      if (chunk.done) {
        controller.close();
        end(true);
        return;
      }
      recorder.add(chunk.value);
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      end(false);
      return reader.cancel(reason);
    },
  });
}

/**
 * The URL the client called: request.url's scheme, path and query under the Host header's host, as the
 * middleware logs it. Next.js names in request.url the host it was started with (`localhost` under
 * `next start`), whatever the client asked for, on purpose (vercel/next.js#37536): logged as it is,
 * the calls of every domain an app serves would read localhost.
 */
function calledUrl(request: Request): string {
  const url = new URL(request.url);
  const host = request.headers.get('host');
  let called = url.href;
  if (host) {
    try {
      called = new URL(`${url.protocol}//${host}${url.pathname}${url.search}`).href;
    } catch {
      // A Host header that is no host: request.url as it is.
    }
  }
  return maskUrl(called);
}

/** Next.js's redirect(), notFound() and the like: errors it turns into answers of its own. */
function isNextJsControlFlow(error: unknown): boolean {
  const { digest } = (error ?? {}) as { digest?: unknown };
  return typeof digest === 'string' && digest.startsWith('NEXT_');
}

function complete(call: RouteCall, answer: RouteAnswer): void {
  handOn(call.recording, buildEvent(call, answer, Date.now()));
  // After handOn: the middleware's flush() now waits for this event too.
  call.logged?.();
}

async function buildEvent(call: RouteCall, { response, responseBody }: RouteAnswer, endedAt: number): Promise<MoesifEvent | undefined> {
  const { request, recording } = call;
  const { options, log } = recording;
  const deadline = Date.now() + options.hookTimeout;
  // The hooks are typed for Node's request and response (as moesif-nodejs's README documents them); here they get the Web pair.
  type Hook = ((req: Request, res: Response) => unknown) | undefined;
  const askHook = hookCaller({ req: request, res: response, log, deadline, hookTimeout: options.hookTimeout });
  const answers = await askHooks((name, hook) => askHook(name, hook as Hook), options);
  if (!answers) return undefined;

  const requestHeaders = rawHeaders(request.headers);
  const event: MoesifEvent = {
    request: { time: new Date(call.startedAt).toISOString(), uri: calledUrl(request), verb: request.method, headers: flattenHeaders(requestHeaders) },
    response: { time: new Date(endedAt).toISOString(), status: response.status, headers: flattenHeaders(rawHeaders(response.headers)) },
    direction: 'Incoming',
    transaction_id: call.transactionId ?? randomUUID(),
  };
  // As the middleware's events: the request carries the id the client got back.
  if (call.transactionId !== undefined) event.request.headers[TRANSACTION_ID_HEADER] = call.transactionId;
  const ip = clientIp(requestHeaders, undefined);
  if (ip) event.request.ip_address = ip;

  const truncated: Array<'request' | 'response'> = [];
  for (const [side, { cut, ...body }] of [
    ['request', await encodedBody(await call.requestBody, request.headers)],
    ['response', await encodedBody(responseBody, response.headers)],
  ] as const) {
    Object.assign(event[side], body);
    if (cut) truncated.push(side);
  }
  applyAnswers(event, answers, truncated);
  return maskEvent(event, options, log, deadline);
}
