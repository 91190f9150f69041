/**
 * Options: one defaults object and one `resolveOptions()`, so the rest of the code only sees the
 * resolved type and never checks for `undefined`. Values are read with `??`, not `||`, so that an
 * explicit 0 or false is honoured (e.g. `logBody: false`).
 */
import type { DeliveryOutcome, MoesifEvent, MoesifOnlyOptions, MoesifOptions, MoesifRequest, MoesifResponse } from './types.js';

export const DEFAULTS = {
  baseUri: 'https://api.moesif.net',
  logBody: true,
  requestMaxBodySize: 100_000,
  responseMaxBodySize: 100_000,
  // moesif-nodejs's default. At 25, a busy app sent three times as many requests, each costing it
  // about 0.7 ms of CPU (issue 18: 9.5 µs less per logged call at 200); batchMaxTime still bounds
  // how long an event waits.
  batchSize: 200,
  batchMaxTime: 2_000,
  maxQueueSize: 10_000,
  retryBaseDelay: 1_000,
  retryMaxDelay: 60_000,
  requestTimeout: 10_000,
  gzip: true,
  hookTimeout: 5_000,
  disableTransactionId: false,
  debug: false,
  maxOutgoingTimeout: 30_000,
} as const;

/** A hook of the options (skip, identifyUser...), as the rest of the code calls it. */
export type Hook = (req: MoesifRequest, res: MoesifResponse) => unknown;

export interface ResolvedOptions {
  applicationId: string;
  /** Without a trailing slash; may carry a path prefix. */
  baseUri: string;
  identifyUser: Hook;
  identifyCompany: Hook | undefined;
  getSessionToken: Hook | undefined;
  getMetadata: Hook | undefined;
  getTags: Hook | undefined;
  getApiVersion: Hook | undefined;
  skip: Hook | undefined;
  maskContent: ((event: MoesifEvent) => unknown) | undefined;
  logBody: boolean;
  requestMaxBodySize: number;
  responseMaxBodySize: number;
  batchSize: number;
  batchMaxTime: number;
  maxQueueSize: number;
  retryBaseDelay: number;
  retryMaxDelay: number;
  requestTimeout: number;
  gzip: boolean;
  hookTimeout: number;
  callback: ((error: Error | null, outcome: DeliveryOutcome) => void) | undefined;
  disableTransactionId: boolean;
  debug: boolean;
  maxOutgoingTimeout: number;
}

/** A property of an unknown value, without throwing on getters or null. */
function prop(value: unknown, key: string): unknown {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  return (value as Record<string, unknown>)[key];
}

/**
 * The default user: the verified token's `id` claim, as the seed's guide uses it ("the JWT's id
 * field"), then its `sub`. express-jwt before 7 (and passport) put the payload on `req.user`,
 * express-jwt 7+ on `req.auth`: `req.user.id` (moesif-nodejs's own default), then `req.auth.id`,
 * `req.auth.sub`, `req.user.sub`. Without `req.auth.id` the guide's token under express-jwt 8
 * was logged anonymously, or under its `sub` when it had one. In a Koa app, koa-jwt's
 * `ctx.state.user` (on req.state), `sub` then `id`, as moesif-nodejs reads it.
 */
export function defaultIdentifyUser(req: MoesifRequest): unknown {
  const koaUser = prop(req.state, 'user'); // koa-jwt's ctx.state.user, which moesif-nodejs reads (sub, then id)
  return prop(req.user, 'id') ?? prop(req.auth, 'id') ?? prop(req.auth, 'sub') ?? prop(req.user, 'sub') ?? prop(koaUser, 'sub') ?? prop(koaUser, 'id');
}

/**
 * `https://host[:port][/prefix]`, `http://...`, or a bare `host[:port]` (https, except loopback hosts,
 * which are http as a local collector has no certificate). Returns undefined when unusable: logging
 * to a default collector instead of the one the app named would send its data somewhere unexpected.
 */
export function normalizeBaseUri(input: string): string | undefined {
  const trimmed = input.trim();
  if (!trimmed) return undefined;
  let candidate = trimmed;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(candidate)) {
    const host = candidate.split(/[/:]/)[0]?.toLowerCase() ?? '';
    const loopback = host === 'localhost' || host.startsWith('127.') || candidate.startsWith('[::1]');
    candidate = `${loopback ? 'http' : 'https'}://${candidate}`;
  }
  try {
    const url = new URL(candidate);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return undefined;
  }
}

/** A number as given, or as a numeric string (options are often read from environment variables). */
function numberFrom(value: unknown): number {
  if (typeof value === 'number') return value;
  return typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
}

/**
 * true/false, their strings (`logBody: process.env.LOG_BODY` with "false" must mean false), or 1/0
 * (`logBody: 0` logs no bodies with moesif-nodejs, which reads the option as Boolean(logBody)).
 */
function booleanFrom(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

/** Every option name, as a record so that the compiler says when one is added to MoesifOptions and not here. */
const KNOWN_OPTIONS: Record<Exclude<keyof MoesifOptions, keyof MoesifOnlyOptions>, true> = {
  applicationId: true,
  ApplicationId: true,
  baseUri: true,
  BaseUri: true,
  identifyUser: true,
  identifyCompany: true,
  getSessionToken: true,
  getMetadata: true,
  getTags: true,
  getApiVersion: true,
  skip: true,
  maskContent: true,
  logBody: true,
  requestMaxBodySize: true,
  responseMaxBodySize: true,
  batchSize: true,
  batchMaxTime: true,
  maxQueueSize: true,
  retryBaseDelay: true,
  retryMaxDelay: true,
  requestTimeout: true,
  gzip: true,
  hookTimeout: true,
  callback: true,
  disableTransactionId: true,
  debug: true,
  maxOutgoingTimeout: true,
  outgoingPatch: true,
  isNextJsAppRouter: true,
};

/** moesif-nodejs options this middleware does not have (masking, for one, cannot be turned off). */
const MOESIF_ONLY: Record<keyof MoesifOnlyOptions, true> = {
  noAutoHideSensitive: true,
  disableBatching: true,
  retry: true,
};

/** Why an option name is not used: a typo of a known one (case), a moesif-nodejs option we lack, or unknown. */
function unknownOption(name: string): string {
  if (Object.prototype.hasOwnProperty.call(MOESIF_ONLY, name)) return `option "${name}" is not supported by usertrail/server: ignored`;
  const known = Object.keys(KNOWN_OPTIONS).find((key) => key.toLowerCase() === name.toLowerCase());
  return `option "${name}" is unknown${known ? ` (did you mean "${known}"?)` : ''}: ignored`;
}

/**
 * An option moesif-nodejs's code reads under two names, `applicationId || ApplicationId` and
 * `baseUri || BaseUri` (lib/index.js; the capitalised ones are its API client's configuration names,
 * not in its README): the lower-case one when given, else the other. A proxy written `BaseUri` was
 * ignored with a warning, and its events went to api.moesif.net instead. Both given and different:
 * the capitalised one is ignored, as there, and a warning says so. Undefined when neither is given.
 */
function eitherSpelling(
  o: Partial<MoesifOptions>,
  name: 'applicationId' | 'baseUri',
  capitalised: 'ApplicationId' | 'BaseUri',
  warn: (message: string) => void,
): unknown {
  const given = (value: unknown) => value !== undefined && value !== null && value !== '';
  if (!given(o[name])) return given(o[capitalised]) ? o[capitalised] : undefined;
  if (given(o[capitalised]) && o[capitalised] !== o[name]) warn(`option "${capitalised}" ignored: "${name}" is given too, and wins as with moesif-nodejs`);
  return o[name];
}

/** Characters Node refuses in a header value (it throws before sending). */
const NOT_IN_HEADER = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * The resolved options, or a reason why the middleware cannot log (it then only calls `next()`).
 * An option given with a value it cannot use gets its default and one `warn`, naming the option but
 * not the value. Undefined, null and '' mean "not given", as for moesif-nodejs.
 */
export function resolveOptions(
  options: MoesifOptions | undefined,
  warn: (message: string) => void = () => {},
): ResolvedOptions | { error: string } {
  const o: Partial<MoesifOptions> = options ?? {};
  const appId = eitherSpelling(o, 'applicationId', 'ApplicationId', warn);
  // moesif-nodejs's README: "If you set the environment variable as MOESIF_APPLICATION_ID, Moesif
  // automatically picks it up without you having to explicitly specify it in the applicationId key."
  const givenId = typeof appId === 'string' && appId.trim() ? appId : process.env.MOESIF_APPLICATION_ID;
  if (typeof givenId !== 'string' || !givenId.trim()) {
    return { error: 'applicationId is required; API calls will not be logged' };
  }
  const applicationId = givenId.trim();
  if (NOT_IN_HEADER.test(applicationId)) {
    // Every request to the collector would fail before being sent, and be retried for ever.
    return { error: 'applicationId has characters that cannot be sent in an HTTP header (a line break?); API calls will not be logged' };
  }
  const givenUri = eitherSpelling(o, 'baseUri', 'BaseUri', warn) ?? DEFAULTS.baseUri;
  // A URL object too: moesif-nodejs joins it to its paths as a string.
  const baseUri = typeof givenUri === 'string' || givenUri instanceof URL ? normalizeBaseUri(String(givenUri)) : undefined;
  if (!baseUri) return { error: 'baseUri is not an http(s) URL or host:port; API calls will not be logged' };

  // Named, not silently dropped: logbody: false (as moesif examples write it) still logged bodies.
  for (const name of Object.keys(o)) if (!Object.prototype.hasOwnProperty.call(KNOWN_OPTIONS, name)) warn(unknownOption(name));

  const given = (name: keyof MoesifOptions): unknown => {
    const value = o[name];
    return value === null || value === '' ? undefined : value;
  };
  const int = (name: keyof MoesifOptions, fallback: number, min: number): number => {
    const value = given(name);
    if (value === undefined) return fallback;
    const number = numberFrom(value);
    if (Number.isFinite(number) && number >= min) return Math.floor(number);
    warn(`${name} must be a number of at least ${min}; using ${fallback}`);
    return fallback;
  };
  const bool = (name: keyof MoesifOptions, fallback: boolean): boolean => {
    const value = given(name);
    if (value === undefined) return fallback;
    const flag = booleanFrom(value);
    if (flag !== undefined) return flag;
    warn(`${name} must be true or false; using ${fallback}`);
    return fallback;
  };
  const fn = <T>(name: keyof MoesifOptions): T | undefined => {
    const value = given(name);
    if (value === undefined) return undefined;
    if (typeof value === 'function') return value as T;
    warn(`${name} must be a function; ignored`);
    return undefined;
  };

  return {
    applicationId,
    baseUri,
    identifyUser: fn<Hook>('identifyUser') ?? defaultIdentifyUser,
    identifyCompany: fn('identifyCompany'),
    getSessionToken: fn('getSessionToken'),
    getMetadata: fn('getMetadata'),
    getTags: fn('getTags'),
    getApiVersion: fn('getApiVersion'),
    skip: fn('skip'),
    maskContent: fn('maskContent'),
    logBody: bool('logBody', DEFAULTS.logBody),
    requestMaxBodySize: int('requestMaxBodySize', DEFAULTS.requestMaxBodySize, 0),
    responseMaxBodySize: int('responseMaxBodySize', DEFAULTS.responseMaxBodySize, 0),
    batchSize: int('batchSize', DEFAULTS.batchSize, 1),
    batchMaxTime: int('batchMaxTime', DEFAULTS.batchMaxTime, 0),
    maxQueueSize: int('maxQueueSize', DEFAULTS.maxQueueSize, 1),
    retryBaseDelay: int('retryBaseDelay', DEFAULTS.retryBaseDelay, 1),
    retryMaxDelay: int('retryMaxDelay', DEFAULTS.retryMaxDelay, 1),
    requestTimeout: int('requestTimeout', DEFAULTS.requestTimeout, 1),
    gzip: bool('gzip', DEFAULTS.gzip),
    hookTimeout: int('hookTimeout', DEFAULTS.hookTimeout, 1),
    callback: fn('callback'),
    disableTransactionId: bool('disableTransactionId', DEFAULTS.disableTransactionId),
    debug: bool('debug', DEFAULTS.debug),
    maxOutgoingTimeout: int('maxOutgoingTimeout', DEFAULTS.maxOutgoingTimeout, 1),
  };
}
