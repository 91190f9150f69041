import { GA_CAMPAIGN_COOKIE, readCampaign } from './campaign.js';
import type { Capture, CaptureFactory } from './capture/types.js';
import { CONSENT_KEY, createConsent, type ConsentController } from './consent.js';
import { createCrossDomain, type CrossDomain } from './cross-domain.js';
import { createDelivery, type Delivery, type DeliveryStats } from './delivery/index.js';
import { inBrowser, siteAddress } from './env.js';
import { createIdentity, idKeys, type Identity } from './identity.js';
import { cleanId, newId } from './ids.js';
import { createLog, type Log } from './log.js';
import { resolveOptions, type Options, type ResolvedOptions } from './options.js';
import { createPageViews, type ActionAt, type PageViews } from './pageviews.js';
import { actionPayload, companyPayload, userPayload } from './payloads.js';
import { toJson } from './serialize.js';
import { cookieStore, otherCookie } from './storage/cookie-store.js';
import { idStore } from './storage/id-store.js';
import { localStore } from './storage/local-store.js';
import { attempt, type Store } from './storage/store.js';
import type { ActionPayload, Attribution, CapturedEvent, CompanyPayload, Kind, Metadata, UserPayload } from './wire.js';
import { outsideZones } from './zones.js';

/**
 * The public surface of one instance: moesif-browser-js's methods, plus a few it lacks. Metadata
 * parameters take any `object`, so an app's interface-typed profile is accepted (see Metadata).
 */
export interface Moesif {
  /** Gives back the instance, as moesif-browser-js does. */
  init(options: Options): Moesif | undefined;
  identifyUser(userId: string | number, metadata?: object): void;
  identifyCompany(companyId: string | number, metadata?: object, companyDomain?: string): void;
  identifySession(sessionToken: string): void;
  track(actionName: string, metadata?: object): void;
  /** Call on log-out: forgets the user, company, session and campaign, and starts a new anonymous visitor. */
  reset(): void;
  /** Starts a new anonymous visitor, keeping the user, company and session. Gives back the new id. */
  resetAnonymousId(): string | undefined;
  /**
   * moesif-browser-js's halves of reset(): each is a whole reset() here, removing every stored id and the
   * campaign and starting a new anonymous visitor (usertrail keeps cookies and their localStorage mirror as
   * one store, so clearing only one half would be undone).
   */
  clearCookies(): void;
  clearStorage(): void;
  getAnonymousId(): string | undefined;
  getUserId(): string | undefined;
  getCompanyId(): string | undefined;
  getSessionToken(): string | undefined;
  /** Sends everything queued now; settles when the outbox is empty or the attempt failed. */
  flush(): Promise<void>;
  getStats(): DeliveryStats | undefined;
  /**
   * Starts logging the page's own API calls (fetch and XMLHttpRequest) as Moesif events, and turns
   * back on what stop() turned off. True once started; nothing after a refusal of consent, nor (with a
   * warning) from an instance made without capture (see usertrail/capture).
   */
  start(): boolean | undefined;
  /** moesif-browser-js's capture of web3 calls, which usertrail does not have: warns and does nothing. */
  useWeb3(web3?: unknown): boolean | undefined;
  /**
   * Stops logging API calls (fetch and XMLHttpRequest put back as they were), and also the automatic
   * page views and cross-domain links that init() started, until start().
   */
  stop(): void;
  /** Sends a `Page View` action for the current URL, for routers that announce navigations themselves. */
  trackPageView(metadata?: object): void;
  /** Records the visitor's consent: what was held in memory is stored and sent, in order. */
  grantPublishingConsent(): void;
  /** Records a refusal: the queue, ids and cookies are removed and nothing more is sent, also after a reload. */
  revokePublishingConsent(): void;
  isPublishingConsentGranted(): boolean;
  /**
   * `url` with the visitor's anonymous id for cross-domain tracking, for the app's own navigations
   * (window.open, location.assign): when it leads to one of `crossDomainTargets` (any other origin
   * with `overrideCDTTargets`). Any other URL, and any URL before init() or without consent, comes back as given.
   */
  cdtUrlDecorator(url: string, overrideCDTTargets?: boolean): string;
  /** A second, independent instance (moesif's `moesif.new()`). */
  'new': () => Moesif;
}

/** How long captured calls and page views share one reading of who they belong to (see createCallerCache). */
const CALLER_MS = 100;

/** Calls made before init() are kept, in order, up to this many. */
const MAX_EARLY_CALLS = 1000;

/** The one warning for metadata that cannot be sent, whichever method was given it. */
const METADATA_LEFT_OUT = 'metadata must be a plain serializable object: left out';

/** Metadata the app passes: a plain object, or nothing. */
const isMetadata = (value: unknown): value is Metadata => !!value && typeof value == 'object' && !Array.isArray(value);

/**
 * Metadata as the public methods take it: any object, since an app's interface-typed profile has no
 * index signature. enqueue() checks that it is a plain, serializable object, or leaves it out with a warning.
 */
const appMetadata = (value: object | undefined): Metadata | undefined => value as Metadata | undefined;

/** Ends a public method whose arguments cannot be used: the method wrapper warns once with this reason. */
const fail: (reason: string) => never = (reason) => {
  throw new Error(reason);
};

/** An id the app gave, or a failure that the method wrapper turns into one warning. */
const required = (value: unknown): string => cleanId(value) ?? fail('needs an id');

type Payload = UserPayload | CompanyPayload | ActionPayload | CapturedEvent;

/** What an initialized instance runs on. */
interface Running {
  options: ResolvedOptions;
  log: Log;
  identity: Identity;
  consent: ConsentController;
  delivery: Delivery;
  capture: Capture | undefined;
  pageViews: PageViews;
  crossDomain: CrossDomain;
  /** Queues one item, unless consent was revoked. */
  enqueue(kind: Kind, payload: Payload): void;
  /** Drops the shared reading of who captured calls and page views belong to: ids or consent may change. */
  forgetCaller(): void;
  /**
   * The app's start() (true) or stop() (false): capture runs after a start() while consent is not revoked;
   * automatic page views and link decoration run from init() until a stop(), and again after a start().
   */
  switchTo(on: boolean): void;
  /** Turns on the page views and link decoration that init() starts, unless the app's calls before it ended in stop(). */
  startAutomatic(): void;
  /** Removes every listener the instance added to the page. */
  dispose(): void;
}

interface RunDeps {
  options: ResolvedOptions;
  log: Log;
  captureFactory: CaptureFactory | undefined;
  /** The instance's track(), with when and where the action happened, which page views go through. */
  track: TrackAt;
}

type TrackAt = (actionName: string, metadata?: object, at?: ActionAt) => void;

/**
 * Who a captured call or an automatic page view belongs to: what runs on its own, outside a public
 * method, reads the visitor here. The consent decision first: another tab may have revoked it, and then
 * no id may be read, nor restored from this origin's localStorage. Reading it (the decision, then four
 * ids) cost a captured call 10 to 20 µs of main-thread time (issue 18), so the calls of a burst share one
 * reading for CALLER_MS. Every public method call drops it (`forget`): an identify or reset() here counts
 * from the next call on; one in another tab, CALLER_MS later at most. `who` runs on a captured call's path.
 */
function createCallerCache({ consent, identity }: { consent: ConsentController; identity: Identity }) {
  let cached: { who: Attribution; until: number } | undefined;
  return {
    who(): Attribution {
      const now = performance.now();
      if (!cached || now > cached.until) {
        consent.follow();
        cached = { who: identity.attribution(), until: now + CALLER_MS };
      }
      return cached.who;
    },
    forget(): void {
      cached = undefined;
    },
  };
}

/**
 * Where an instance keeps things, as `persistence` says: nothing with 'none'. Otherwise localStorage
 * (`local`) holds the outbox, with 'cookie' too, and mirrors the id cookies only with 'localStorage'.
 * The ids (keys under `persistenceKeyPrefix`) start held in memory, committed once consent is granted; the consent
 * decision has a store of its own over the same two, committed at once: it is no id, and is read
 * before consent is known.
 */
function openStores({ options, log }: { options: ResolvedOptions; log: Log }) {
  const local = options.persistence == 'none' ? undefined : localStore();
  const cookies = options.persistence == 'none' ? undefined : cookieStore({ options, log, writeTimes: local });
  const idsMirror = options.persistence == 'localStorage' ? local : undefined;
  // Nowhere to keep the ids but memory: the browser refuses cookies, and localStorage is missing too or
  // (with 'cookie') not for ids.
  if (options.persistence != 'none' && !cookies && !idsMirror) {
    const missing = options.persistence == 'cookie' ? "cookies (persistence 'cookie')" : 'cookies or localStorage';
    log.warn(`no ${missing}: ids kept for this page only`);
  }
  const decision = idStore({ cookies, localMirror: idsMirror, keys: [CONSENT_KEY] });
  decision.commit();
  /** A store of the ids and campaign, held in memory until committed. */
  const idsStore = () => idStore({ cookies, localMirror: idsMirror, keys: idKeys(options.persistenceKeyPrefix) });
  return {
    local,
    /** The ids and campaign this page uses: held until consent commits them. */
    ids: idsStore(),
    /** The ids and campaign as stored now (by an earlier visit, say), read through. */
    storedIds(): Store {
      const stored = idsStore();
      stored.commit();
      return stored;
    },
    decision,
    /** Removes the cookie store's listeners. */
    dispose: () => cookies?.dispose(),
  };
}

/**
 * Makes the parts of an initialized instance and connects them: storage, identity, consent, delivery,
 * capture, page views and cross-domain tracking. Ids and the campaign start in memory and are committed
 * to storage once consent is granted; the decision itself is stored at once, and restored on its own.
 */
function run({ options, log, captureFactory, track }: RunDeps): Running {
  const stores = openStores({ options, log });
  const { ids, local } = stores;
  const identity = createIdentity({ ids, prefix: options.persistenceKeyPrefix, log });
  // Delivery keeps the fetch that exists now, before start() wraps it: our own requests are never captured.
  // jsdom has none (jest-environment-jsdom, where apps' tests run): see createDelivery.
  const delivery = createDelivery({ options, log, fetch: typeof fetch == 'function' ? fetch.bind(window) : undefined });
  // The app's last start() (true) or stop() (false), undefined before either. Kept across a revoke, so that a
  // new grant captures again without another start(): moesif-browser-js 1.10 records on through consent
  // changes ("start() and stop() work the same way").
  let switchedOn: boolean | undefined;
  const consent = createConsent({
    decision: stores.decision,
    persist() {
      // A returning visitor whose ids were stored before the site asked for consent stays that visitor,
      // as with moesif-browser-js 1.10, which keeps its ids through consent: one journey. Read only now.
      const replaced = identity.continueEarlierVisit(stores.storedIds());
      if (replaced) delivery.replaceHeld({ id: replaced, replacement: identity.anonymousId() });
      caller.forget();
      ids.commit();
      delivery.resume(local);
      if (switchedOn) capture?.start();
    },
    forget() {
      // What this page held is dropped unwritten (a refusal while pending stores no id, not even for a
      // moment); the store is then committed empty, so that clear() reaches storage: ids from earlier
      // visits, and from other tabs, go too.
      ids.release();
      ids.commit();
      identity.clear();
      ids.release();
      delivery.pause(local);
      capture?.stop();
    },
  });
  const enqueue = (kind: Kind, payload: Payload): void => {
    const json = consent.state() != 'revoked' && payloadJson(payload, log);
    if (!json) return;
    // The kind only: payloads carry session tokens and the app's metadata, which logs never show
    // (the browser's network panel has them for whoever debugs).
    log.debug('queued', kind);
    delivery.push(kind, json);
  };
  const caller = createCallerCache({ consent, identity });
  const capture = captureFactory?.({ options, log, who: caller.who, record: (event) => enqueue('events', event) });
  const pageViews = createPageViews({ track, who: caller.who, log });
  // Only now, with `caller` and `capture` made: the state a page starts in is acted on at once, persist()
  // (granted) dropping the caller's reading, forget() (a stored refusal, or Do Not Track) stopping capture.
  // Before their declarations, neither could be read.
  consent.start(options);
  const crossDomain = createCrossDomain({
    options,
    anonymousId: identity.anonymousId,
    adoptAnonymousId(id) {
      // The visitor's own id coming back (a round trip through the other site) changes nothing, and is no news for a users call.
      if (identity.getId('anonymous_id') == id) return;
      identity.setId('anonymous_id', id);
      // A signed-in visitor's visit to the other site went under this id: linked to the user here, or it
      // stays a stranger's (the app's identifyUser() with the same user sends nothing).
      if (identity.getId('user_id')) enqueue('users', userPayload(identity.attribution(), id, identity.campaign()));
    },
    consented: consent.granted,
    log,
  });
  const dispose = (): void => {
    capture?.dispose();
    crossDomain.stop();
    pageViews.dispose();
    delivery.dispose();
    stores.dispose();
  };
  const startAutomatic = (): void => {
    if (switchedOn === false) return;
    if (options.trackPageViews) pageViews.start();
    crossDomain.start();
  };
  const switchTo = (on: boolean): void => {
    switchedOn = on;
    if (on && consent.state() != 'revoked') capture?.start();
    else capture?.stop();
    // Back whatever the consent: while refused, views are dropped when queued and links carry no id,
    // and a later grant finds them running, as it finds capture.
    if (on) return startAutomatic();
    pageViews.stop();
    crossDomain.stop();
  };
  return { options, log, identity, consent, delivery, capture, pageViews, crossDomain, enqueue, forgetCaller: caller.forget, switchTo, startAutomatic, dispose };
}

/**
 * Metadata as JSON.stringify would send it: what its toJSON() gives (a Date's is a string), which must
 * be a plain object; false when it is not one, or cannot be read. Null gives undefined: moesif sends
 * metadata only when there is some (`if (metadata)`), never `"metadata": null`.
 */
function sentMetadata(metadata: unknown): Metadata | undefined | false {
  if (metadata == null) return undefined;
  const value = attempt(() => {
    const { toJSON } = metadata as { toJSON?: unknown };
    return typeof toJSON == 'function' ? toJSON.call(metadata, 'metadata') : metadata;
  });
  return isMetadata(value) && value;
}

/** The JSON of a payload. Metadata that is not a plain, serializable object is left out, with a warning. */
function payloadJson(payload: Payload, log: Log): string | undefined {
  const metadata = sentMetadata(payload.metadata);
  const json = metadata !== false && toJson(metadata === payload.metadata ? payload : { ...payload, metadata });
  if (json) return json;
  log.warn(METADATA_LEFT_OUT);
  return toJson({ ...payload, metadata: undefined });
}

/** Queues a users call (see userPayload) with the ids and campaign known now. */
const sendUser = ({ identity, enqueue }: Running, fields?: UserPayload): void =>
  enqueue('users', userPayload(identity.attribution(), identity.anonymousId(), identity.campaign(), fields));

type Methods = Omit<Moesif, 'init' | 'flush' | 'getStats' | 'isPublishingConsentGranted' | 'cdtUrlDecorator' | 'new'>;

/** The public methods that need an initialized instance, each given its parts first. */
const METHODS: { [Name in keyof Methods]: (parts: Running, ...args: Parameters<Methods[Name]>) => ReturnType<Methods[Name]> } = {
  identifyUser(parts, userId, metadata) {
    const { identity, log } = parts;
    const id = required(userId);
    const previous = identity.getId('user_id');
    if (previous == id && !metadata) return;
    if (previous && previous != id) {
      log.warn('identifyUser() with another user: call reset() at log-out');
      // A fresh anonymous id, so the collector cannot merge the two users through the old one. The
      // company and session stay, as in moesif: an app may well have set the new user's just before.
      identity.renewAnonymousId();
    }
    identity.setId('user_id', id);
    sendUser(parts, { user_id: id, metadata: appMetadata(metadata) });
  },
  identifyCompany(parts, companyId, metadata, companyDomain) {
    const { identity, enqueue } = parts;
    const id = required(companyId);
    const changed = identity.getId('company_id') != id;
    identity.setId('company_id', id);
    const sessionToken = identity.getId('session_token');
    enqueue('companies', companyPayload({ companyId: id, companyDomain: cleanId(companyDomain), sessionToken, metadata: appMetadata(metadata), campaign: identity.campaign() }));
    // Link the visitor to the company, as a users call does on Moesif.
    if (changed) sendUser(parts);
  },
  identifySession: ({ identity }, sessionToken) => identity.setId('session_token', required(sessionToken)),
  // `at`, not part of the public API: when, where and by whom a page view happened, sent up to a
  // second later, once its route set the title (pageviews.ts).
  track({ identity, enqueue }, actionName, metadata, at?: ActionAt) {
    if (typeof actionName != 'string' || !actionName.trim()) fail('needs an action name');
    const page = { uri: at?.uri ?? location.href, time: at?.time ?? new Date().toISOString(), userAgent: navigator.userAgent };
    enqueue('actions', actionPayload({ actionName, metadata: appMetadata(metadata), who: at?.who ?? identity.attribution(), transactionId: newId(), ...page }));
  },
  trackPageView({ pageViews, log }, metadata) {
    // Its fields go into the view's (pathname, title, ...), so only a plain object can be used.
    if (metadata != null && !isMetadata(metadata)) log.warn(METADATA_LEFT_OUT);
    pageViews.trackPageView(isMetadata(metadata) ? metadata : undefined);
  },
  // Log-out: forget user, company, session and campaign, and start a new anonymous visitor.
  reset({ identity }) {
    identity.clear();
    identity.renewAnonymousId();
  },
  resetAnonymousId: ({ identity }) => identity.renewAnonymousId(),
  // Each a whole reset() here (see the Moesif interface). Without the new anonymous id written at once, another
  // subdomain would find the cookies gone and restore the old user from its localStorage.
  clearCookies: (parts) => METHODS.reset(parts),
  clearStorage: (parts) => METHODS.reset(parts),
  getAnonymousId: ({ identity }) => identity.anonymousId(),
  getUserId: ({ identity }) => identity.getId('user_id'),
  getCompanyId: ({ identity }) => identity.getId('company_id'),
  getSessionToken: ({ identity }) => identity.getId('session_token'),
  start({ consent, capture, switchTo }) {
    switchTo(true);
    if (consent.state() == 'revoked') return undefined;
    if (!capture) fail('capture is not in this build (see usertrail/capture)');
    return true;
  },
  // Warns once, "useWeb3(): not supported", and gives back undefined: web3 calls are not captured.
  useWeb3: () => fail('not supported'),
  stop: ({ switchTo }) => switchTo(false),
  grantPublishingConsent: ({ consent }) => consent.decide('granted'),
  revokePublishingConsent: ({ consent }) => consent.decide('revoked'),
};

/**
 * Creates an instance. Nothing happens until init(): no storage, no listeners, no requests, so the
 * module is safe to import anywhere, including server-side rendering, where every method is a no-op.
 */
export function createMoesif(captureFactory?: CaptureFactory): Moesif {
  return createInstance(captureFactory).instance;
}

/** An instance, and `dispose()`, which removes every listener it added to the page (tests use it). */
export function createInstance(captureFactory?: CaptureFactory) {
  let running: Running | undefined;
  /**
   * init() was given valid options. From then on calls are no longer kept for later, even when making
   * the parts failed (then `running` stays undefined, and they are dropped). An init() refused for its
   * options leaves it false: the app may call init() again.
   */
  let initialized = false;
  const early: Array<() => void> = [];
  const log = createLog(() => running?.options.debug);

  const init = (input: Options): Moesif | undefined => {
    if (initialized) {
      // The same init() again is no mistake: React's StrictMode runs an app's effects twice in development.
      const applicationId = (input as Partial<Options> | undefined)?.applicationId;
      if (typeof applicationId != 'string' || applicationId.trim() != running?.options.applicationId) {
        log.warn('init() called again with another applicationId: ignored');
      }
      return instance;
    }
    const options = resolveOptions(input, location.protocol, log);
    if (!options) return undefined;
    initialized = true;
    // trackAt is set below, when the instance is made: init() can only be called after that.
    running = run({ options, log, captureFactory, track: trackAt });
    // Before the campaign, the early calls and the first page view read the address it cleans.
    running.crossDomain.readIncoming();
    // A first-touch campaign is news worth a users call; a plain page view is not.
    const campaign = readCampaign({ pageUrl: siteAddress().href, referrer: document.referrer, switches: options, gaCookie: otherCookie(GA_CAMPAIGN_COOKIE) });
    if (running.identity.rememberCampaign(campaign)) sendUser(running);
    for (const call of early.splice(0)) call();
    // After the calls made before init(): they end in the state they describe (a stop() there keeps these off).
    running.startAutomatic();
    return instance;
  };

  const consentGranted = guarded('isPublishingConsentGranted', log, () => running?.consent.granted());

  const instance = {
    init: guarded('init', log, (...args) => init(...(args as [Options]))),
    // Outside the app's zone.js zones, as the methods are (see guarded): its requests are the SDK's.
    flush: () => {
      const parts = running;
      return parts ? outsideZones(() => parts.delivery.flush()) : Promise.resolve();
    },
    getStats: () => running?.delivery.stats(),
    // Guarded as the methods are: reading the decision follows another tab's, which turns parts off.
    isPublishingConsentGranted: () => consentGranted() === true,
    // Not queued before init() as the other methods are: it gives back a value, the URL as given until then.
    cdtUrlDecorator: (url: string, overrideCDTTargets?: boolean) => (running ? running.crossDomain.decorate(url, overrideCDTTargets) : url),
    new: () => createMoesif(captureFactory),
    // The cast: the METHODS are added by the loop below.
  } as Moesif;

  for (const [name, body] of Object.entries(METHODS) as Array<[keyof Methods, (parts: Running, ...args: unknown[]) => unknown]>) {
    instance[name] = guarded(name, log, (...args) => {
      if (running) {
        // Before any id is read: a tab still running on an old decision would otherwise restore the ids
        // another tab just removed (from its own localStorage) and go on sending.
        running.consent.follow();
        // The call may change the ids: the next captured call or page view reads them afresh.
        running.forgetCaller();
        return body(running, ...args);
      }
      // Before init(), a call is kept for later, except a getter's (which answers undefined).
      if (initialized || name.startsWith('get')) return undefined;
      if (early.length < MAX_EARLY_CALLS) early.push(() => instance[name](...(args as [never, never, never])));
      else log.warn(`over ${MAX_EARLY_CALLS} calls before init(): rest dropped`);
      return undefined;
      // The cast: each method has its own signature, which a loop over names cannot show.
    }) as never;
  }
  // Only page views give track() when and where their action happened (`at`). The app's track() takes
  // two arguments: a third one (a callback, as other SDKs take) never reaches the wire.
  const trackAt = instance.track as TrackAt;
  instance.track = (actionName, metadata) => trackAt(actionName, metadata);
  return { instance, dispose: () => running?.dispose() };
}

/**
 * Every public method goes through here: on a server, it is a no-op, and a failure becomes one console
 * warning naming the method (a failed init() is an error: nothing will be sent). Nothing is ever thrown
 * into the host page. Its work runs outside the app's zone.js zones (see zones.ts): an Angular app that
 * calls track() on a click would otherwise stay unstable until the batch timer fired, and run change
 * detection for each of the SDK's timers and listeners.
 */
function guarded(name: string, log: Log, body: (...args: unknown[]) => unknown) {
  return (...args: unknown[]): unknown => {
    try {
      return inBrowser() ? outsideZones(() => body(...args)) : undefined;
    } catch (error) {
      log[name == 'init' ? 'error' : 'warn'](`${name}(): ${error instanceof Error ? error.message : error}`);
      return undefined;
    }
  };
}
