import Cookies from 'js-cookie';
import type { Log } from './log';
import type { ResolvedOptions } from './options';

/** One place to keep a string under a key. Implementations never throw. */
export interface Store {
  get(key: string): string | null;
  /** False when the value could not be written (storage full, disabled, blocked). */
  set(key: string, value: string): boolean;
  remove(key: string): void;
}

/** A store that can also list its keys, which the outbox needs to find what closed tabs left behind. */
export interface ListableStore extends Store {
  keys(): string[];
}

export function memoryStore(): ListableStore {
  const values = new Map<string, string>();
  return {
    get: (key) => values.get(key) ?? null,
    set: (key, value) => (values.set(key, value), true),
    remove: (key) => void values.delete(key),
    keys: () => [...values.keys()],
  };
}

/** localStorage, or undefined where it is missing or blocked (sandboxed iframes, disabled storage). */
export function localStore(): ListableStore | undefined {
  let storage: Storage;
  try {
    // Merely reading window.localStorage throws a SecurityError where storage is blocked.
    storage = window.localStorage;
    const probe = '__usertrail_probe__';
    storage.setItem(probe, probe);
    storage.removeItem(probe);
  } catch {
    return undefined;
  }
  return {
    get(key) {
      try {
        return storage.getItem(key);
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        storage.setItem(key, value);
        return true;
      } catch {
        return false;
      }
    },
    remove(key) {
      try {
        storage.removeItem(key);
      } catch {
        /* nothing to remove from a store we cannot reach */
      }
    },
    keys() {
      try {
        return Object.keys(storage);
      } catch {
        return [];
      }
    },
  };
}

const IP_ADDRESS = /^[\d.]+$|:/;

/**
 * The widest domain this page may set cookies on, found by trying: a test cookie is set on
 * `example.test`, then `app.example.test`, and the first one the browser keeps wins. Browsers refuse
 * cookies on public suffixes (github.io, co.uk), so this never needs a suffix list. Localhost and IP
 * addresses take host-only cookies.
 */
export function findCookieDomain(hostname: string): string | undefined {
  if (IP_ADDRESS.test(hostname) || !hostname.includes('.')) return undefined;
  const labels = hostname.split('.');
  const probe = `__usertrail_domain_probe_${Math.random().toString(36).slice(2)}`;
  for (let count = 2; count <= labels.length; count++) {
    const domain = labels.slice(-count).join('.');
    try {
      Cookies.set(probe, '1', { domain, sameSite: 'Lax' });
      if (Cookies.get(probe) === '1') {
        Cookies.remove(probe, { domain });
        return domain;
      }
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export interface CookieSettings {
  domain: string | undefined;
  days: number;
  secure: boolean;
  crossSite: boolean;
}

/** Cookie attributes for our ids: SameSite=Lax, Secure on https, SameSite=None only for cross-site use. */
export function cookieSettings(options: ResolvedOptions, location: Location): CookieSettings {
  const crossSite = options.crossSiteCookie;
  return {
    domain: options.cookieDomain ?? (options.crossSubdomainCookie ? findCookieDomain(location.hostname) : undefined),
    days: options.cookieExpiration,
    secure: location.protocol === 'https:' || options.secureCookie || crossSite,
    crossSite,
  };
}

/** First-party cookies, or undefined where the browser refuses them. */
export function cookieStore(settings: CookieSettings): Store | undefined {
  try {
    if (!navigator.cookieEnabled) return undefined;
  } catch {
    return undefined;
  }
  const attributes: Cookies.CookieAttributes = {
    path: '/',
    expires: settings.days,
    sameSite: settings.crossSite ? 'None' : 'Lax',
    secure: settings.secure,
    ...(settings.domain ? { domain: settings.domain } : {}),
  };
  return {
    get(key) {
      try {
        return Cookies.get(key) ?? null;
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        Cookies.set(key, value, attributes);
        return Cookies.get(key) === value;
      } catch {
        return false;
      }
    },
    remove(key) {
      try {
        // A cookie is only removed by a write with the same domain and path it was set with.
        Cookies.remove(key, attributes);
      } catch {
        /* the cookie jar is out of reach */
      }
    },
  };
}

/**
 * Where the visitor's ids live. With cookies available, the cookie jar is the source of truth and
 * localStorage a mirror, resynced on every read: a stale localStorage value on one subdomain must
 * never beat a newer cookie written by another subdomain (after a reset() there, say).
 * localStorage only restores the cookies when the whole jar is gone (cleared or expired), which
 * `aliveKey` (the anonymous id, present whenever the SDK has written anything) tells apart from
 * a single value deliberately removed.
 * Memory always holds the last value, so a page whose storage fails keeps working.
 */
export function idStore(cookies: Store | undefined, local: Store | undefined, aliveKey: string, log: Log): Store {
  const memory = memoryStore();
  const mirror = (key: string, value: string): string => {
    if (local && local.get(key) !== value) local.set(key, value);
    memory.set(key, value);
    return value;
  };
  return {
    get(key) {
      const fromCookie = cookies?.get(key) ?? null;
      if (fromCookie !== null) return mirror(key, fromCookie);
      if (cookies && cookies.get(aliveKey) !== null) {
        local?.remove(key);
        memory.remove(key);
        return null;
      }
      const fromLocal = local?.get(key) ?? null;
      if (fromLocal !== null) {
        cookies?.set(key, fromLocal);
        return mirror(key, fromLocal);
      }
      return memory.get(key);
    },
    set(key, value) {
      memory.set(key, value);
      const savedInCookie = cookies?.set(key, value) ?? false;
      const savedLocally = local?.set(key, value) ?? false;
      if ((cookies || local) && !savedInCookie && !savedLocally) {
        log.warnOnce('storage', 'cookies and localStorage are unavailable; ids are kept in memory for this page view only.');
      }
      return true;
    },
    remove(key) {
      memory.remove(key);
      cookies?.remove(key);
      local?.remove(key);
    },
  };
}
