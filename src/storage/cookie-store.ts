import Cookies from 'js-cookie';
import { CONSENT_KEY } from '../consent.js';
import { siteAddress } from '../env.js';
import { listen } from '../listeners.js';
import type { Log } from '../log.js';
import type { ResolvedOptions } from '../options.js';
import { attempt, type DisposableStore, type Store } from './store.js';

/**
 * `value` when no cookie can hold it, else null. A browser refuses a cookie whose name and value pass
 * 4 KB (4,096 bytes in Chromium and Firefox), silently, keeping the old one: such a value is kept in
 * localStorage and memory, and its cookie holds '' instead (ids are never empty), which idStore reads
 * as "too long". The margin covers browsers that also count the attributes, and encodeURIComponent
 * encodes more characters than js-cookie does, so the estimate errs long. A value that is not valid
 * Unicode (an unpaired UTF-16 surrogate) cannot be encoded at all (encodeURIComponent, which
 * js-cookie's writes use too, throws URIError): it is kept the same way.
 */
export const tooLong = (key: string, value: string | null | undefined): string | null => {
  if (!value) return null;
  try {
    return (key + encodeURIComponent(value)).length > 4e3 ? value : null;
  } catch {
    return value;
  }
};

const PROBE = 'usertrail_probe';

/** The value of another script's cookie (Google Analytics'), read once; undefined when absent or unreadable. */
export const otherCookie = (name: string): string | undefined => attempt(() => Cookies.get(name));

/**
 * The prefix of a localStorage key, followed by a cookie's name, that holds when this origin last
 * wrote that cookie (ms since the epoch): a cookie's expiry cannot be read back, and a value the jar
 * already holds is written again only to push its expiry back (see REFRESH_MS).
 */
const WRITTEN_AT = 'usertrail_cookie_written:';

/**
 * How often at most a cookie is written again with the value it holds, its expiry pushed back: apps
 * call identifyUser() and identifySession() on every page, and a write on every page load costs a
 * document.cookie write (a round trip to the browser's cookie store) and counts as a change of the
 * site's cookies, which keeps a `Cache-Control: no-store` page out of Chrome's back/forward cache.
 * The expiry still slides for a returning visitor, a day at a time.
 */
const REFRESH_MS = 86_400_000;

/**
 * Dispatched on the document by every cookie store that writes, so that the other instances on the
 * page (a `moesif.new()`, or a second copy of the SDK) read the jar again, rather than a copy of it
 * from before a reset() there.
 */
const WRITTEN = 'usertrail:cookies';

/**
 * js-cookie's set(), safe on a page whose Object.prototype has enumerable properties (old libraries,
 * pollution): js-cookie reads the attributes with for...in and writes each into the cookie, and one that
 * is no string (a function) throws, so that no cookie was ever written. Each is given as undefined, which
 * js-cookie skips.
 */
function writeCookie(name: string, value: string, attributes: Cookies.CookieAttributes): void {
  const inherited: Record<string, undefined> = {};
  for (const key in {}) inherited[key] = undefined;
  Cookies.set(name, value, { ...inherited, ...attributes });
}

/** js-cookie's remove() (an expired write, as it does), through writeCookie: its remove() adds attributes of its own, read by for...in. */
const removeCookie = (name: string, attributes: Cookies.CookieAttributes = {}): void => writeCookie(name, '', { ...attributes, expires: -1 });

/**
 * The widest domain this page may set cookies on, found by trying: a test cookie is set on
 * `example.test`, then `app.example.test`, and the first one the browser keeps wins. Browsers refuse
 * cookies on public suffixes (github.io, co.uk), so this needs no suffix list. Localhost and IP
 * addresses take host-only cookies.
 */
export function findCookieDomain(hostname: string, attributes: Cookies.CookieAttributes = {}): string | undefined {
  if (/^[\d.]+$|:/.test(hostname)) return undefined;
  const labels = hostname.split('.');
  for (let count = 2; count <= labels.length; count++) {
    const domain = labels.slice(-count).join('.');
    // With the attributes of the cookies to come (SameSite, Secure), and one second of life, should the removal below not take.
    writeCookie(PROBE, '1', { ...attributes, domain, 'max-age': '1' });
    if (Cookies.get(PROBE)) {
      removeCookie(PROBE, { domain });
      return domain;
    }
  }
  return undefined;
}

/**
 * The attributes of every cookie the SDK writes: SameSite=Lax, and Secure on https; SameSite=None
 * (which requires Secure) only with `crossSiteCookie`. The domain is `cookieDomain`, or with
 * `crossSubdomainCookie` the widest one the browser allows (found by writing a probe cookie), or none
 * (host-only).
 */
function cookieAttributes(options: ResolvedOptions): Cookies.CookieAttributes {
  const site = siteAddress();
  const crossSite = options.crossSiteCookie;
  const safety: Cookies.CookieAttributes = { sameSite: crossSite ? 'none' : 'lax', secure: site.protocol == 'https:' || options.secureCookie || crossSite };
  const domain = options.cookieDomain ?? (options.crossSubdomainCookie ? findCookieDomain(site.hostname, safety) : undefined);
  return { ...safety, domain };
}

/**
 * Removes the cookies named `key` that are not ours (ours are on `domain`) and would hide ours.
 * moesif-browser-js 1.8.13 chose its cookie domain by a pattern: on hosts like app.abc.io the whole host
 * name, on some top-level domains none (host-only). The browser lists such an older cookie before ours,
 * so it is the one read: the old user would come back after reset(), and a new id written beside it
 * would never be seen.
 */
function removeHidingCookies(key: string, domain: string | undefined): void {
  const { hostname } = siteAddress();
  if (domain) removeCookie(key);
  // A leading dot makes no other cookie: `.acme.com` is `acme.com`.
  if (domain?.replace(/^\./, '') != hostname) removeCookie(key, { domain: hostname });
}

export interface CookieStoreDeps {
  options: ResolvedOptions;
  log: Log;
  /**
   * Where the time of each write is kept (localStorage; see WRITTEN_AT), so that an id set again to
   * the value its cookie holds is written once a day to push its expiry back. Without it, such a
   * cookie is not written again.
   */
  writeTimes: Store | undefined;
}

/**
 * First-party cookies for our ids, or undefined where the browser refuses them. js-cookie reads and
 * writes them; values that moesif-browser-js wrote (URI-encoded) read as they were written.
 * SameSite=Lax, and Secure on https; SameSite=None (which requires Secure) only with `crossSiteCookie`.
 * A cookie is written only when its value changes or its expiry is due a push (see `writeTimes`), and
 * removed only when the jar has it.
 */
export function cookieStore({ options, log, writeTimes }: CookieStoreDeps): DisposableStore | undefined {
  // Reading document.cookie throws in sandboxed documents; cookieEnabled is false where they are blocked.
  if (!attempt(() => navigator.cookieEnabled && document.cookie != null)) return undefined;
  // Found at the first write, not before: a page waiting for consent writes no cookie, not even the probe.
  let attributes: Cookies.CookieAttributes | undefined;
  const attributesNow = (): Cookies.CookieAttributes => {
    if (!attributes) attributes = cookieAttributes(options);
    return attributes;
  };
  const jar = createJarReader();
  /**
   * Where the time `key` was written is kept. Not for the consent decision: it would outlive a refusal,
   * after which storage holds the decision alone; its cookie is written when the decision changes.
   */
  const timeStore = (key: string): Store | undefined => (key == CONSENT_KEY ? undefined : writeTimes);
  /** After a write, keeps its time (a removal: forgets it), and tells the other instances of the page to read the jar again. */
  const written = (key: string, time?: number): void => {
    const times = timeStore(key);
    if (time) times?.set(WRITTEN_AT + key, String(time));
    else times?.remove(WRITTEN_AT + key);
    document.dispatchEvent(new Event(WRITTEN));
  };
  return {
    get: jar.read,
    set(key, value) {
      const cookieless = tooLong(key, value);
      if (cookieless) log.warn('id over 4 KB or not valid Unicode: kept for this origin only');
      const cookieValue = cookieless ? '' : value;
      const now = Date.now();
      const times = timeStore(key);
      // Never recent when this origin has not written it (moesif-browser-js or another subdomain did).
      const age = now - Number(times?.get(WRITTEN_AT + key));
      if (jar.readNow(key) === cookieValue && (!times || (age >= 0 && age < REFRESH_MS))) return;
      // max-age, not js-cookie's `expires`: a lifetime that does not depend on the page's clock. Whole
      // seconds: a browser ignores a max-age with a fraction, and the cookie would end with the session.
      const maxAge = String(Math.round(options.cookieExpiration * 86_400));
      attempt(() => {
        removeHidingCookies(key, attributesNow().domain);
        writeCookie(key, cookieValue, { ...attributesNow(), 'max-age': maxAge });
      });
      written(key, now);
    },
    remove(key) {
      // No cookie of that name is in the jar, of any domain: nothing to remove (a refusal of consent
      // removes every id on every page load).
      if (jar.readNow(key) == null) return timeStore(key)?.remove(WRITTEN_AT + key);
      attempt(() => {
        removeHidingCookies(key, attributesNow().domain);
        removeCookie(key, attributesNow());
      });
      written(key);
    },
    dispose: jar.dispose,
  };
}

/**
 * Reads the cookie jar for a cookie store. Reading document.cookie is a round trip to the browser's
 * cookie store (about a millisecond on a busy machine), and track() or a captured call reads four ids.
 * So the jar is read at most once a second, and again at once when this page becomes visible again (the
 * visitor switched from another tab or subdomain, where the ids may have changed) or another instance on
 * the page wrote (WRITTEN). Not on storage events: listening to them cost every page load about 0.5 ms
 * of init(), for a change in a window open side by side, which the second's limit already bounds.
 */
function createJarReader() {
  let jar: Record<string, string> | undefined;
  const forget = (): void => {
    jar = undefined;
  };
  const read = (key: string): string | null => {
    if (!jar) {
      jar = attempt(() => Cookies.get(), {});
      setTimeout(forget, 1_000);
    }
    return jar[key] ?? null;
  };
  return {
    /** The value of cookie `key` as read up to a second ago, or null. */
    read,
    /** The value of cookie `key` as the jar holds it now: another tab may have changed it since the last read. */
    readNow(key: string): string | null {
      forget();
      return read(key);
    },
    /** Removes the listeners that make the next read go to the jar. */
    dispose: listen(document, { visibilitychange: forget, [WRITTEN]: forget }),
  };
}

