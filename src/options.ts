import type { Log } from './log.js';
import type { CapturedEvent, DeliveryOutcome } from './wire.js';

/**
 * What `init()` accepts. Names and defaults are moesif-browser-js's, so existing calls keep working.
 * Each value option also takes `undefined`, which `init()` reads as not given: so that a value that
 * may be missing (`host: process.env.NEXT_PUBLIC_MOESIF_HOST`) compiles under exactOptionalPropertyTypes,
 * which TypeScript 6's `tsc --init` turns on.
 */
export interface Options {
  /**
   * Your Moesif (or usertrail collector) application id. Required: without it `init()` sends nothing,
   * and says so once on the console. It may be `undefined`, so that an environment variable can be
   * given as it is (`process.env.NEXT_PUBLIC_MOESIF_APPLICATION_ID`, typed `string | undefined`).
   */
  applicationId: string | undefined;
  /**
   * Where events go: `host[:port]` (moesif's form; follows the page's scheme) or a full base URL.
   * @default 'api.moesif.net' (always https)
   */
  host?: string | undefined;
  /** Where ids are kept. 'none' keeps everything in memory for this page view only. @default 'localStorage' */
  persistence?: 'localStorage' | 'cookie' | 'none' | undefined;
  /** Share the visitor's ids with every subdomain of the site (docs.acme.com and app.acme.com). @default true */
  crossSubdomainCookie?: boolean | undefined;
  /** Cookie domain to use instead of the one found by probing, e.g. '.acme.com' (or moesif's form, '*.acme.com'). */
  cookieDomain?: string | undefined;
  /** Days until the id cookies expire. @default 365 */
  cookieExpiration?: number | undefined;
  /** Mark cookies `Secure` even on http pages. On https they always are. @default false */
  secureCookie?: boolean | undefined;
  /** Cookies for use inside third-party iframes: `SameSite=None; Secure`. @default false */
  crossSiteCookie?: boolean | undefined;
  /** The prefix of the ids' and campaign's cookies and localStorage keys. @default 'moesif_' */
  persistenceKeyPrefix?: string | undefined;
  /** Do not record utm_* parameters. @default false */
  disableUtm?: boolean | undefined;
  /** Do not record the referrer. @default false */
  disableReferrer?: boolean | undefined;
  /** Do not record click ids (gclid, fbclid, msclkid). @default false */
  disableGclid?: boolean | undefined;
  /** Log to the console what is sent and why. @default false */
  debug?: boolean | undefined;
  /**
   * Called after every request to the collector, as moesif-browser-js calls it: with nothing when the
   * request succeeded and with the outcome when it failed (so `if (error)` works), and always with the
   * outcome second.
   */
  callback?: (error: DeliveryOutcome | undefined, outcome: DeliveryOutcome) => void;

  /** Send items in batches. With false each item leaves at once, through the same retrying outbox. @default true */
  batchEnabled?: boolean | undefined;
  /** A batch leaves once this many items wait (or `batchMaxTime` has passed); it carries all that wait, up to 60 KB. @default 25 */
  batchSize?: number | undefined;
  /** Longest wait, in ms, between an item's arrival and its batch leaving. @default 2500 */
  batchMaxTime?: number | undefined;
  /**
   * Bytes the persisted outbox may hold, all of the application's open tabs together (each keeps at
   * least an equal share); the oldest items are dropped past it. @default 1_000_000
   */
  maxOutboxBytes?: number | undefined;
  /** Age, in ms, after which an unsent item is dropped. @default 86_400_000 (24 h) */
  maxOutboxAge?: number | undefined;
  /** moesif's name for `maxOutboxAge`, taken as it. */
  batchStorageExpiration?: number | undefined;
  /** A request to the collector unanswered after this many ms is abandoned and retried. @default 90000 */
  batchTimeout?: number | undefined;
  /**
   * Send with `navigator.sendBeacon` (a text/plain body, the application id as a query parameter).
   * Only for collectors that accept that form, such as usertrail's. @default false
   */
  useBeacon?: boolean | undefined;

  /** Return true to leave a captured API call out. */
  skip?: (event: CapturedEvent) => boolean;
  /** Change a captured API call before it is queued (mask fields, drop bodies). */
  maskContent?: (event: CapturedEvent) => CapturedEvent;
  /** Metadata for a captured API call. */
  getMetadata?: (event: CapturedEvent) => Record<string, unknown> | undefined;
  /** Tags for a captured API call, a comma-separated string. */
  getTags?: (event: CapturedEvent) => string | undefined;
  /** API version recorded with every captured call. */
  apiVersion?: string | undefined;
  /** API version per captured call; wins over `apiVersion`. */
  getApiVersion?: (event: CapturedEvent) => string | undefined;
  /** Leave `fetch` alone and capture XMLHttpRequest only. @default false */
  disableFetch?: boolean | undefined;
  /**
   * moesif's switch to read XMLHttpRequest bodies early (for Angular). Accepted and not needed:
   * usertrail reads every body as the call ends. @default false
   */
  eagerBodyLogging?: boolean | undefined;
  /** Share of captured API calls kept, 0 to 1. @default 1 */
  sampleRate?: number | undefined;
  /** Largest request or response body kept per captured call, in bytes. @default 65536 */
  maxBodyBytes?: number | undefined;

  /** Hold everything (no storage, no requests) until `grantPublishingConsent()`. @default false */
  requirePublishingConsent?: boolean | undefined;
  /**
   * moesif-browser-js 1.10's bound on the calls held while consent is pending, as a count. Accepted
   * and not needed: usertrail bounds what it holds by `maxOutboxBytes`, as it bounds its outbox.
   * @default 1000
   */
  maxQueueSize?: number | undefined;
  /** Treat Do Not Track and Global Privacy Control as a refusal. @default false */
  respectDoNotTrack?: boolean | undefined;
  /** Send a `Page View` action on load and on every client-side navigation. @default false */
  trackPageViews?: boolean | undefined;

  /**
   * Links to the sites in `crossDomainTargets` carry the visitor's anonymous id, and an id arriving
   * in a link from another site is adopted, so one visitor of two sites that share no cookie is one
   * anonymous visitor. @default false
   */
  enableCrossDomainTracking?: boolean | undefined;
  /**
   * The sites whose links carry the id: each domain and its subdomains ('acme-cloud.com'). null:
   * every link to another origin. @default [] (none)
   */
  crossDomainTargets?: readonly string[] | null | undefined;
  /** The query parameter that carries the id. @default '__mt' */
  crossDomainTrackingParameterName?: string | undefined;
}

const DEFAULTS = {
  persistence: 'localStorage',
  persistenceKeyPrefix: 'moesif_',
  crossSubdomainCookie: true,
  cookieExpiration: 365,
  secureCookie: false,
  crossSiteCookie: false,
  disableUtm: false,
  disableReferrer: false,
  disableGclid: false,
  debug: false,
  batchEnabled: true,
  batchSize: 25,
  batchMaxTime: 2500,
  maxOutboxBytes: 1_000_000,
  maxOutboxAge: 86_400_000,
  batchTimeout: 90_000,
  useBeacon: false,
  disableFetch: false,
  eagerBodyLogging: false,
  sampleRate: 1,
  maxBodyBytes: 65_536,
  requirePublishingConsent: false,
  maxQueueSize: 1000,
  respectDoNotTrack: false,
  trackPageViews: false,
  enableCrossDomainTracking: false,
  crossDomainTargets: [] as readonly string[] | null,
  crossDomainTrackingParameterName: '__mt',
} as const;

/**
 * Options without a default, by the type their value must have. The one list of them: ResolvedOptions
 * leaves these optional, and every other option (but moesif's alias batchStorageExpiration) required.
 */
const UNSET = {
  callback: 'function',
  skip: 'function',
  maskContent: 'function',
  getMetadata: 'function',
  getTags: 'function',
  getApiVersion: 'function',
  host: 'string',
  cookieDomain: 'string',
  apiVersion: 'string',
} as const;

/** Options after defaults and checks: internal code never meets `undefined` where a default exists. */
export type ResolvedOptions = Required<Omit<Options, keyof typeof UNSET | 'batchStorageExpiration'>> &
  // `host` is read once, into baseUrl.
  Pick<Options, Exclude<keyof typeof UNSET, 'host'>> & {
    /** Checked: init() goes no further without one. */
    applicationId: string;
    /** Base URL of the collector, without a trailing slash. */
    baseUrl: string;
  };

/**
 * A value is valid when it has its default's type; numbers are counts, sizes and durations (positive
 * and finite) but for `sampleRate`, a share; strings are not blank, and `persistence` is one of three.
 */
const isValid = (name: string, value: unknown): boolean => {
  const type = UNSET[name as keyof typeof UNSET] ?? typeof DEFAULTS[name as keyof typeof DEFAULTS];
  if (typeof value != type) return false;
  if (typeof value == 'number') return name == 'sampleRate' ? value >= 0 && value <= 1 : value > 0 && value < Infinity;
  if (typeof value == 'string') return name == 'persistence' ? ['localStorage', 'cookie', 'none'].includes(value) : value.trim() != '';
  // Its entries are checked one by one (see hostNamesOf).
  return name != 'crossDomainTargets' || Array.isArray(value);
};

/**
 * The entries of `crossDomainTargets` that are host names; each other one is reported by value and
 * left out, so that one mistake ('https://acme.com', 'acme.com:8080', '*.acme.com') does not turn
 * off the links to the other targets (in moesif it matches no link, and the rest work).
 */
const hostNamesOf = (targets: readonly unknown[], log: Log): string[] =>
  targets.filter((domain): domain is string => {
    const isHostName = typeof domain == 'string' && /^[^\s/:*?#@]+$/.test(domain);
    if (!isHostName) log.error(`init(): crossDomainTargets entry ${JSON.stringify(domain)} is not a host name like 'acme.com': ignored`);
    return isHostName;
  });

/**
 * `value`, or what it names when it is a string given for a numeric or boolean option (from a config
 * file, a template, a data attribute or an environment variable):
 * - a number (`batchSize: '25'`), as moesif-browser-js takes it: it keeps options as given, and
 *   JavaScript reads them as numbers where they are used (`this.memQueue.slice(0, batchSize)` in its
 *   src/request-queue.js:89, `setTimeout(…, this.flushInterval)` in request-batcher.js:89,
 *   `days * 24 * 60 * 60 * 1000` in utils.js:1103, in 1.8.13 and 1.10.2 alike), so such a site works
 *   there. Text that is no number gives NaN, which isValid refuses (moesif would send nothing with
 *   `batchSize: 'many'`: its slice takes no item).
 * - a boolean, for 'true' and 'false' in any case: moesif tests them for truth (`options['batchEnabled']
 *   || false`, src/moesif.js:136), so there `'false'` turns the option on, surely not what was meant.
 *   Any other string stays a string, which isValid refuses by the option's name.
 * No warning: nothing goes wrong for the visitor, and the types still ask for numbers and booleans.
 */
const fromText = (name: string, value: unknown): unknown => {
  if (typeof value != 'string' || !value.trim()) return value;
  const type = typeof DEFAULTS[name as keyof typeof DEFAULTS];
  if (type == 'number') return Number(value);
  if (type == 'boolean') {
    const word = value.trim().toLowerCase();
    if (word == 'true') return true;
    if (word == 'false') return false;
  }
  return value;
};

/**
 * moesif's `host` is `host[:port]` with no scheme, and follows the page's scheme so that
 * `localhost:8787` works in development; the default Moesif host is always https.
 */
export function baseUrlFor(host: string | undefined, pageProtocol: string): string {
  const trimmed = (host ?? 'api.moesif.net').trim().replace(/^\/\/|\/+$/g, '');
  return (/^https?:/i.test(trimmed) ? '' : host && pageProtocol == 'http:' ? 'http://' : 'https://') + trimmed;
}

/**
 * Checks every option once. A wrong value is reported by name and replaced by its default,
 * so one typo never turns the SDK off; only a missing application id does.
 */
export function resolveOptions(input: unknown, pageProtocol: string, log: Log): ResolvedOptions | undefined {
  const given = (input ?? {}) as Record<string, unknown>;
  const applicationId = given.applicationId;
  if (typeof applicationId != 'string' || !applicationId.trim()) {
    log.error('init() needs { applicationId }: nothing will be sent');
    return undefined;
  }
  const resolved: Record<string, unknown> = { ...DEFAULTS, applicationId: applicationId.trim() };
  // The app's own options: what a page added to Object.prototype is none of them.
  for (const key of Object.keys(given)) {
    const name = key == 'batchStorageExpiration' ? 'maxOutboxAge' : key;
    const value = fromText(name, given[key]);
    // `??` semantics: only null and undefined mean "not given"; a user's 0 or false counts (and is checked).
    // An empty string too means "not given", as in moesif (whose documented default cookieDomain is '').
    // A name of no option (a typo, or a moesif option usertrail lacks) has no type, so it is reported too.
    if (value != null && value !== '' && name != 'applicationId') {
      if (isValid(name, value)) resolved[name] = value;
      else log.error(`init(): option "${key}" is unknown or invalid: ignored`);
    }
  }
  // moesif's README gives `*.acmeinc.com` as an example; a browser refuses a cookie with that domain
  // attribute, so the wildcard is read as what it means: the domain and its subdomains.
  if (resolved.cookieDomain) resolved.cookieDomain = (resolved.cookieDomain as string).replace(/^\*\./, '.');
  // null is a value here, not "not given": it decorates links to every other origin, as in moesif.
  if (given.crossDomainTargets === null) resolved.crossDomainTargets = null;
  else resolved.crossDomainTargets = hostNamesOf(resolved.crossDomainTargets as readonly unknown[], log);
  resolved.baseUrl = baseUrlFor(resolved.host as string | undefined, pageProtocol);
  // Every option with a default is in `resolved` (DEFAULTS, then only values of the right type), and
  // baseUrl is set: what ResolvedOptions promises, which a Record filled by name cannot show.
  return resolved as unknown as ResolvedOptions;
}
