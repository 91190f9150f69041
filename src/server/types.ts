/**
 * Public types of usertrail/server. Node only: nothing here may be imported by the browser SDK.
 * Field names on the wire are Moesif's (snake_case), so the same events work against Moesif's
 * collector and ours.
 *
 * The optional fields of what an app passes in (options, profiles, actions) take `undefined` too,
 * read as not given: `applicationId: process.env.MOESIF_APPLICATION_ID`, as the README writes it,
 * then compiles under exactOptionalPropertyTypes (on in TypeScript 6's `tsc --init`).
 * Hooks are declared as methods (see MoesifOptions), which cannot say so.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventPayload, Metadata, ServerDeliveryOutcome as DeliveryOutcome } from '../wire.js';

export type { Headers, Metadata, ServerDeliveryOutcome as DeliveryOutcome } from '../wire.js';

/**
 * The request as the middleware sees it: Node's IncomingMessage plus the fields that Express and
 * common auth middleware add. Structural, so the package does not depend on Express.
 */
export type MoesifRequest = IncomingMessage & {
  /** Set by a body parser (express.json(), express.text(), express.raw()). */
  body?: unknown;
  /** Set by express-jwt 7+ (decoded token) and similar auth middleware. */
  auth?: unknown;
  /** Set by express-jwt before 7, passport, and the moesif-nodejs docs' convention. */
  user?: unknown;
  /** Express: the URL before routers stripped their mount path. */
  originalUrl?: string;
  /** Express: 'http' or 'https', honouring the app's `trust proxy` setting. */
  protocol?: string;
  /** Express: the client address, honouring `trust proxy`. */
  ip?: string;
  /** Koa: `ctx.state` (koa-jwt's `ctx.state.user`), put here for the hooks as moesif-nodejs does. */
  state?: unknown;
};

export type MoesifResponse = ServerResponse;

/**
 * One API call, as Moesif's `/v1/events` endpoints take it (see wire.ts): one the server answered
 * (`Incoming`), or one the app made with node:http(s) after `startCaptureOutgoing()` (`Outgoing`).
 */
export interface MoesifEvent extends EventPayload {
  direction: 'Incoming' | 'Outgoing';
}

/** How the mocked objects read a header: by any case of its name, repeated values joined by ", ". */
export type MockedHeaderReader = (name: string) => string | undefined;

/**
 * What the hooks (`skip`, `identifyUser`, `identifyCompany`, `getSessionToken`, `getTags`,
 * `getMetadata`, `getApiVersion`) receive as the request of an outgoing call, in place of an
 * IncomingMessage: the fields moesif-nodejs's README lists under "Capture Outgoing API Calls".
 * Tell it from an incoming request by `mo_mocked`.
 */
export interface MockedRequest {
  /** Always true. moesif-nodejs's README names it `mo_mocked`, its code sets `_mo_mocked`: both are set. */
  mo_mocked: true;
  _mo_mocked: true;
  /** The headers the app sent, names in lower case, as `ClientRequest.getHeaders()` has them (Host included). */
  headers: Record<string, string | string[] | number | undefined>;
  /** The full URL called, e.g. `https://api.stripe.com/v1/charges?limit=3`. */
  url: string;
  /** GET, POST... */
  method: string;
  getHeader: MockedHeaderReader;
  get: MockedHeaderReader;
  /** The request body as it goes into the event (parsed JSON, text, or base64), secrets masked; undefined without one or with `logBody: false`. */
  body: unknown;
}

/** The response of an outgoing call, as the hooks receive it (see MockedRequest). */
export interface MockedResponse {
  mo_mocked: true;
  _mo_mocked: true;
  /** The headers the upstream answered with, names in lower case; none when the call failed. */
  headers: Record<string, string | string[] | undefined>;
  /** The upstream's status; 599 when no answer came (refused, timed out, aborted), as moesif-nodejs logs it. */
  statusCode: number;
  getHeader: MockedHeaderReader;
  get: MockedHeaderReader;
  /** The response body as it goes into the event, as for MockedRequest's. */
  body: unknown;
}

/** Campaign fields accepted in camelCase (moesif-nodejs style) or snake_case (wire style). */
export interface CampaignModel {
  utmSource?: string | undefined;
  utmMedium?: string | undefined;
  utmCampaign?: string | undefined;
  utmTerm?: string | undefined;
  utmContent?: string | undefined;
  referrer?: string | undefined;
  referringDomain?: string | undefined;
  gclid?: string | undefined;
  [key: string]: unknown;
}

/** A user profile for `updateUser`: only `userId` (or `user_id`) is required. */
export interface UserModel {
  userId?: string | undefined;
  user_id?: string | undefined;
  companyId?: string | undefined;
  company_id?: string | undefined;
  sessionToken?: string | undefined;
  ipAddress?: string | undefined;
  userAgentString?: string | undefined;
  modifiedTime?: string | Date | undefined;
  campaign?: CampaignModel | undefined;
  metadata?: Metadata | undefined;
  [key: string]: unknown;
}

/** A company profile for `updateCompany`: only `companyId` (or `company_id`) is required. */
export interface CompanyModel {
  companyId?: string | undefined;
  company_id?: string | undefined;
  companyDomain?: string | undefined;
  sessionToken?: string | undefined;
  ipAddress?: string | undefined;
  modifiedTime?: string | Date | undefined;
  campaign?: CampaignModel | undefined;
  metadata?: Metadata | undefined;
  [key: string]: unknown;
}

/**
 * A subscription for `updateSubscription` (moesif-nodejs's SubscriptionModel): `subscriptionId` and
 * `companyId` (or their snake_case forms) are required.
 */
export interface SubscriptionModel {
  subscriptionId?: string | undefined;
  subscription_id?: string | undefined;
  companyId?: string | undefined;
  company_id?: string | undefined;
  currentPeriodStart?: string | Date | undefined;
  currentPeriodEnd?: string | Date | undefined;
  /** active, cancelled, paused, trialing, pending, draft or future. */
  status?: string | undefined;
  metadata?: Metadata | undefined;
  [key: string]: unknown;
}

/** The request an action happened on, as the app describes it: only `uri` is required. */
export interface ActionRequestModel {
  uri?: string | undefined;
  time?: string | Date | undefined;
  verb?: string | undefined;
  /** Sent as ip_address (camelCase keys become snake_case, as for models). */
  ipAddress?: string | undefined;
  /** Sent as user_agent_string. */
  userAgentString?: string | undefined;
  headers?: Record<string, string> | undefined;
  [key: string]: unknown;
}

/**
 * An action for `sendAction` (moesif-nodejs's ActionModel): `actionName` and `request.uri` are
 * required, as moesif-nodejs checks. No transaction id is made up when none is given, as in moesif-nodejs.
 */
export interface ActionModel {
  actionName?: string | undefined;
  action_name?: string | undefined;
  transactionId?: string | undefined;
  userId?: string | undefined;
  companyId?: string | undefined;
  sessionToken?: string | undefined;
  request?: ActionRequestModel | undefined;
  metadata?: Metadata | undefined;
  [key: string]: unknown;
}

/**
 * A governance rule as moesif-nodejs returns it from getApplicableRulesFor*Id. usertrail/server has no
 * governance rules, so it only ever returns an empty list of them.
 */
export type GovernanceRule = Record<string, unknown>;

/** A value that may be returned directly or through a promise (moesif-nodejs accepts both). */
export type MaybePromise<T> = T | Promise<T>;

/**
 * moesif-nodejs 3.11's options that this middleware does not have: typed, so that an app written for
 * moesif-nodejs compiles unchanged, and ignored at run time with one warning naming each.
 */
export interface MoesifOnlyOptions {
  /** @deprecated Not supported by usertrail/server (credentials and card numbers are always masked): ignored, with a warning. */
  noAutoHideSensitive?: boolean | undefined;
  /** @deprecated Not supported by usertrail/server (events always go in batches; see `batchSize`): ignored, with a warning. */
  disableBatching?: boolean | undefined;
  /** @deprecated Not supported by usertrail/server (it retries with backoff until delivered): ignored, with a warning. */
  retry?: number | undefined;
}

/**
 * The hooks that tell who made a call and what to record of it, each given the call's request and
 * response: Node's (MoesifOptions), or a route handler's Web Request and Response
 * (NextJsAppRouterOptions). Declared as methods: see MoesifOptions.
 */
export interface MoesifHooks<Req, Res> {
  /** @default req.user?.id, then req.auth?.id and req.auth?.sub (express-jwt 7+), then req.user?.sub, then Koa's req.state.user (sub, then id) */
  identifyUser?(req: Req, res: Res): MaybePromise<string | number | undefined | null>;
  /** @default none */
  identifyCompany?(req: Req, res: Res): MaybePromise<string | number | undefined | null>;
  /** @default none (the Authorization header is never sent as a session token by default) */
  getSessionToken?(req: Req, res: Res): MaybePromise<string | undefined | null>;
  /**
   * Any plain object (an interface of the app's too, as moesif-nodejs types it `object`); an array or
   * another value is left out.
   */
  getMetadata?(req: Req, res: Res): MaybePromise<object | undefined | null>;
  /** Comma-separated tags. */
  getTags?(req: Req, res: Res): MaybePromise<string | undefined | null>;
  getApiVersion?(req: Req, res: Res): MaybePromise<string | undefined | null>;
  /**
   * Return true (any truthy value, as for moesif-nodejs) to not log this call; undefined logs it.
   * Called when the response has finished. @default never skip
   */
  skip?(req: Req, res: Res): MaybePromise<unknown>;
}

/**
 * Options, with moesif-nodejs's names. Hooks are declared as methods on purpose: method parameters
 * are checked bivariantly, so a hook typed `(req: express.Request) => ...` is accepted although this
 * package only promises an IncomingMessage. After `startCaptureOutgoing()` the hooks are called for
 * outgoing calls too, with a MockedRequest and a MockedResponse (`mo_mocked` is true) in place of
 * `req` and `res`, as in moesif-nodejs: typed for incoming calls here, so an app's hooks keep compiling.
 */
export interface MoesifOptions extends MoesifOnlyOptions, MoesifHooks<MoesifRequest, MoesifResponse> {
  /**
   * Sent as X-Moesif-Application-Id; when not given, the MOESIF_APPLICATION_ID environment variable
   * (as moesif-nodejs's README says). Without either the middleware only calls `next()`.
   */
  applicationId?: string | undefined;
  /**
   * The collector: a full URL (`https://api.moesif.net`, `http://127.0.0.1:8080/prefix`) or a bare
   * `host:port` (https, or http for loopback hosts).
   * @default 'https://api.moesif.net'
   */
  baseUri?: string | undefined;
  /**
   * @deprecated Write `applicationId`. Read as it, as moesif-nodejs's code reads it; when both are
   * given, `applicationId` wins (and a warning says so if they differ).
   */
  ApplicationId?: string | undefined;
  /**
   * @deprecated Write `baseUri`. Read as it, as moesif-nodejs's code reads it; when both are given,
   * `baseUri` wins (and a warning says so if they differ).
   */
  BaseUri?: string | undefined;
  /**
   * Last chance to edit or remove fields of the event before it is queued. The object it returns is
   * sent (a copy made with lodash's omit, say); a return that is not an object sends the event as edited.
   */
  maskContent?(event: MoesifEvent): MaybePromise<object>;
  /** Record request and response bodies. @default true */
  logBody?: boolean | undefined;
  /** Bytes of request body kept in the event; the request itself is never touched. @default 100000 */
  requestMaxBodySize?: number | undefined;
  /** Bytes of response body kept in the event; the response itself is never touched. @default 100000 */
  responseMaxBodySize?: number | undefined;
  /**
   * Events waiting that send a batch to /v1/events/batch at once, before batchMaxTime. Not a cap:
   * under load one POST carries everything waiting, up to 1,000 events or 512 KB. @default 200
   */
  batchSize?: number | undefined;
  /** Longest wait (ms) before a partly filled batch is sent. @default 2000 */
  batchMaxTime?: number | undefined;
  /** Events kept while the collector is unreachable; beyond it the oldest are dropped and counted. @default 10000 */
  maxQueueSize?: number | undefined;
  /** First retry delay (ms) of the exponential backoff; doubles per attempt, full jitter. @default 1000 */
  retryBaseDelay?: number | undefined;
  /** Longest retry delay (ms). @default 60000 */
  retryMaxDelay?: number | undefined;
  /** Time limit (ms) for one request to the collector. @default 10000 */
  requestTimeout?: number | undefined;
  /**
   * Compress batches with gzip (`Content-Encoding: gzip`), as moesif-nodejs always does. Set false
   * for a collector that cannot decode it. @default true
   */
  gzip?: boolean | undefined;
  /**
   * Time limit (ms) for the hooks of one event together: a hook still pending then (a lookup whose
   * database never answers) gets its default, so it cannot hold the event or flush() for good.
   * @default 5000
   */
  hookTimeout?: number | undefined;
  /**
   * Called after each request to the collector, as moesif-nodejs calls it: `error` is null when the
   * batch was delivered, else an Error whose message is the reason (`HTTP 503`, `ECONNREFUSED`).
   * The second argument differs: moesif-nodejs passes the batch's events, this `outcome` tells the
   * status and the number of events (`outcome.count`, where moesif-nodejs code reads `events.length`).
   */
  callback?(error: Error | null, outcome: DeliveryOutcome): void;
  /**
   * As moesif-nodejs: each logged call gets an `X-Moesif-Transaction-Id` response header, the
   * client's own when its request carried one, else a new UUID, and the event's `transaction_id` is
   * that id. true adds no header and gives each event a new id of its own.
   * @default false
   */
  disableTransactionId?: boolean | undefined;
  /** Log counts, statuses and paths (never payloads) to the console. @default false */
  debug?: boolean | undefined;
  /**
   * Longest wait (ms) for an outgoing call to finish: one still running then (no answer yet, or a
   * body the app has not read to its end) is logged with what was seen so far, as 599 when no answer
   * came. Only with `startCaptureOutgoing()`. @default 30000
   */
  maxOutgoingTimeout?: number | undefined;
  /**
   * Accepted for moesif-nodejs code, and not needed: usertrail/server records an outgoing response
   * as the app reads it, however the app's HTTP client reads it, which is what this option of
   * moesif-nodejs tries to cover. No effect.
   */
  outgoingPatch?: boolean | undefined;
  /**
   * For moesif-nodejs code written for Next.js's App Router, where the middleware wraps route handlers
   * (`export const GET = moesif(options)(handler)`); typed with NextJsAppRouterOptions when true. Not
   * needed: the middleware tells a route handler (a function) from a request by itself.
   */
  isNextJsAppRouter?: boolean | undefined;
}

/**
 * The options of moesif-nodejs code for Next.js's App Router (`isNextJsAppRouter: true`): the hooks
 * get the route handler's Request (a NextRequest) and the Response the client gets.
 */
export interface NextJsAppRouterOptions
  extends Omit<MoesifOptions, keyof MoesifHooks<MoesifRequest, MoesifResponse> | 'isNextJsAppRouter'>,
    MoesifHooks<Request, Response> {
  isNextJsAppRouter: true;
}

/** A route handler of Next.js's App Router: the request (a NextRequest) and the route's context (its `params`) in, a Response out. */
export type RouteHandler<Req, Context> = (request: Req, context: Context) => Response | Promise<Response>;

/** Counters of the delivery queue, for health checks and tests. */
export interface MoesifStats {
  /** Events waiting to be sent (including a batch in flight). */
  queued: number;
  /** Events the collector accepted. */
  sent: number;
  /** Events dropped because the queue was full (oldest first). */
  dropped: number;
  /** Events the collector refused with a non-retryable status (4xx other than 408/429). */
  rejected: number;
  /** Requests to the collector that failed (any status that is not 2xx, or no answer). */
  failedRequests: number;
}

export type NextFunction = (err?: unknown) => void;

/**
 * Koa's context as the middleware tells it from a request (moesif-nodejs's test): the Node request
 * and response, the state and the app. Structural, so the package does not depend on Koa.
 */
export interface KoaContextLike {
  req: MoesifRequest;
  res: MoesifResponse;
  state: unknown;
  app: unknown;
}

/** The middleware function, with moesif-nodejs's helper methods on it. */
export interface MoesifMiddleware {
  /** `next` is optional: a plain node:http app may call it as an observer before its own handler. */
  (req: MoesifRequest, res: MoesifResponse, next?: NextFunction): void;
  /** Koa's `(ctx, next)`, so that `app.use(moesif(options))` compiles in a Koa app as with moesif-nodejs: returns what `next()` returns. */
  (ctx: KoaContextLike, next: () => Promise<unknown>): Promise<unknown>;
  /**
   * A route handler of Next.js's App Router, wrapped so that each of its calls is logged
   * (`export const GET = moesif(options)(handler)`, as with moesif-nodejs's `isNextJsAppRouter`).
   */
  <Req extends Request, Context>(handler: RouteHandler<Req, Context>): (request: Req, context: Context) => Promise<Response>;
  /** Send everything queued now; resolves when the queue is empty or the collector failed once. Never rejects. */
  flush(): Promise<void>;
  stats(): MoesifStats;
  /**
   * Log the calls the app makes with node:http and node:https (`request` and `get`) as events with
   * `direction: 'Outgoing'`, through the same options and queue as incoming calls; the hooks then get
   * a MockedRequest and a MockedResponse. Once per process: while one middleware captures, other
   * calls (of it or of another middleware) change nothing. Global `fetch` is not captured (neither
   * does moesif-nodejs 3.11). Returns a function that stops this middleware's capture.
   */
  startCaptureOutgoing(): () => void;
  /** Create or update a user profile (POST /v1/users). Never rejects: failures are in the outcome. */
  updateUser(user: UserModel, cb?: (error: Error | null, outcome: DeliveryOutcome) => void): Promise<DeliveryOutcome>;
  updateUsersBatch(users: UserModel[], cb?: (error: Error | null, outcome: DeliveryOutcome) => void): Promise<DeliveryOutcome>;
  /** Create or update a company profile (POST /v1/companies). Never rejects. */
  updateCompany(company: CompanyModel, cb?: (error: Error | null, outcome: DeliveryOutcome) => void): Promise<DeliveryOutcome>;
  updateCompaniesBatch(
    companies: CompanyModel[],
    cb?: (error: Error | null, outcome: DeliveryOutcome) => void,
  ): Promise<DeliveryOutcome>;
  /** Create or update a company's subscription (POST /v1/subscriptions). Never rejects. */
  updateSubscription(subscription: SubscriptionModel, cb?: (error: Error | null, outcome: DeliveryOutcome) => void): Promise<DeliveryOutcome>;
  updateSubscriptionsBatch(
    subscriptions: SubscriptionModel[],
    cb?: (error: Error | null, outcome: DeliveryOutcome) => void,
  ): Promise<DeliveryOutcome>;
  /** Record something a user did, server side (POST /v1/actions). Never rejects. */
  sendAction(action: ActionModel, cb?: (error: Error | null, outcome: DeliveryOutcome) => void): Promise<DeliveryOutcome>;
  sendActionsBatch(actions: ActionModel[], cb?: (error: Error | null, outcome: DeliveryOutcome) => void): Promise<DeliveryOutcome>;
  /**
   * Accepted for moesif-nodejs code: usertrail/server has no governance rules, so these return an empty
   * list, as moesif-nodejs does for an application without rules, and one warning says so.
   */
  getApplicableRulesForUserId(userId: unknown): GovernanceRule[];
  getApplicableRulesForCompanyId(companyId: unknown): GovernanceRule[];
}
