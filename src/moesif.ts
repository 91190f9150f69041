// The order of these imports is the order the modules take in the bundle, which changes its gzip
// size: consent.ts and storage.ts first is 14 B smaller than in alphabetical order (measured).
import { CONSENT_KEY, initialConsent, type Consent } from './consent.js';
import { cookieStore, idStore, localStore, type ListableStore, type Store } from './storage.js';
import { readCampaign } from './campaign.js';
import { createDelivery, type Delivery, type DeliveryStats } from './delivery/index.js';
import { inBrowser } from './env.js';
import { cleanId, newId } from './ids.js';
import { createIdentity, idKeys } from './identity.js';
import { createLog } from './log.js';
import { resolveOptions, type Options, type ResolvedOptions } from './options.js';
import { toJson } from './serialize.js';
import { createPageViews, type PageViews } from './pageviews.js';
import type { Capture, CaptureFactory } from './capture/types.js';
import type { ActionPayload, CapturedEvent, CompanyPayload, Kind, Metadata, UserPayload } from './wire.js';

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
   * moesif-browser-js's halves of reset(): each removes every stored id and the campaign (usertrail
   * keeps cookies and their localStorage mirror as one store, so clearing only one half would be undone).
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
  /** Starts logging the page's own API calls (fetch and XMLHttpRequest) as Moesif events. True once started. */
  start(): boolean | undefined;
  /** moesif-browser-js's capture of web3 calls, which usertrail does not have: warns and does nothing. */
  useWeb3(web3?: unknown): boolean | undefined;
  /** Stops logging API calls and puts fetch and XMLHttpRequest back as they were. */
  stop(): void;
  /** Sends a `Page View` action for the current URL, for routers that announce navigations themselves. */
  trackPageView(metadata?: object): void;
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
  // The delivery engine's functions (see createDelivery).
  let push!: Delivery[0];
  let flush!: Delivery[1];
  let stats!: Delivery[2];
  let resume!: Delivery[3];
  let pause!: Delivery[4];
  let capture: Capture | undefined;
  let pageViews!: PageViews;
  let consent: Consent | undefined;
  let decide!: (decision: 'granted' | 'revoked') => void;
  let followDecision!: () => void;
  let initCalled = false;
  const early: Array<() => void> = [];
  const log = createLog(() => options?.debug);

  const [useStores, getId, setId, anonymousId, campaign, rememberCampaign, clear, renewAnonymousId, attribution] = createIdentity();

  /** An id the app gave, or a throw that the method wrapper turns into one warning. */
  const required = (value: unknown): string => cleanId(value) ?? throwBad('needs an id');

  /** Queues one item. Metadata that is not a plain, serializable object is left out, with a warning. */
  const enqueue = (kind: Kind, payload: UserPayload | CompanyPayload | ActionPayload | CapturedEvent): void => {
    if (consent == 'revoked') return;
    let json = (payload.metadata == null || isMetadata(payload.metadata)) && toJson(payload);
    if (!json) {
      log.warn('metadata must be a plain serializable object: left out');
      json = toJson({ ...payload, metadata: undefined });
    }
    if (json) {
      // The kind only: payloads carry session tokens and the app's metadata, which logs never show
      // (the browser's network panel has them for whoever debugs).
      log.debug('queued', kind);
      push(kind, json);
    }
  };

  /** A users call: links the anonymous visitor to the user, company and campaign known now. */
  const sendUser = (fields?: UserPayload): void =>
    enqueue('users', { ...attribution(), anonymous_id: anonymousId(), campaign: campaign(), ...fields });

  const init = (input: Options): Moesif | undefined => {
    if (initCalled) return log.warn('init() called twice: ignored'), instance;
    const resolved = resolveOptions(input, location.protocol, log);
    if (!resolved) return;
    initCalled = true;
    let realLocal: ListableStore | undefined;
    let cookies: Store | undefined;
    if (resolved.persistence != 'none') {
      realLocal = localStore();
      cookies = cookieStore(resolved, log);
      if (!cookies && !realLocal) log.warn('no cookies or localStorage: ids kept for this page only');
    }
    const prefix = resolved.persistenceKeyPrefix ?? 'moesif_';
    const idsLocal = resolved.persistence == 'localStorage' ? realLocal : undefined;
    // Ids and the campaign start in memory and are committed to storage once consent is known.
    const ids = idStore(cookies, idsLocal, idKeys(prefix));
    // The campaign is kept in localStorage only: cookies hold ids and the consent decision, never more.
    const local = idStore(undefined, realLocal, []);
    useStores(ids, local, prefix);
    // The decision itself is stored at once; it is not an id, so it lives and is restored on its own.
    const decision = idStore(cookies, idsLocal, [CONSENT_KEY]);
    decision.commit();
    // Delivery keeps the fetch that exists now, before start() wraps it: our own requests are never captured.
    [push, flush, stats, resume, pause] = createDelivery(resolved, log, fetch.bind(window));
    capture = captureFactory?.(
      resolved,
      log,
      // The decision first: another tab may have revoked it, and then no id may be read (nor restored).
      () => (followDecision(), attribution()),
      (event) => enqueue('events', event),
    );
    pageViews = createPageViews(instance.track);
    /** Stores what was held in memory and starts sending. */
    const persistAndSend = (): void => {
      ids.commit();
      local.commit();
      resume(realLocal);
    };
    /** Acts on a decision, made here or stored by another tab or subdomain of the site. */
    const apply = (choice: Consent): void => {
      if (choice == 'revoked') {
        // Committed first, so that clear() reaches storage: ids from earlier visits go too.
        ids.commit();
        local.commit();
        clear();
        ids.release();
        local.release();
        pause(realLocal);
        capture?.stop();
      } else if (consent != 'granted' && choice == 'granted') persistAndSend();
      consent = choice;
    };
    decide = (choice) => {
      decision.set(CONSENT_KEY, choice);
      apply(choice);
    };
    // Before any id is read: a tab still running on an old decision would otherwise restore the ids
    // another tab just removed (from its own localStorage) and go on sending.
    followDecision = () => {
      const stored = decision.get(CONSENT_KEY) as Consent | null;
      if (stored && stored != consent) apply(stored);
    };
    // Not decide(): a site that asks for no consent gets no consent cookie, nor does a Do Not Track refusal.
    apply(initialConsent(resolved, decision.get(CONSENT_KEY)));
    options = resolved;

    // A first-touch campaign is news worth a users call; a plain page view is not.
    if (rememberCampaign(readCampaign(location.href, document.referrer, resolved))) sendUser();
    for (const call of early.splice(0)) call();
    if (resolved.trackPageViews) pageViews.start();
    return instance;
  };

  /** Each public method that needs a running instance. */
  const methods: Omit<Moesif, 'flush' | 'getStats' | 'isPublishingConsentGranted' | 'new'> = {
    init,

    identifyUser(userId, metadata) {
      const id = required(userId);
      const previous = getId('user_id');
      if (previous == id && !metadata) return;
      if (previous && previous != id) {
        log.warn('identifyUser() with another user: call reset() at log-out');
        // A fresh anonymous id, so the collector cannot merge the two users through the old one. The
        // company and session stay, as in moesif: an app may well have set the new user's just before.
        renewAnonymousId();
      }
      setId('user_id', id);
      // Checked by enqueue(): a plain, serializable object, or left out with a warning.
      sendUser({ user_id: id, metadata: metadata as Metadata | undefined });
    },

    identifyCompany(companyId, metadata, companyDomain) {
      const id = required(companyId);
      const changed = getId('company_id') != id;
      setId('company_id', id);
      enqueue('companies', {
        company_id: id,
        // Trimmed, and left out when empty or not a string an app meant (as ids are).
        company_domain: cleanId(companyDomain),
        session_token: getId('session_token'),
        metadata: metadata as Metadata | undefined,
        campaign: campaign(),
      } satisfies CompanyPayload);
      // Link the visitor to the company, as a users call does on Moesif.
      if (changed) sendUser();
    },

    identifySession(sessionToken) {
      setId('session_token', required(sessionToken));
    },

    track(actionName, metadata) {
      if (typeof actionName != 'string' || !actionName.trim()) throwBad('needs an action name');
      enqueue('actions', {
        action_name: actionName,
        ...attribution(),
        transaction_id: newId(),
        request: { time: new Date().toISOString(), uri: location.href, verb: 'GET', user_agent_string: navigator.userAgent },
        metadata: metadata as Metadata | undefined,
      } satisfies ActionPayload);
    },

    trackPageView: (metadata) => pageViews.trackPageView(isMetadata(metadata) ? metadata : undefined),
    // Log-out: forget user, company, session and campaign, and start a new anonymous visitor.
    reset() {
      clear();
      renewAnonymousId();
    },
    resetAnonymousId: renewAnonymousId,
    clearCookies: clear,
    clearStorage: clear,
    getAnonymousId: anonymousId,
    getUserId: () => getId('user_id'),
    getCompanyId: () => getId('company_id'),
    getSessionToken: () => getId('session_token'),

    start() {
      if (consent == 'revoked') return;
      if (options!.trackPageViews) pageViews.start();
      if (!capture) throwBad('capture is not in this build (see usertrail/capture)');
      capture.start();
      return true;
    },
    // Warns once, "useWeb3(): not supported", and gives back undefined: web3 calls are not captured.
    useWeb3: () => throwBad('not supported'),
    stop() {
      capture?.stop();
      pageViews.stop();
    },

    grantPublishingConsent: () => decide('granted'),
    revokePublishingConsent: () => decide('revoked'),
  };

  const instance = {
    flush: () => (options ? flush() : Promise.resolve()),
    getStats: () => options && stats(),
    isPublishingConsentGranted: () => (options && followDecision(), consent == 'granted'),
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
        if (options) followDecision();
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
