import { readCampaign } from './campaign';
import { createDelivery, type Delivery, type DeliveryStats } from './delivery';
import { inBrowser } from './env';
import { cleanId, newId } from './ids';
import { createIdentity, idKeys, optional, storageKey, type Identity } from './identity';
import { createLog } from './log';
import { resolveOptions, type Options, type ResolvedOptions } from './options';
import { toJson } from './serialize';
import { cookieStore, heldStore, idStore, localStore, memoryStore } from './storage';
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
  /** A new anonymous id, keeping the identified user. Returns it. */
  resetAnonymousId(): string | undefined;
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

interface Running {
  options: ResolvedOptions;
  identity: Identity;
  delivery: Delivery;
  capture: Capture | undefined;
  consent: Consent;
  pageViews: PageViews;
  /** Persists what was held in memory and starts sending. */
  grant(): void;
  /** Purges the queue, ids and campaign from storage and memory, and stops capture. */
  revoke(): void;
  remember(decision: 'granted' | 'revoked'): void;
}

/** Calls made before init() are kept, in order, up to this many. */
const MAX_EARLY_CALLS = 1000;

const isMetadata = (value: unknown): value is Metadata =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Creates an instance. Nothing happens until init(): no storage, no listeners, no requests, so the
 * module is safe to import anywhere, including server-side rendering, where every method is a no-op.
 */
export function createMoesif(captureFactory?: CaptureFactory): Moesif {
  let running: Running | undefined;
  let initCalled = false;
  const early: Array<() => void> = [];
  const log = createLog(() => running?.options.debug ?? false);

  /**
   * Every public method goes through here: before init() the call is kept for later; after it, errors
   * become one console warning per method. Nothing is ever thrown into the host page.
   */
  const method =
    <A extends unknown[], R>(name: string, body: (state: Running, ...args: A) => R, fallback: R, keepUntilInit = true) =>
    (...args: A): R => {
      try {
        if (running) return body(running, ...args);
        if (keepUntilInit && !initCalled && inBrowser()) {
          if (early.length < MAX_EARLY_CALLS) early.push(() => void (instance[name as keyof Moesif] as (...a: unknown[]) => unknown)(...args));
          else log.warnOnce('early', `over ${MAX_EARLY_CALLS} calls before init(): dropping the rest.`);
        }
      } catch (error) {
        log.warnOnce('throw:' + name, `${name}() failed: ${error}`);
      }
      return fallback;
    };

  const enqueue = ({ delivery, options, consent }: Running, kind: Kind, id: string, payload: object): void => {
    if (consent === 'revoked') return;
    let json = toJson(payload);
    if (json === undefined && 'metadata' in payload) {
      log.warnOnce('json', 'metadata is not serializable; sent without it.');
      json = toJson({ ...payload, metadata: undefined });
    }
    if (json === undefined) return;
    log.debug(`queued for ${kind}`, options.debug ? payload : '');
    delivery.push(kind, id, json);
  };

  const badId = (name: string): void => log.warnOnce(name + 'id', `${name}() needs a non-empty id; ignored.`);

  const checkMetadata = (name: string, metadata: unknown): Metadata | undefined => {
    if (metadata === undefined || metadata === null) return undefined;
    if (isMetadata(metadata)) return metadata;
    log.warnOnce(name + 'metadata', `${name}(): metadata must be an object; ignored.`);
    return undefined;
  };

  const sendUser = (state: Running, fields: UserPayload): void => {
    const { identity } = state;
    const payload: UserPayload = {
      ...optional('user_id', identity.userId()),
      anonymous_id: identity.anonymousId(),
      ...optional('company_id', identity.companyId()),
      ...optional('session_token', identity.sessionToken()),
      ...optional('campaign', identity.campaign()),
      ...fields,
    };
    enqueue(state, 'users', newId(), payload);
  };

  const instance: Moesif = {
    init(input) {
      try {
        if (!inBrowser()) return;
        if (initCalled) {
          log.warnOnce('init', 'init() called twice: the first call stays in effect.');
          return;
        }
        const options = resolveOptions(input, location.protocol, log);
        if (!options) return;
        initCalled = true;
        const persist = options.persistence !== 'none';
        const realLocal = persist ? localStore() : undefined;
        const prefix = options.persistenceKeyPrefix;
        const cookies = persist ? cookieStore(options, location) : undefined;
        if (persist && !cookies && !realLocal) log.warnOnce('storage', 'no cookies or localStorage: ids last for this page view only.');
        const realIds = idStore(cookies, options.persistence === 'localStorage' ? realLocal : undefined, storageKey('anonymousId', prefix), [
          ...idKeys(prefix),
          CONSENT_KEY,
        ]);
        // Ids and the queue start in memory and are committed to storage once consent is known.
        const ids = heldStore();
        const local = heldStore();
        const identity = createIdentity(ids, local, prefix);
        const delivery = createDelivery({ options, store: undefined, paused: true, log, fetchImpl: typeof fetch === 'function' ? fetch.bind(window) : undefined });
        // Our own requests must never be captured: delivery keeps the fetch that existed before start().
        const capture = captureFactory?.({
          options,
          log,
          record: (event) => running && enqueue(running, 'events', event.transaction_id, { ...event, ...identity.attribution() }),
        });
        running = {
          options,
          identity,
          delivery,
          capture,
          consent: initialConsent(options, realIds.get(CONSENT_KEY)),
          grant() {
            ids.commit(realIds);
            local.commit(realLocal ?? memoryStore());
            delivery.resume(realLocal);
          },
          revoke() {
            delivery.pause();
            capture?.stop();
            identity.clear();
            ids.release();
            local.release();
            realIds.set(CONSENT_KEY, 'revoked');
          },
          remember: (decision) => realIds.set(CONSENT_KEY, decision),
          pageViews: createPageViews((name, metadata) => instance.track(name, metadata)),
        };
        if (running.consent === 'granted') running.grant();
        log.debug('initialized; sending to', options.baseUrl, 'consent:', running.consent);

        // A first-touch campaign is news worth a users call; a plain page view is not.
        if (identity.rememberCampaign(readCampaign(location.href, document.referrer, options))) sendUser(running, {});
        for (const call of early.splice(0)) call();
        if (options.trackPageViews) running.pageViews.start();
      } catch (error) {
        log.error(`init() failed: ${error}`);
      }
    },

    identifyUser: method('identifyUser', (state, userId: string | number, metadata?: Metadata) => {
      const id = cleanId(userId);
      if (!id) return badId('identifyUser');
      const { identity } = state;
      const previous = identity.userId();
      const userMetadata = checkMetadata('identifyUser', metadata);
      if (previous === id && !userMetadata) return;
      if (previous && previous !== id) {
        log.warnOnce('switch', 'identifyUser() with a new user: call reset() at log-out.');
        // A fresh anonymous id, so the collector cannot merge the two users through the old one.
        identity.reset();
      }
      identity.set('userId', id);
      sendUser(state, { user_id: id, ...optional('metadata', userMetadata) });
    }, undefined),

    identifyCompany: method('identifyCompany', (state, companyId: string | number, metadata?: Metadata, companyDomain?: string) => {
      const id = cleanId(companyId);
      if (!id) return badId('identifyCompany');
      const { identity } = state;
      const changed = identity.companyId() !== id;
      identity.set('companyId', id);
      const domain = typeof companyDomain === 'string' && companyDomain ? companyDomain : undefined;
      const payload: CompanyPayload = {
        company_id: id,
        ...optional('company_domain', domain),
        ...optional('session_token', identity.sessionToken()),
        ...optional('metadata', checkMetadata('identifyCompany', metadata)),
        ...optional('campaign', identity.campaign()),
      };
      enqueue(state, 'companies', newId(), payload);
      // Link the visitor to the company, as a users call does on Moesif.
      if (changed) sendUser(state, {});
    }, undefined),

    identifySession: method('identifySession', ({ identity }, sessionToken: string) => {
      const token = cleanId(sessionToken);
      if (!token) return badId('identifySession');
      identity.set('sessionToken', token);
    }, undefined),

    track: method('track', (state, actionName: string, metadata?: Metadata) => {
      if (typeof actionName !== 'string' || !actionName.trim()) {
        return log.warnOnce('track', 'track() needs an action name; ignored.');
      }
      const transactionId = newId();
      const payload: ActionPayload = {
        action_name: actionName,
        ...state.identity.attribution(),
        transaction_id: transactionId,
        request: { time: new Date().toISOString(), uri: location.href, verb: 'GET', user_agent_string: navigator.userAgent },
        ...optional('metadata', checkMetadata('track', metadata)),
      };
      enqueue(state, 'actions', transactionId, payload);
    }, undefined),

    reset: method('reset', ({ identity }) => void identity.reset(), undefined),
    resetAnonymousId: method('resetAnonymousId', ({ identity }) => {
      const userId = identity.userId();
      const companyId = identity.companyId();
      const id = identity.reset();
      if (userId) identity.set('userId', userId);
      if (companyId) identity.set('companyId', companyId);
      return id;
    }, undefined),
    getAnonymousId: method('getAnonymousId', ({ identity }) => identity.anonymousId(), undefined, false),
    getUserId: method('getUserId', ({ identity }) => identity.userId(), undefined, false),
    getCompanyId: method('getCompanyId', ({ identity }) => identity.companyId(), undefined, false),
    getSessionToken: method('getSessionToken', ({ identity }) => identity.sessionToken(), undefined, false),
    start: method('start', ({ capture, consent, options, pageViews }) => {
      if (consent === 'revoked') return;
      if (options.trackPageViews) pageViews.start();
      if (capture) capture.start();
      else log.warnOnce('capture', "start(): API-call capture is not in this build; import it from 'usertrail'.");
    }, undefined),
    stop: method('stop', ({ capture, pageViews }) => {
      capture?.stop();
      pageViews.stop();
    }, undefined),
    trackPageView: method('trackPageView', ({ pageViews }, metadata?: Metadata) => pageViews.trackPageView(checkMetadata('trackPageView', metadata)), undefined),
    grantPublishingConsent: method('grantPublishingConsent', (state) => {
      state.remember('granted');
      if (state.consent === 'granted') return;
      state.consent = 'granted';
      state.grant();
    }, undefined),
    revokePublishingConsent: method('revokePublishingConsent', (state) => {
      state.consent = 'revoked';
      state.revoke();
    }, undefined),
    isPublishingConsentGranted: method('isPublishingConsentGranted', ({ consent }) => consent === 'granted', false, false),
    flush: () => running?.delivery.flush() ?? Promise.resolve(),
    getStats: () => running?.delivery.stats(),
    new: () => createMoesif(captureFactory),
  };
  return instance;
}
