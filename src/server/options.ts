/**
 * Options: one defaults object and one `resolveOptions()`, so the rest of the code only sees the
 * resolved type and never checks for `undefined`. Values are read with `??`, not `||`, so that an
 * explicit 0 or false is honoured (e.g. `logBody: false`).
 */
import type { DeliveryOutcome, MoesifEvent, MoesifOptions, MoesifRequest, MoesifResponse } from './types.js';

export const DEFAULT_BASE_URI = 'https://api.moesif.net';

export const DEFAULTS = {
  baseUri: DEFAULT_BASE_URI,
  logBody: true,
  requestMaxBodySize: 100_000,
  responseMaxBodySize: 100_000,
  batchSize: 25,
  batchMaxTime: 2_000,
  maxQueueSize: 10_000,
  retryBaseDelay: 1_000,
  retryMaxDelay: 60_000,
  requestTimeout: 10_000,
  debug: false,
} as const;

type Hook<T> = (req: MoesifRequest, res: MoesifResponse) => T;

export interface ResolvedOptions {
  applicationId: string;
  /** Without a trailing slash; may carry a path prefix. */
  baseUri: string;
  identifyUser: Hook<unknown>;
  identifyCompany: Hook<unknown> | undefined;
  getSessionToken: Hook<unknown> | undefined;
  getMetadata: Hook<unknown> | undefined;
  getTags: Hook<unknown> | undefined;
  getApiVersion: Hook<unknown> | undefined;
  skip: Hook<unknown> | undefined;
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
  callback: ((outcome: DeliveryOutcome) => void) | undefined;
  debug: boolean;
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
 * was logged anonymously, or under its `sub` when it had one.
 */
export function defaultIdentifyUser(req: MoesifRequest): unknown {
  return prop(req.user, 'id') ?? prop(req.auth, 'id') ?? prop(req.auth, 'sub') ?? prop(req.user, 'sub');
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

function positiveInt(value: unknown, fallback: number, min = 1): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min ? Math.floor(value) : fallback;
}

function nonNegativeInt(value: unknown, fallback: number): number {
  return positiveInt(value, fallback, 0);
}

const hook = <T>(value: unknown): T | undefined => (typeof value === 'function' ? (value as T) : undefined);

/** The resolved options, or a reason why the middleware cannot log (it then only calls `next()`). */
export function resolveOptions(options: MoesifOptions | undefined): ResolvedOptions | { error: string } {
  const o: Partial<MoesifOptions> = options ?? {};
  if (typeof o.applicationId !== 'string' || !o.applicationId.trim()) {
    return { error: 'applicationId is required; API calls will not be logged' };
  }
  const baseUri = normalizeBaseUri(o.baseUri ?? DEFAULTS.baseUri);
  if (!baseUri) return { error: 'baseUri is not an http(s) URL or host:port; API calls will not be logged' };
  return {
    applicationId: o.applicationId.trim(),
    baseUri,
    identifyUser: hook<Hook<unknown>>(o.identifyUser) ?? defaultIdentifyUser,
    identifyCompany: hook(o.identifyCompany),
    getSessionToken: hook(o.getSessionToken),
    getMetadata: hook(o.getMetadata),
    getTags: hook(o.getTags),
    getApiVersion: hook(o.getApiVersion),
    skip: hook(o.skip),
    maskContent: hook(o.maskContent),
    logBody: o.logBody ?? DEFAULTS.logBody,
    requestMaxBodySize: nonNegativeInt(o.requestMaxBodySize, DEFAULTS.requestMaxBodySize),
    responseMaxBodySize: nonNegativeInt(o.responseMaxBodySize, DEFAULTS.responseMaxBodySize),
    batchSize: positiveInt(o.batchSize, DEFAULTS.batchSize),
    batchMaxTime: nonNegativeInt(o.batchMaxTime, DEFAULTS.batchMaxTime),
    maxQueueSize: positiveInt(o.maxQueueSize, DEFAULTS.maxQueueSize),
    retryBaseDelay: positiveInt(o.retryBaseDelay, DEFAULTS.retryBaseDelay),
    retryMaxDelay: positiveInt(o.retryMaxDelay, DEFAULTS.retryMaxDelay),
    requestTimeout: positiveInt(o.requestTimeout, DEFAULTS.requestTimeout),
    callback: hook(o.callback),
    debug: o.debug ?? DEFAULTS.debug,
  };
}
