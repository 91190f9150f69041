/**
 * usertrail/server: an Express/Connect middleware that logs each API call to a Moesif-compatible
 * collector, attributed to the user and company (issue 6). A drop-in for moesif-nodejs's
 * `moesif({...})`. Node only; this entry only wires the modules below and names every export.
 */
import { createOutbox } from './outbox.js';
import { idString, observeExchange } from './event.js';
import { createLog, errorName, type Log } from './log.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { createTransport, type Send } from './transport.js';
import type {
  ActionModel,
  CampaignModel,
  CompanyModel,
  DeliveryOutcome,
  GovernanceRule,
  MoesifMiddleware,
  MoesifOptions,
  MoesifRequest,
  MoesifResponse,
  MoesifStats,
  SubscriptionModel,
  UserModel,
} from './types.js';
import type { BatchPath, ServerKind, SinglePath } from '../wire.js';

export type {
  ActionModel,
  ActionRequestModel,
  CampaignModel,
  CompanyModel,
  DeliveryOutcome,
  GovernanceRule,
  Headers,
  MaybePromise,
  Metadata,
  MoesifEvent,
  MoesifMiddleware,
  MoesifOptions,
  MoesifRequest,
  MoesifResponse,
  MoesifStats,
  NextFunction,
  SubscriptionModel,
  UserModel,
} from './types.js';
export { backoffDelay, parseRetryAfter, isRetryable } from '../delivery/backoff.js';
export { normalizeBaseUri, defaultIdentifyUser } from './options.js';
export { SDK_HEADER_VALUE } from './transport.js';

type Callback = ((error: Error | null, outcome: DeliveryOutcome) => void) | undefined;

/** moesif-nodejs takes camelCase profiles; the wire is snake_case. Unknown keys pass through. */
function snakeKey(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function toWireProfile(model: UserModel | CompanyModel): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(model)) {
    if (value === undefined) continue;
    if (key === 'metadata') out.metadata = value; // the app's own keys: never renamed
    else if (key === 'campaign' && value !== null && typeof value === 'object') {
      const campaign: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as CampaignModel)) campaign[snakeKey(k)] = v;
      out.campaign = campaign;
    } else if (value instanceof Date) out[snakeKey(key)] = value.toISOString();
    else {
      const wireKey = snakeKey(key);
      // An ObjectId or a BigInt id as its string, as for calls; a BigInt would not even serialize.
      out[wireKey] = wireKey === 'user_id' || wireKey === 'company_id' ? (idString(value) ?? value) : value;
    }
  }
  return out;
}

/** moesif-nodejs's first callback argument: null when the collector took the request, else an Error. */
const errorOf = (outcome: DeliveryOutcome): Error | null =>
  outcome.error === undefined && outcome.status >= 200 && outcome.status < 300 ? null : new Error(outcome.error ?? `HTTP ${outcome.status}`);

/**
 * Call one of the app's callbacks with an outcome. What it throws is its own business, and so is
 * the promise an async callback returns: rejected and left alone, it would be an unhandled
 * rejection, which ends a Node process by default.
 */
function notify(cb: NonNullable<Callback>, outcome: DeliveryOutcome, onError: () => void = () => {}): void {
  try {
    const result: unknown = cb(errorOf(outcome), outcome);
    if (result instanceof Promise) result.catch(onError);
  } catch {
    onError();
  }
}

function settle(outcome: DeliveryOutcome, cb: Callback): DeliveryOutcome {
  if (cb) notify(cb, outcome);
  return outcome;
}

/**
 * Subscriptions and actions as moesif-nodejs sends them: keys in snake_case (an action's request too,
 * where moesif-nodejs renames ipAddress and userAgentString), Dates as ISO strings, ids as strings, and
 * fields without a value (undefined or null) left out, as moesifapi leaves them out. Unlike
 * moesif-nodejs, snake_case keys are taken too and unknown keys pass through, as for profiles.
 */
function toWireItem(model: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(model)) {
    if (value === undefined || value === null) continue;
    const wireKey = snakeKey(key);
    if (key === 'metadata') out.metadata = value; // the app's own keys: never renamed
    else if (key === 'request' && typeof value === 'object') out.request = toWireItem(value);
    else if (value instanceof Date) out[wireKey] = value.toISOString();
    else out[wireKey] = wireKey.endsWith('_id') && wireKey !== 'transaction_id' ? (idString(value) ?? value) : value;
  }
  return out;
}

/** How one kind of item goes on the wire, and what it must have (undefined when it has it). */
interface WireRules {
  kind: ServerKind;
  toWire(item: object): Record<string, unknown>;
  missing(wire: Record<string, unknown>): string | undefined;
}

const isId = (value: unknown) => typeof value === 'string' || typeof value === 'number';
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object';

const profileRules = (kind: 'users' | 'companies', idKey: 'user_id' | 'company_id'): WireRules => ({
  kind,
  toWire: toWireProfile,
  missing: (wire) => (isId(wire[idKey]) ? undefined : `${idKey} is required`),
});

const RULES = {
  users: profileRules('users', 'user_id'),
  companies: profileRules('companies', 'company_id'),
  subscriptions: {
    kind: 'subscriptions',
    toWire: toWireItem,
    // Moesif's API requires both; moesif-nodejs would send the subscription without them and be refused.
    missing: (wire) => (!isId(wire.subscription_id) ? 'subscription_id is required' : !isId(wire.company_id) ? 'company_id is required' : undefined),
  },
  actions: {
    kind: 'actions',
    toWire: toWireItem,
    // What moesif-nodejs checks before it sends an action.
    missing: (wire) =>
      typeof wire.action_name !== 'string' || wire.action_name === ''
        ? 'action_name is required'
        : !isObject(wire.request) || typeof wire.request.uri !== 'string' || wire.request.uri === ''
          ? 'request.uri is required'
          : undefined,
  },
} satisfies Record<string, WireRules>;

/**
 * The updaters of profiles, subscriptions and actions: one immediate POST each, no queue (they are
 * rare and the app awaits them). Bad input is an outcome with an error, never a throw or a rejection.
 */
function createUpdaters(send: Send | undefined) {
  async function post(path: SinglePath | BatchPath, items: unknown[], rules: WireRules, cb: Callback) {
    const { kind } = rules;
    let wire: Array<Record<string, unknown>>;
    try {
      // A hole in a batch (null) has no id; a getter of the app's object may throw: values, not rejections.
      wire = items.map((item) => (isObject(item) ? rules.toWire(item) : {}));
    } catch (error) {
      return settle({ status: 0, kind, count: items.length, error: errorName(error) }, cb);
    }
    if (!send) return settle({ status: 0, kind, count: wire.length, error: 'middleware disabled (see the console error)' }, cb);
    const missing = wire.length === 0 ? rules.missing({}) : wire.map(rules.missing).find((problem) => problem !== undefined);
    if (missing !== undefined) return settle({ status: 0, kind, count: wire.length, error: missing }, cb);
    let json: string;
    try {
      json = JSON.stringify(wire.length === 1 && !path.endsWith('/batch') ? wire[0] : wire);
    } catch (error) {
      return settle({ status: 0, kind, count: wire.length, error: errorName(error) }, cb);
    }
    const result = await send(path, json);
    const outcome: DeliveryOutcome = { status: result.status, kind, count: wire.length };
    if (result.error !== undefined) outcome.error = result.error;
    else if (result.status < 200 || result.status >= 300) outcome.error = `HTTP ${result.status}`;
    return settle(outcome, cb);
  }
  const list = (items: unknown): unknown[] => (Array.isArray(items) ? items : []);
  return {
    updateUser: (user: UserModel, cb?: Callback) => post('/v1/users', [user ?? {}], RULES.users, cb),
    updateUsersBatch: (users: UserModel[], cb?: Callback) => post('/v1/users/batch', list(users), RULES.users, cb),
    updateCompany: (company: CompanyModel, cb?: Callback) => post('/v1/companies', [company ?? {}], RULES.companies, cb),
    updateCompaniesBatch: (companies: CompanyModel[], cb?: Callback) => post('/v1/companies/batch', list(companies), RULES.companies, cb),
    updateSubscription: (subscription: SubscriptionModel, cb?: Callback) =>
      post('/v1/subscriptions', [subscription ?? {}], RULES.subscriptions, cb),
    updateSubscriptionsBatch: (subscriptions: SubscriptionModel[], cb?: Callback) =>
      post('/v1/subscriptions/batch', list(subscriptions), RULES.subscriptions, cb),
    sendAction: (action: ActionModel, cb?: Callback) => post('/v1/actions', [action ?? {}], RULES.actions, cb),
    sendActionsBatch: (actions: ActionModel[], cb?: Callback) => post('/v1/actions/batch', list(actions), RULES.actions, cb),
  };
}

/**
 * moesif-nodejs's governance rules (blocking or changing a response by user or company) come from
 * Moesif's config; usertrail/server has none. Code written for moesif-nodejs asks for the rules that
 * apply to a user and acts on the list, so it gets what moesif-nodejs returns for an application
 * without rules: an empty list (a new one each time), with one warning that rules are not supported.
 */
function governanceRules(log: Log) {
  const none = (): GovernanceRule[] => {
    log.warnOnce('governance', 'governance rules are not supported by usertrail/server: getApplicableRulesFor*Id() returns no rules');
    return [];
  };
  return { getApplicableRulesForUserId: (_userId: unknown) => none(), getApplicableRulesForCompanyId: (_companyId: unknown) => none() };
}

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
 * 32 M characters of JSON is at most ~64 MB of strings; beyond it the oldest events are dropped.
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
function koaContext(value: unknown): { req: MoesifRequest; res: MoesifResponse; state: unknown } | undefined {
  const ctx = value as { req?: unknown; res?: unknown; state?: unknown; app?: unknown };
  return ctx.req && ctx.res && ctx.state && ctx.app ? (ctx as { req: MoesifRequest; res: MoesifResponse; state: unknown }) : undefined;
}

const EMPTY_STATS: MoesifStats = { queued: 0, sent: 0, dropped: 0, rejected: 0, failedRequests: 0 };

/**
 * moesif-nodejs's quick start calls `startCaptureOutgoing()` right after creating the middleware, so
 * without it an app swapped over threw "is not a function" at start-up. Outgoing calls are not
 * captured here: it says so once and returns.
 */
function outgoingCapture(log: Log) {
  return () => log.warnOnce('startCaptureOutgoing', 'outgoing API calls are not captured by usertrail/server: startCaptureOutgoing() ignored');
}

/**
 * Create the middleware. Never throws: without a usable `applicationId`/`baseUri` it prints one
 * console error and returns a middleware that only calls `next()`, so a missing environment variable
 * cannot take the API down.
 */
export function moesifMiddleware(options: MoesifOptions): MoesifMiddleware {
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
    const passThrough = ((req, res, next) => {
      // Koa's (ctx, next): its next is the second argument, and Koa waits for what it returns.
      if (koaContext(req)) return typeof res === 'function' ? (res as () => unknown)() : undefined;
      if (typeof next === 'function') next();
      return undefined;
    }) as MoesifMiddleware;
    return Object.assign(passThrough, {
      flush: () => Promise.resolve(),
      stats: () => ({ ...EMPTY_STATS }),
      startCaptureOutgoing: outgoingCapture(setupLog),
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
    retryBaseDelay: opts.retryBaseDelay,
    retryMaxDelay: opts.retryMaxDelay,
    log,
    // Called as moesif-nodejs calls it, so that its users' `if (err)` keeps meaning "not delivered".
    ...(callback ? { onOutcome: (outcome: DeliveryOutcome) => notify(callback, outcome, callbackFailed) } : {}),
  });
  // Events whose hooks are still running (they may be async); flush() waits for them.
  const building = new Set<Promise<void>>();
  // Requests this middleware already observes: mounted twice on overlapping paths (app and router),
  // a call would otherwise be logged twice, its body recorded twice.
  const observed = new WeakSet<object>();

  function observe(req: MoesifRequest, res: MoesifResponse): void {
    if (observed.has(req)) return;
    observed.add(req);
    try {
      observeExchange(req, res, {
        options: opts,
        log,
        onEvent: (json) => {
          outbox.push(json);
          flushAtExit(flush);
        },
        track(work) {
          building.add(work);
          void work.finally(() => building.delete(work));
        },
      });
    } catch (error) {
      // Whatever went wrong while setting up the recording, the request itself goes on unlogged.
      log.warnOnce('observe', `a request could not be observed (${errorName(error)})`);
    }
  }

  const middleware = ((req, res, next) => {
    const koa = koaContext(req);
    if (koa) {
      // Koa calls its middleware as (ctx, next) and waits for what it returns; moesif-nodejs supports
      // it ("Koa Support"), with Koa's state on req.state for the hooks. Taken for (req, res, next),
      // the rest of the app never ran and every call was answered 404.
      if (koa.req.state === undefined) koa.req.state = koa.state;
      observe(koa.req, koa.res);
      return typeof res === 'function' ? (res as () => unknown)() : undefined;
    }
    observe(req, res);
    // Plain node:http apps may call it as an observer, without a next (moesif-nodejs allows that).
    if (typeof next === 'function') next();
    return undefined;
  }) as MoesifMiddleware;

  async function flush(): Promise<void> {
    await Promise.allSettled([...building]);
    await outbox.flush();
  }

  return Object.assign(middleware, {
    flush,
    stats: () => outbox.stats(),
    startCaptureOutgoing: outgoingCapture(log),
    ...createUpdaters(send),
    ...governanceRules(log),
  });
}

export default moesifMiddleware;
