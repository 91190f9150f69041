import { readCampaign } from './campaign';
import { createDelivery, type Delivery, type DeliveryStats } from './delivery';
import { inBrowser } from './env';
import { cleanId, newId } from './ids';
import { createIdentity, idKeys, type Identity } from './identity';
import { createLog } from './log';
import { resolveOptions, type Options, type ResolvedOptions } from './options';
import { toJson } from './serialize';
import { cookieStore, heldStore, idStore, localStore } from './storage';
import { createPageViews, type PageViews } from './pageviews';
import { CONSENT_KEY, initialConsent, type Consent } from './consent';
import type { Capture, CaptureFactory } from './capture/types';
import type { ActionPayload, CompanyPayload, Kind, Metadata, UserPayload } from './wire';

/** The public surface of one instance: moesif-browser-js's methods, plus a few it lacks. */
export interface Moesif {
  init(options: Options): void;
  identifyUser(userId: string | number, metadata?: Metadata): void;
  identifyCompany(companyId: string | number, metadata?: Metadata, companyDomain?: string): void;
  identifySession(sessionToken: string): void;
  track(actionName: string, metadata?: Metadata): void;
  /** Call on log-out: forgets the user, company, session and campaign, and starts a new anonymous visitor. */
  reset(): void;
  getAnonymousId(): string | undefined;
  getUserId(): string | undefined;
  getCompanyId(): string | undefined;
  getSessionToken(): string | undefined;
  /** Sends everything queued now; settles when the outbox is empty or the attempt failed. */
  flush(): Promise<void>;
  getStats(): DeliveryStats | undefined;
  /** Starts logging the page's own API calls (fetch and XMLHttpRequest) as Moesif events. */
  start(): void;
  /** Stops logging API calls and puts fetch and XMLHttpRequest back as they were. */
  stop(): void;
  /** Sends a `Page View` action for the current URL, for routers that announce navigations themselves. */
  trackPageView(metadata?: Metadata): void;
  /** Records the visitor's consent: what was held in memory is stored and sent, in order. */
  grantPublishingConsent(): void;
  /** Records a refusal: the queue, ids and cookies are removed and nothing more is sent, also after a reload. */
  revokePublishingConsent(): void;
  isPublishingConsentGranted(): boolean;
  /** A second, independent instance (moesif's `moesif.new()`). */
  'new': () => Moesif;
}

/** Calls made before init() are kept, in order, up to this many. */
const MAX_EARLY_CALLS = 1000;

/** Metadata the app passes: a plain object, or nothing. */
const isMetadata = (value: unknown): value is Metadata => !!value && typeof value == 'object' && !Array.isArray(value);

/** Ends a public method whose arguments cannot be used: the method wrapper warns once with this reason. */
const throwBad: (reason: string) => never = (reason) => {
  throw reason;
};

/**
 * Creates an instance. Nothing happens until init(): no storage, no listeners, no requests, so the
 * module is safe to import anywhere, including server-side rendering, where every method is a no-op.
 * Payload fields left undefined are simply absent from the JSON sent, as Moesif expects.
 */
export function createMoesif(captureFactory?: CaptureFactory): Moesif {
  // Set by init(); the method bodies below only run once `options` is.
  let options: ResolvedOptions | undefined;
  let identity!: Identity;
  let delivery!: Delivery;
  let capture: Capture | undefined;
  let pageViews!: PageViews;
  let consent: Consent | undefined;
  let decide!: (decision: 'granted' | 'revoked') => void;
  let initCalled = false;
  const early: Array<() => void> = [];
  const log = createLog(() => !!options?.debug);

  /** An id the app gave, or a throw that the method wrapper turns into one warning. */
  const required = (value: unknown): string => cleanId(value) ?? throwBad('needs an id');

  /** Queues one item. Metadata that is not a plain, serializable object is left out, with a warning. */
  const enqueue = (kind: Kind, id: string, payload: { metadata?: unknown }): void => {
    if (consent == 'revoked') return;
    let json = (payload.metadata == null || isMetadata(payload.metadata)) && toJson(payload);
    if (!json) {
      log.warn('metadata must be a plain serializable object: left out');
      json = toJson({ ...payload, metadata: undefined });
    }
    if (json) {
      log.debug('queued for', kind, payload);
      delivery.push(kind, id, json);
    }
  };

  /** A users call: links the anonymous visitor to the user, company and campaign known now. */
  const sendUser = (fields?: UserPayload): void =>
    enqueue('users', newId(), { ...identity.attribution(), anonymous_id: identity.anonymousId(), campaign: identity.campaign(), ...fields });

  const init = (input: Options): void => {
    if (initCalled) return log.warn('init() called twice: ignored');
    const resolved = resolveOptions(input, location.protocol, log);
    if (!resolved) return;
    initCalled = true;
    const persist = resolved.persistence != 'none';
    const realLocal = persist ? localStore() : undefined;
    const prefix = resolved.persistenceKeyPrefix;
    const cookies = persist ? cookieStore(resolved, location) : undefined;
    if (persist && !cookies && !realLocal) log.warn('no cookies or localStorage: ids kept for this page only');
    const keys = idKeys(prefix);
    const realIds = idStore(cookies, resolved.persistence == 'localStorage' ? realLocal : undefined, keys[0], [...keys, CONSENT_KEY]);
    // Ids and the queue start in memory and are committed to storage once consent is known.
    const ids = heldStore();
    const local = heldStore();
    identity = createIdentity(ids, local, prefix);
    // Delivery keeps the fetch that exists now, before start() wraps it: our own requests are never captured.
    delivery = createDelivery({ options: resolved, log, fetchImpl: fetch.bind(window) });
    capture = captureFactory?.({
      options: resolved,
      log,
      record: (event) => enqueue('events', event.transaction_id, { ...event, ...identity.attribution() }),
    });
    pageViews = createPageViews(instance.track);
    /** Stores what was held in memory and starts sending. */
    const persistAndSend = (): void => {
      ids.commit(realIds);
      if (realLocal) local.commit(realLocal);
      delivery.resume(realLocal);
    };
    decide = (decision) => {
      realIds.set(CONSENT_KEY, decision);
      if (decision == 'revoked') {
        delivery.pause();
        capture?.stop();
        identity.clear();
        ids.release();
        local.release();
      } else if (consent != 'granted') persistAndSend();
      consent = decision;
    };
    consent = initialConsent(resolved, realIds.get(CONSENT_KEY));
    // Not decide(): a site that asks for no consent gets no consent cookie.
    if (consent == 'granted') persistAndSend();
    options = resolved;

    // A first-touch campaign is news worth a users call; a plain page view is not.
    if (identity.rememberCampaign(readCampaign(location.href, document.referrer, resolved))) sendUser();
    for (const call of early.splice(0)) call();
    if (resolved.trackPageViews) pageViews.start();
  };

  /** Each public method that needs a running instance. */
  const methods: Omit<Moesif, 'flush' | 'getStats' | 'isPublishingConsentGranted' | 'new'> = {
    init,

    identifyUser(userId, metadata) {
      const id = required(userId);
      const previous = identity.get('user_id');
      if (previous == id && !metadata) return;
      if (previous && previous != id) {
        log.warn('identifyUser() with another user: call reset() at log-out');
        // A fresh anonymous id, so the collector cannot merge the two users through the old one.
        identity.reset();
      }
      identity.set('user_id', id);
      sendUser({ user_id: id, metadata });
    },

    identifyCompany(companyId, metadata, companyDomain) {
      const id = required(companyId);
      const changed = identity.get('company_id') != id;
      identity.set('company_id', id);
      const payload: CompanyPayload = {
        company_id: id,
        company_domain: (typeof companyDomain == 'string' && companyDomain) || undefined,
        session_token: identity.get('session_token'),
        metadata,
        campaign: identity.campaign(),
      };
      enqueue('companies', newId(), payload);
      // Link the visitor to the company, as a users call does on Moesif.
      if (changed) sendUser();
    },

    identifySession: (sessionToken) => void identity.set('session_token', required(sessionToken)),

    track(actionName, metadata) {
      if (typeof actionName != 'string' || !actionName.trim()) throwBad('needs an action name');
      const transactionId = newId();
      const payload: ActionPayload = {
        action_name: actionName,
        ...identity.attribution(),
        transaction_id: transactionId,
        request: { time: new Date().toISOString(), uri: location.href, verb: 'GET', user_agent_string: navigator.userAgent },
        metadata,
      };
      enqueue('actions', transactionId, payload);
    },

    trackPageView: (metadata) => pageViews.trackPageView(isMetadata(metadata) ? metadata : undefined),
    reset: () => void identity.reset(),
    getAnonymousId: () => identity.anonymousId(),
    getUserId: () => identity.get('user_id'),
    getCompanyId: () => identity.get('company_id'),
    getSessionToken: () => identity.get('session_token'),

    start() {
      if (consent == 'revoked') return;
      if (options!.trackPageViews) pageViews.start();
      if (!capture) throwBad('capture is not in this build (see usertrail/capture)');
      capture.start();
    },
    stop() {
      capture?.stop();
      pageViews.stop();
    },

    grantPublishingConsent: () => decide('granted'),
    revokePublishingConsent: () => decide('revoked'),
  };

  const instance = {
    flush: () => (options ? delivery.flush() : Promise.resolve()),
    getStats: () => options && delivery.stats(),
    isPublishingConsentGranted: () => consent == 'granted',
    new: () => createMoesif(captureFactory),
  } as Moesif;

  /**
   * Every method goes through here: before init() the call is kept for later (getters answer
   * undefined instead; on a server, everything is a no-op); after it, a throw becomes one console
   * warning naming the method. Nothing is ever thrown into the host page.
   */
  for (const [name, body] of Object.entries(methods) as Array<[keyof typeof methods, (...args: unknown[]) => unknown]>) {
    instance[name] = ((...args: unknown[]) => {
      try {
        if (!inBrowser()) return;
        if (options || name == 'init') return body(...args);
        if (!initCalled && !name.startsWith('get')) {
          if (early.length < MAX_EARLY_CALLS) early.push(() => instance[name](...(args as [never, never, never])));
          else log.warn(`over ${MAX_EARLY_CALLS} calls before init(): rest dropped`);
        }
      } catch (error) {
        // A failed init() is an error: nothing will be sent.
        log[name == 'init' ? 'error' : 'warn'](`${name}(): ${error}`);
      }
      return undefined;
    }) as never;
  }
  return instance;
}
