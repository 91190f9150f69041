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
    set: (key, value) => !!values.set(key, value),
    remove: (key) => values.delete(key),
    keys: () => [...values.keys()],
  };
}

/**
 * A store that keeps values in memory until `commit()` names where they belong, then copies them
 * there and writes through; `release()` goes back to memory. This is how nothing is written before
 * consent: the SDK runs normally on a held store, and persists only once consent is granted.
 */
export function heldStore() {
  let memory = memoryStore();
  let target: Store = memory;
  return {
    get: (key: string) => target.get(key),
    set: (key: string, value: string) => target.set(key, value),
    remove: (key: string) => target.remove(key),
    commit(next: Store): void {
      for (const key of memory.keys()) next.set(key, memory.get(key)!);
      target = next;
    },
    release: (): unknown => (target = memory = memoryStore()),
  };
}

/** `action()`, or `fallback` when it throws: blocked or full storage throws on any access. */
const attempt = <T>(action: () => T, fallback: T): T => {
  try {
    return action();
  } catch {
    return fallback;
  }
};

/** localStorage, or undefined where it is missing or blocked (sandboxed iframes, disabled storage). */
export const localStore = (): ListableStore | undefined =>
  attempt(() => {
    // Merely reading window.localStorage throws a SecurityError where storage is blocked.
    const storage = localStorage;
    storage.setItem('usertrail_probe', '');
    storage.removeItem('usertrail_probe');
    return {
      get: (key: string) => attempt(() => storage.getItem(key), null),
      set: (key: string, value: string) => attempt(() => (storage.setItem(key, value), true), false),
      remove: (key: string) => attempt(() => storage.removeItem(key), undefined),
      keys: () => attempt(() => Object.keys(storage), []),
    };
  }, undefined);

/** Reads one cookie from `jar` (document.cookie): values are URI-encoded, as moesif-browser-js writes them. */
export function readCookie(name: string, jar = document.cookie): string | null {
  for (const pair of jar.split('; ')) {
    const split = pair.indexOf('=');
    if (pair.slice(0, split) === name) {
      try {
        return decodeURIComponent(pair.slice(split + 1));
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Writes (or, with `days` of -1, removes) a cookie. A removal must repeat the domain and path it was set with. */
export function writeCookie(name: string, value: string, days: number, attributes: string): void {
  document.cookie = `${name}=${encodeURIComponent(value)};path=/;max-age=${Math.round(days * 86400)}${attributes}`;
}

const IP_ADDRESS = /^[\d.]+$|:/;
const COOKIE_CACHE_MS = 1_000;

/**
 * The widest domain this page may set cookies on, found by trying: a test cookie is set on
 * `example.test`, then `app.example.test`, and the first one the browser keeps wins. Browsers refuse
 * cookies on public suffixes (github.io, co.uk), so this needs no suffix list. Localhost and IP
 * addresses take host-only cookies.
 */
export function findCookieDomain(hostname: string): string | undefined {
  if (IP_ADDRESS.test(hostname) || !hostname.includes('.')) return undefined;
  const labels = hostname.split('.');
  const probe = '__usertrail_domain_probe';
  for (let count = 2; count <= labels.length; count++) {
    const domain = `;domain=${labels.slice(-count).join('.')}`;
    writeCookie(probe, '1', 1 / 86400, domain);
    if (readCookie(probe)) {
      writeCookie(probe, '', -1, domain);
      return labels.slice(-count).join('.');
    }
  }
  return undefined;
}

/**
 * First-party cookies for our ids, or undefined where the browser refuses them.
 * SameSite=Lax, and Secure on https; SameSite=None (which requires Secure) only with `crossSiteCookie`.
 */
export function cookieStore(options: ResolvedOptions, location: Location): Store | undefined {
  try {
    // Reading document.cookie throws in sandboxed documents; cookieEnabled is false where they are blocked.
    if (!navigator.cookieEnabled || document.cookie === undefined) return undefined;
    const domain = options.cookieDomain ?? (options.crossSubdomainCookie ? findCookieDomain(location.hostname) : undefined);
    const crossSite = options.crossSiteCookie;
    const attributes =
      (domain ? `;domain=${domain}` : '') +
      (crossSite ? ';samesite=none' : ';samesite=lax') +
      (location.protocol === 'https:' || options.secureCookie || crossSite ? ';secure' : '');
    const days = options.cookieExpiration;
    // Reading document.cookie is a round trip to the browser's cookie store (about a millisecond on a
    // busy machine), and track() or a captured call reads four ids. So the jar is read at most once a
    // second, and again at once when another tab may have changed it: on a storage event (same site)
    // or when this page becomes visible again (the visitor switched from another tab or subdomain).
    let jar: string | undefined;
    let readAt = 0;
    const forget = (): void => {
      jar = undefined;
    };
    addEventListener('storage', forget);
    document.addEventListener('visibilitychange', forget);
    const read = (key: string): string | null => {
      if (jar === undefined || Date.now() - readAt > COOKIE_CACHE_MS) {
        jar = document.cookie;
        readAt = Date.now();
      }
      return readCookie(key, jar);
    };
    const write = (key: string, value: string, lifetime: number): void => {
      forget();
      writeCookie(key, value, lifetime, attributes);
    };
    return {
      get: read,
      set(key, value) {
        write(key, value, days);
        return read(key) === value;
      },
      remove: (key) => write(key, '', -1),
    };
  } catch {
    return undefined;
  }
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
export function idStore(cookies: Store | undefined, local: Store | undefined, aliveKey: string, keys: string[]): Store {
  const memory = memoryStore();
  const mirror = (key: string, value: string): string => {
    // Memory remembers what localStorage was last given, so a steady id costs no storage access.
    if (memory.get(key) !== value && local?.get(key) !== value) local?.set(key, value);
    memory.set(key, value);
    return value;
  };
  return {
    get(key) {
      // The whole jar is gone (cleared, or expired as Safari does after 7 days): restore every id at once,
      // before reading any, or the first restored cookie would make the others look deliberately removed.
      if (cookies && cookies.get(aliveKey) === null && local?.get(aliveKey)) {
        for (const name of keys) {
          const value = local.get(name);
          if (value !== null) cookies.set(name, value);
        }
      }
      const fromCookie = cookies?.get(key) ?? null;
      if (fromCookie !== null) return mirror(key, fromCookie);
      if (cookies && cookies.get(aliveKey) !== null) {
        local?.remove(key);
        memory.remove(key);
        return null;
      }
      const fromLocal = local?.get(key) ?? null;
      return fromLocal === null ? memory.get(key) : mirror(key, fromLocal);
    },
    set(key, value) {
      memory.set(key, value);
      cookies?.set(key, value);
      local?.set(key, value);
      return true;
    },
    remove(key) {
      memory.remove(key);
      cookies?.remove(key);
      local?.remove(key);
    },
  };
}
