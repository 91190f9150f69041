/**
 * usertrail/server: an Express/Connect middleware that logs each API call to a Moesif-compatible
 * collector, attributed to the user and company (issue 6). A drop-in for moesif-nodejs's
 * `moesif({...})`. Node only; this entry only wires the modules below and names every export.
 */
import { withoutBodies } from './event.js';
import { createExchangeObserver } from './exchange.js';
import { createLog, errorName } from './log.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { createOutbox } from './outbox.js';
import { createOutgoingCapture } from './outgoing.js';
import type { Recording } from './recording.js';
import { createRouteHandlerWrapper } from './route-handler.js';
import { createTransport } from './transport.js';
import { createUpdaters, governanceRules, notify } from './updates.js';
import type {
  DeliveryOutcome,
  KoaContextLike,
  MoesifMiddleware,
  MoesifOptions,
  MoesifRequest,
  MoesifResponse,
  MoesifStats,
  NextJsAppRouterOptions,
  RouteHandler,
} from './types.js';

export type {
  ActionModel,
  ActionRequestModel,
  CampaignModel,
  CompanyModel,
  DeliveryOutcome,
  GovernanceRule,
  Headers,
  KoaContextLike,
  MaybePromise,
  Metadata,
  MockedHeaderReader,
  MockedRequest,
  MockedResponse,
  MoesifEvent,
  MoesifHooks,
  MoesifMiddleware,
  MoesifOptions,
  MoesifRequest,
  MoesifResponse,
  MoesifStats,
  NextFunction,
  NextJsAppRouterOptions,
  RouteHandler,
  SubscriptionModel,
  UserModel,
} from './types.js';
export { backoffDelay, parseRetryAfter, isRetryable } from '../delivery/backoff.js';
export { normalizeBaseUri, defaultIdentifyUser } from './options.js';
export { SDK_HEADER_VALUE } from './transport.js';

/**
 * Requests to the collector under way at once. One was too few under load: a round trip includes
 * the busy app's own event loop (20 to 25 ms at 3,000 requests a second), so one batch of 25 at a
 * time carried at most 1,000 to 2,500 events a second and the queue overflowed (issue 18). Four
 * overlap the round trips without loading a struggling collector much.
 */
const MAX_IN_FLIGHT = 4;

/**
 * Events per POST when more than batchSize wait: the batch grows with the queue up to this (and
 * MAX_BATCH_BYTES), so four requests carry thousands of events a second even 50 ms away.
 */
const MAX_BATCH_COUNT = 1_000;

/**
 * Bytes per POST. Below the 1 MiB body limit of our reference collector (and well below Moesif's), so
 * 25 events with 100 KB bodies each become several requests instead of one that is refused with 413.
 */
const MAX_BATCH_BYTES = 512 * 1024;

/**
 * The queue's memory bound besides maxQueueSize: 10,000 events with 100 KB bodies would be gigabytes.
 * 32 M characters of JSON is at most ~64 MB of strings. Beyond it new events are queued without their
 * bodies (withoutBodies), within maxQueueSize; the oldest are dropped for an event with no body to
 * leave out.
 */
const MAX_QUEUE_CHARS = 32 * 1024 * 1024;

/**
 * The flushes of middlewares with events queued, run once when the process is about to end by
 * itself ('beforeExit': the event loop is empty, e.g. after server.close() on SIGTERM). Batch and
 * retry timers are unref'd so that delivery never keeps a process up; without this the last batch
 * was lost on every such exit (moesif-nodejs's ref'd timer sent it). A flush is taken out of the
 * set when it runs and only put back by a new event, so a collector that is down gets one attempt
 * and cannot keep the process alive. Module state on purpose: one process, one listener, however
 * many middlewares an app creates.
 */
const flushesAtExit = new Set<() => Promise<void>>();
let exitListener = false;

function flushAtExit(flush: () => Promise<void>): void {
  flushesAtExit.add(flush);
  if (exitListener) return;
  exitListener = true;
  process.on('beforeExit', () => {
    const flushes = [...flushesAtExit];
    flushesAtExit.clear();
    for (const run of flushes) void run();
  });
}

/** Koa's context, told from a request as moesif-nodejs tells it: the Node request and response, app and state. */
function koaContext(value: unknown): KoaContextLike | undefined {
  const ctx = value as Partial<KoaContextLike>;
  return ctx.req && ctx.res && ctx.state && ctx.app ? (ctx as KoaContextLike) : undefined;
}

/**
 * Hands the call on to the rest of the app, for an enabled and a disabled middleware alike. Koa calls
 * its middleware as (ctx, next) and waits for what it returns: its next is the second argument, and
 * what it returns is returned (taken for (req, res, next), the rest of a Koa app never ran and every
 * call was answered 404). Express's next, the third, returns nothing; a plain node:http app may call
 * the middleware as an observer, without one (moesif-nodejs allows that).
 */
function callNext(isKoa: boolean, koaNext: unknown, next: unknown): unknown {
  if (isKoa) return typeof koaNext === 'function' ? (koaNext as () => unknown)() : undefined;
  if (typeof next === 'function') (next as () => void)();
  return undefined;
}

/**
 * A route handler of Next.js's App Router, given to be wrapped (`moesif(options)(handler)`): a
 * function, where Express, Koa and node:http give a request or a context object. Told by its type, so
 * that code written for moesif-nodejs's `isNextJsAppRouter: true` works without the option too.
 */
function isRouteHandler(value: unknown): value is RouteHandler<Request, unknown> {
  return typeof value === 'function';
}

const EMPTY_STATS: MoesifStats = { queued: 0, sent: 0, dropped: 0, rejected: 0, failedRequests: 0 };

/**
 * Create the middleware. Never throws: without a usable `applicationId`/`baseUri` it prints one
 * console error and returns a middleware that only calls `next()`, so a missing environment variable
 * cannot take the API down.
 */
export function moesifMiddleware(options: NextJsAppRouterOptions): MoesifMiddleware;
export function moesifMiddleware(options: MoesifOptions): MoesifMiddleware;
export function moesifMiddleware(given: MoesifOptions | NextJsAppRouterOptions): MoesifMiddleware {
  // The hooks' types differ, not the options: a route handler's hooks get a Web Request and Response.
  const options = given as MoesifOptions;
  let resolved: ResolvedOptions | { error: string };
  const setupLog = createLog(false);
  try {
    resolved = resolveOptions(options, (message) => setupLog.warnOnce(message, message));
  } catch (error) {
    // Options given as a Proxy or with throwing getters: treat like missing ones.
    resolved = { error: `options could not be read (${errorName(error)})` };
  }

  if ('error' in resolved) {
    setupLog.error(resolved.error);
    // A route handler is handed back as it is.
    const passThrough = ((req, res, next) =>
      isRouteHandler(req) ? req : callNext(koaContext(req) !== undefined, res, next)) as MoesifMiddleware;
    return Object.assign(passThrough, {
      flush: () => Promise.resolve(),
      stats: () => ({ ...EMPTY_STATS }),
      // Nothing is logged without options, outgoing calls neither (the error above said so).
      startCaptureOutgoing: () => () => {},
      ...createUpdaters(undefined),
      ...governanceRules(setupLog),
    });
  }

  const opts = resolved;
  const log = createLog(opts.debug);
  const { callback } = opts;
  const callbackFailed = () => log.warnOnce('callback', 'the callback option threw; ignored');
  // One socket more than batches in flight, so a profile update never waits behind them.
  const send = createTransport({ ...opts, maxSockets: MAX_IN_FLIGHT + 1 });
  const outbox = createOutbox({
    send,
    path: '/v1/events/batch',
    batchSize: opts.batchSize,
    maxBatchCount: Math.max(opts.batchSize, MAX_BATCH_COUNT),
    maxBatchBytes: MAX_BATCH_BYTES,
    maxInFlight: MAX_IN_FLIGHT,
    batchMaxTime: opts.batchMaxTime,
    maxQueueSize: opts.maxQueueSize,
    maxQueueChars: MAX_QUEUE_CHARS,
    lighten: withoutBodies,
    retryBaseDelay: opts.retryBaseDelay,
    retryMaxDelay: opts.retryMaxDelay,
    log,
    // Called as moesif-nodejs calls it, so that its users' `if (err)` keeps meaning "not delivered".
    ...(callback ? { onOutcome: (outcome: DeliveryOutcome) => notify(callback, outcome, callbackFailed) } : {}),
  });
  // Events whose hooks are still running (they may be async); flush() waits for them.
  const building = new Set<Promise<void>>();
  // Where the events of incoming and outgoing calls go.
  const recording: Recording = {
    options: opts,
    log,
    onEvent(json) {
      outbox.push(json);
      flushAtExit(flush);
    },
    track(work) {
      building.add(work);
      void work.finally(() => building.delete(work));
    },
  };
  // Made once: per request, observing makes only what the exchange must keep (exchange.ts).
  const exchanges = createExchangeObserver(recording);
  const outgoing = createOutgoingCapture(recording);
  const wrapRouteHandler = createRouteHandlerWrapper(recording, () => flush());

  function observe(req: MoesifRequest, res: MoesifResponse): void {
    try {
      exchanges.observe(req, res);
    } catch (error) {
      // Whatever went wrong while setting up the recording, the request itself goes on unlogged.
      log.warnOnce('observe', `a request could not be observed (${errorName(error)})`);
    }
  }

  const middleware = ((req, res, next) => {
    if (isRouteHandler(req)) return wrapRouteHandler(req);
    const koa = koaContext(req);
    if (koa) {
      // moesif-nodejs supports Koa ("Koa Support"), with Koa's state on req.state for the hooks.
      if (koa.req.state === undefined) koa.req.state = koa.state;
      observe(koa.req, koa.res);
    } else observe(req, res);
    return callNext(koa !== undefined, res, next);
  }) as MoesifMiddleware;

  async function flush(): Promise<void> {
    await Promise.allSettled([...building]);
    await outbox.flush();
  }

  return Object.assign(middleware, {
    flush,
    stats: () => outbox.stats(),
    startCaptureOutgoing: outgoing.start,
    ...createUpdaters(send),
    ...governanceRules(log),
  });
}

/**
 * moesif-nodejs declares its options type in a namespace of its factory, so that code written for it
 * types them as `moesif.MoesifOptions` after `import moesif from 'moesif-nodejs'`; types only.
 */
export declare namespace moesifMiddleware {
  export type { MoesifOptions };
}

export default moesifMiddleware;
