import Cookies from 'js-cookie';
import type { Log } from './log.js';
import type { ResolvedOptions } from './options.js';

/** One place to keep a string under a key. Implementations never throw. */
export interface Store {
  get(key: string): string | null;
  set(key: string, value: string): unknown;
  remove(key: string): void;
}

/** localStorage, which can list its keys (the outbox finds what closed tabs left behind) and says whether a write took. */
export interface ListableStore extends Store {
  /** True when the value was written; not when storage is full, disabled or blocked. */
  set(key: string, value: string): boolean | undefined;
  keys(): string[];
}

/** `action()`, or `fallback` (undefined when not given) when it throws: blocked or full storage throws on any access. */
const attempt = <T, F = undefined>(action: () => T, fallback?: F): T | F => {
  try {
    return action();
  } catch {
    // Left out only where F is undefined, so the cast holds.
    return fallback as F;
  }
};

/**
 * localStorage, or undefined where reading it throws (sandboxed iframes, storage blocked by the
 * visitor). A store that is full or refuses writes still answers: `set` gives undefined instead of
 * true, and callers keep that value in memory.
 */
export const localStore = (): ListableStore | undefined =>
  attempt(() => {
    const storage = localStorage;
    return {
      get: (key: string) => attempt(() => storage.getItem(key), null),
      set: (key: string, value: string) => attempt(() => (storage.setItem(key, value), true)),
      remove: (key: string) => attempt(() => storage.removeItem(key)),
      keys: () => attempt(() => Object.keys(storage), []),
    };
  });

/**
 * `value` when it is too long for a cookie, else null. A browser refuses a cookie whose name and
 * value pass 4 KB (4,096 bytes in Chromium and Firefox), silently, keeping the old one: such a value
 * is kept in localStorage and memory, and its cookie holds '' instead (ids are never empty), which
 * idStore reads as "too long". The margin covers browsers that also count the attributes, and
 * encodeURIComponent encodes more characters than js-cookie does, so the estimate errs long.
 */
const tooLong = (key: string, value: string | null | undefined): string | null => (value && (key + encodeURIComponent(value)).length > 4e3 ? value : null);

const PROBE = 'usertrail_probe';

/**
 * The widest domain this page may set cookies on, found by trying: a test cookie is set on
 * `example.test`, then `app.example.test`, and the first one the browser keeps wins. Browsers refuse
 * cookies on public suffixes (github.io, co.uk), so this needs no suffix list. Localhost and IP
 * addresses take host-only cookies.
 */
export function findCookieDomain(hostname: string): string | undefined {
  if (/^[\d.]+$|:/.test(hostname)) return undefined;
  const labels = hostname.split('.');
  for (let count = 2; count <= labels.length; count++) {
    const domain = labels.slice(-count).join('.');
    // One second of life, should the removal below not take.
    Cookies.set(PROBE, '1', { domain, expires: 1 / 86_400 });
    if (Cookies.get(PROBE)) {
      Cookies.remove(PROBE, { domain });
      return domain;
    }
  }
  return undefined;
}

/** A store that listens to the page, until `dispose()` removes its listeners. */
export interface DisposableStore extends Store {
  dispose(): void;
}

/**
 * First-party cookies for our ids, or undefined where the browser refuses them. js-cookie reads and
 * writes them; values that moesif-browser-js wrote (URI-encoded) read as they were written.
 * SameSite=Lax, and Secure on https; SameSite=None (which requires Secure) only with `crossSiteCookie`.
 */
export function cookieStore(options: ResolvedOptions, log: Log): DisposableStore | undefined {
  // Reading document.cookie throws in sandboxed documents; cookieEnabled is false where they are blocked.
  if (!attempt(() => navigator.cookieEnabled && document.cookie != null)) return undefined;
  const crossSite = options.crossSiteCookie;
  // Found at the first write, not before: a page waiting for consent writes no cookie, not even the probe.
  let attributes: Cookies.CookieAttributes | undefined;
  const attributesNow = (): Cookies.CookieAttributes => {
    if (!attributes) {
      const domain = options.cookieDomain ?? (options.crossSubdomainCookie ? findCookieDomain(location.hostname) : undefined);
      const secure = location.protocol == 'https:' || options.secureCookie || crossSite;
      attributes = { domain, sameSite: crossSite ? 'none' : 'lax', secure };
    }
    return attributes;
  };
  // Reading document.cookie is a round trip to the browser's cookie store (about a millisecond on a
  // busy machine), and track() or a captured call reads four ids. So the jar is read at most once a
  // second, and again at once when another tab may have changed it: on a storage event (same site)
  // or when this page becomes visible again (the visitor switched from another tab or subdomain).
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
  addEventListener('storage', forget);
  document.addEventListener('visibilitychange', forget);
  return {
    get: read,
    set(key, value) {
      forget();
      if (tooLong(key, value)) log.warn('id over 4 KB: kept for this origin only');
      attempt(() => Cookies.set(key, tooLong(key, value) ? '' : value, { ...attributesNow(), expires: options.cookieExpiration }));
    },
    remove(key) {
      forget();
      attempt(() => Cookies.remove(key, attributesNow()));
    },
    dispose() {
      removeEventListener('storage', forget);
      document.removeEventListener('visibilitychange', forget);
    },
  };
}

/**
 * Where the visitor's ids live. With cookies available, the cookie jar is the source of truth and
 * localStorage a mirror, resynced on every read: a stale localStorage value on one subdomain must
 * never beat a newer cookie written by another subdomain (after a reset() there, say).
 * localStorage only restores the cookies (every one of `keys`) when the whole jar is gone (cleared
 * or expired), which the first key (the anonymous id, present whenever the SDK has written anything)
 * tells apart from a single value deliberately removed.
 * Memory always holds the last value, so a page whose storage fails keeps working.
 *
 * It starts in memory only, writing nothing: `commit()` stores what it holds and writes through from
 * then on; `release()` forgets everything and goes back to memory. This is how nothing is written
 * before consent: the SDK runs normally on a held store, and persists only once consent is granted.
 */
export function idStore(cookies: Store | undefined, local: Store | undefined, keys: string[]) {
  // Written whenever anything is (the anonymous id): without it in the jar, the jar is gone.
  const aliveKey = keys[0];
  let memory = new Map<string, string | null>();
  // The backends in use: none while held.
  let jar: Store | undefined;
  let mirror: Store | undefined;
  /** Remembers `value` (null: removed), and mirrors it to localStorage unless it is known to be there. */
  const keep = (key: string, value: string | null): string | null => {
    if (memory.get(key) !== value && mirror?.get(key) !== value) value == null ? mirror?.remove(key) : mirror?.set(key, value);
    memory.set(key, value);
    return value;
  };
  const store = {
    get(key: string): string | null {
      // The whole jar is gone (cleared, or expired as Safari does after 7 days): restore every id at once,
      // before reading any, or the first restored cookie would make the others look deliberately removed.
      if (jar && jar.get(aliveKey) == null && mirror?.get(aliveKey)) {
        for (const name of keys) {
          const value = mirror.get(name);
          if (value != null) jar.set(name, value);
        }
      }
      const value = jar?.get(key) ?? null;
      // A cookie removed while its jar lives was removed on purpose (on another subdomain, say).
      // '' stands for a value too long for a cookie (see tooLong): the one kept here, unless that is
      // short enough for a cookie, and so older (from before another subdomain wrote the long one).
      if (value != null || (jar && jar.get(aliveKey) != null)) return keep(key, value != '' ? value : tooLong(key, mirror?.get(key) ?? memory.get(key)));
      return mirror?.get(key) ?? memory.get(key) ?? null;
    },
    set(key: string, value: string): void {
      memory.set(key, value);
      jar?.set(key, value);
      mirror?.set(key, value);
    },
    remove(key: string): void {
      memory.delete(key);
      jar?.remove(key);
      mirror?.remove(key);
    },
    commit(): void {
      jar = cookies;
      mirror = local;
      // What was held replaces what is stored, whole: ids made before consent are never mixed with an
      // earlier visit's (a new anonymous id beside an old user id). Held nothing: the stored ids stay.
      if (memory.size) for (const key of keys) if (!memory.has(key)) store.remove(key);
      // Only values are held: a null (a removal seen in the jar) is kept only while committed.
      for (const [key, value] of memory) if (value != null) store.set(key, value);
    },
    release(): void {
      memory = new Map();
      jar = mirror = undefined;
    },
  };
  return store;
}

export type IdStore = ReturnType<typeof idStore>;
