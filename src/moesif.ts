import { readCampaign } from './campaign';
import { createDelivery, type Delivery, type DeliveryStats } from './delivery';
import { inBrowser } from './env';
import { cleanId, newId } from './ids';
import { createIdentity, idKeys, storageKey, type Identity } from './identity';
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
  pageViews: PageViews;
  consent: Consent;
  /** Records a decision; 'granted' persists what was held in memory and starts sending. */
  decide(decision: 'granted' | 'revoked'): void;
}

/** Each public method's body, run once init() has succeeded. */
type Bodies = {
  [K in keyof Moesif]?: (state: Running, ...args: Parameters<Moesif[K]>) => ReturnType<Moesif[K]>;
};

/** Calls made before init() are kept, in order, up to this many. */
const MAX_EARLY_CALLS = 1000;

const isMetadata = (value: unknown): value is Metadata =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Creates an instance. Nothing happens until init(): no storage, no listeners, no requests, so the
 * module is safe to import anywhere, including server-side rendering, where every method is a no-op.
 * Payload fields left undefined are simply absent from the JSON sent, as Moesif expects.
 */
export function createMoesif(captureFactory?: CaptureFactory): Moesif {
  let running: Running | undefined;
  let initCalled = false;
  const early: Array<() => void> = [];
  const log = createLog(() => running?.options.debug ?? false);

  const enqueue = ({ delivery, options, consent }: Running, kind: Kind, id: string, payload: object): void => {
    if (consent === 'revoked') return;
    let json = toJson(payload);
    if (json === undefined) {
      log.warn('metadata is not serializable; sent without it.');
      json = toJson({ ...payload, metadata: undefined });
    }
    if (json === undefined) return;
    log.debug(`queued for ${kind}`, options.debug ? payload : '');
    delivery.push(kind, id, json);
  };

  const badId = (name: string): void => log.warn(`${name}() needs a non-empty id; ignored.`);

  const checkMetadata = (name: string, metadata: unknown): Metadata | undefined => {
    if (metadata == null || isMetadata(metadata)) return metadata ?? undefined;
    log.warn(`${name}(): metadata must be an object; ignored.`);
    return undefined;
  };

  const sendUser = (state: Running, fields: UserPayload): void => {
    const { identity } = state;
    const payload: UserPayload = {
      user_id: identity.userId(),
      anonymous_id: identity.anonymousId(),
      company_id: identity.companyId(),
      session_token: identity.sessionToken(),
      campaign: identity.campaign(),
      ...fields,
    };
    enqueue(state, 'users', newId(), payload);
  };

  const init = (input: Options): void => {
    if (!inBrowser()) return;
    if (initCalled) return log.warn('init() called twice: the first call stays in effect.');
    const options = resolveOptions(input, location.protocol, log);
    if (!options) return;
    initCalled = true;
    const persist = options.persistence !== 'none';
    const realLocal = persist ? localStore() : undefined;
    const prefix = options.persistenceKeyPrefix;
    const cookies = persist ? cookieStore(options, location) : undefined;
    if (persist && !cookies && !realLocal) log.warn('no cookies or localStorage: ids last for this page view only.');
    const realIds = idStore(cookies, options.persistence === 'localStorage' ? realLocal : undefined, storageKey('anonymousId', prefix), [
      ...idKeys(prefix),
      CONSENT_KEY,
    ]);
    // Ids and the queue start in memory and are committed to storage once consent is known.
    const ids = heldStore();
    const local = heldStore();
    const identity = createIdentity(ids, local, prefix);
    // Delivery keeps the fetch that exists now, before start() wraps it: our own requests are never captured.
    const delivery = createDelivery({ options, store: undefined, paused: true, log, fetchImpl: typeof fetch === 'function' ? fetch.bind(window) : undefined });
    /** Stores what was held in memory and starts sending. */
    const persistAndSend = (): void => {
      ids.commit(realIds);
      local.commit(realLocal ?? memoryStore());
      delivery.resume(realLocal);
    };
    const capture = captureFactory?.({
      options,
      log,
      record: (event) => running && enqueue(running, 'events', event.transaction_id, { ...event, ...identity.attribution() }),
    });
    const state: Running = (running = {
      options,
      identity,
      delivery,
      capture,
      pageViews: createPageViews((name, metadata) => instance.track(name, metadata)),
      consent: initialConsent(options, realIds.get(CONSENT_KEY)),
      decide(decision) {
        realIds.set(CONSENT_KEY, decision);
        if (decision === 'revoked') {
          delivery.pause();
          capture?.stop();
          identity.clear();
          ids.release();
          local.release();
        } else if (state.consent !== 'granted') {
          persistAndSend();
        }
        state.consent = decision;
      },
    });
    // Not decide(): a site that asks for no consent gets no consent cookie.
    if (state.consent === 'granted') persistAndSend();
    log.debug('initialized; sending to', options.baseUrl, 'consent:', state.consent);

    // A first-touch campaign is news worth a users call; a plain page view is not.
    if (identity.rememberCampaign(readCampaign(location.href, document.referrer, options))) sendUser(state, {});
    for (const call of early.splice(0)) call();
    if (options.trackPageViews) state.pageViews.start();
  };

  const bodies: Bodies = {
    identifyUser(state, userId, metadata) {
      const id = cleanId(userId);
      if (!id) return badId('identifyUser');
      const { identity } = state;
      const previous = identity.userId();
      const userMetadata = checkMetadata('identifyUser', metadata);
      if (previous === id && !userMetadata) return;
      if (previous && previous !== id) {
        log.warn('identifyUser() with a new user: call reset() at log-out.');
        // A fresh anonymous id, so the collector cannot merge the two users through the old one.
        identity.reset();
      }
      identity.set('userId', id);
      sendUser(state, { user_id: id, metadata: userMetadata });
    },

    identifyCompany(state, companyId, metadata, companyDomain) {
      const id = cleanId(companyId);
      if (!id) return badId('identifyCompany');
      const { identity } = state;
      const changed = identity.companyId() !== id;
      identity.set('companyId', id);
      const payload: CompanyPayload = {
        company_id: id,
        company_domain: typeof companyDomain === 'string' && companyDomain ? companyDomain : undefined,
        session_token: identity.sessionToken(),
        metadata: checkMetadata('identifyCompany', metadata),
        campaign: identity.campaign(),
      };
      enqueue(state, 'companies', newId(), payload);
      // Link the visitor to the company, as a users call does on Moesif.
      if (changed) sendUser(state, {});
    },

    identifySession({ identity }, sessionToken) {
      const token = cleanId(sessionToken);
      if (!token) return badId('identifySession');
      identity.set('sessionToken', token);
    },

    track(state, actionName, metadata) {
      if (typeof actionName !== 'string' || !actionName.trim()) return log.warn('track() needs an action name; ignored.');
      const transactionId = newId();
      const payload: ActionPayload = {
        action_name: actionName,
        ...state.identity.attribution(),
        transaction_id: transactionId,
        request: { time: new Date().toISOString(), uri: location.href, verb: 'GET', user_agent_string: navigator.userAgent },
        metadata: checkMetadata('track', metadata),
      };
      enqueue(state, 'actions', transactionId, payload);
    },

    trackPageView: ({ pageViews }, metadata) => pageViews.trackPageView(checkMetadata('trackPageView', metadata)),
    reset: ({ identity }) => void identity.reset(),
    resetAnonymousId({ identity }) {
      const userId = identity.userId();
      const companyId = identity.companyId();
      const id = identity.reset();
      if (userId) identity.set('userId', userId);
      if (companyId) identity.set('companyId', companyId);
      return id;
    },
    getAnonymousId: ({ identity }) => identity.anonymousId(),
    getUserId: ({ identity }) => identity.userId(),
    getCompanyId: ({ identity }) => identity.companyId(),
    getSessionToken: ({ identity }) => identity.sessionToken(),

    start({ capture, consent, options, pageViews }) {
      if (consent === 'revoked') return;
      if (options.trackPageViews) pageViews.start();
      if (capture) capture.start();
      else log.warn("start(): API-call capture is not in this build; import it from 'usertrail'.");
    },
    stop({ capture, pageViews }) {
      capture?.stop();
      pageViews.stop();
    },

    grantPublishingConsent: (state) => state.decide('granted'),
    revokePublishingConsent: (state) => state.decide('revoked'),
    isPublishingConsentGranted: ({ consent }) => consent === 'granted',
  };

  const instance = {
    init(input: Options) {
      try {
        init(input);
      } catch (error) {
        log.error(`init() failed: ${error}`);
      }
    },
    flush: () => running?.delivery.flush() ?? Promise.resolve(),
    getStats: () => running?.delivery.stats(),
    new: () => createMoesif(captureFactory),
  } as Moesif;

  /**
   * Every other public method goes through here: before init() the call is kept for later (getters
   * answer undefined instead); after it, errors become one console warning per method.
   * Nothing is ever thrown into the host page.
   */
  for (const [name, body] of Object.entries(bodies) as Array<[keyof Moesif, (state: Running, ...args: unknown[]) => unknown]>) {
    (instance as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      try {
        if (running) return body(running, ...args);
        if (!/^(get|is)/.test(name) && !initCalled && inBrowser()) {
          if (early.length < MAX_EARLY_CALLS) early.push(() => (instance[name] as (...a: unknown[]) => unknown)(...args));
          else log.warn(`over ${MAX_EARLY_CALLS} calls before init(): dropping the rest.`);
        }
      } catch (error) {
        log.warn(`${name}() failed: ${error}`);
      }
      return name === 'isPublishingConsentGranted' ? false : undefined;
    };
  }
  return instance;
}
