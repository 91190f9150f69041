import type { ResolvedOptions } from './options';

/** One place to keep a string under a key. Implementations never throw. */
export interface Store {
  get(key: string): string | null;
  set(key: string, value: string): unknown;
  remove(key: string): void;
}

/** localStorage, which can list its keys (the outbox finds what closed tabs left behind) and says whether a write took. */
export interface ListableStore extends Store {
  /** False when the value could not be written (storage full, disabled, blocked). */
  set(key: string, value: string): boolean;
  keys(): string[];
}

/**
 * A store that keeps values in memory until `commit()` names where they belong, then copies them
 * there and writes through; `release()` goes back to memory. This is how nothing is written before
 * consent: the SDK runs normally on a held store, and persists only once consent is granted.
 */
export function heldStore() {
  let memory = new Map<string, string>();
  let target: Store | undefined;
  return {
    get: (key: string) => (target ? target.get(key) : memory.get(key) ?? null),
    set: (key: string, value: string) => (target ? target.set(key, value) : memory.set(key, value)),
    remove: (key: string) => (target ? target.remove(key) : memory.delete(key)),
    commit(next: Store): void {
      for (const [key, value] of memory) next.set(key, value);
      target = next;
    },
    release(): void {
      memory = new Map();
      target = undefined;
    },
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

/**
 * localStorage, or undefined where reading it throws (sandboxed iframes, storage blocked by the
 * visitor). A store that is full or refuses writes still answers: `set` says false, and callers keep
 * that value in memory.
 */
export const localStore = (): ListableStore | undefined =>
  attempt(() => {
    const storage = localStorage;
    return {
      get: (key: string) => attempt(() => storage.getItem(key), null),
      set: (key: string, value: string) => attempt(() => (storage.setItem(key, value), true), false),
      remove: (key: string) => attempt(() => storage.removeItem(key), undefined),
      keys: () => attempt(() => Object.keys(storage), []),
    };
  }, undefined);

/** Reads one cookie from `jar` (document.cookie): values are URI-encoded, as moesif-browser-js writes them. */
const readCookie = (name: string, jar = document.cookie): string | null => {
  const pair = jar.split('; ').find((candidate) => candidate.startsWith(name + '='));
  return pair ? attempt(() => decodeURIComponent(pair.slice(name.length + 1)), null) : null;
};

/** Writes (or, with `seconds` of -1, removes) a cookie. A removal must repeat the domain and path it was set with. */
const writeCookie = (name: string, value: string, seconds: number, attributes: string): void => {
  document.cookie = `${name}=${encodeURIComponent(value)};path=/;max-age=${seconds}${attributes}`;
};

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
    writeCookie('usertrail_domain_probe', '1', 1, ';domain=' + domain);
    if (readCookie('usertrail_domain_probe')) {
      writeCookie('usertrail_domain_probe', '', -1, ';domain=' + domain);
      return domain;
    }
  }
  return undefined;
}

/**
 * First-party cookies for our ids, or undefined where the browser refuses them.
 * SameSite=Lax, and Secure on https; SameSite=None (which requires Secure) only with `crossSiteCookie`.
 */
export function cookieStore(options: ResolvedOptions): Store | undefined {
  // Reading document.cookie throws in sandboxed documents; cookieEnabled is false where they are blocked.
  if (!attempt(() => navigator.cookieEnabled && document.cookie != null, false)) return undefined;
  const domain = options.cookieDomain ?? (options.crossSubdomainCookie ? findCookieDomain(location.hostname) : undefined);
  const crossSite = options.crossSiteCookie;
  const attributes =
    (domain ? ';domain=' + domain : '') +
    (crossSite ? ';samesite=none' : ';samesite=lax') +
    (location.protocol == 'https:' || options.secureCookie || crossSite ? ';secure' : '');
  // Reading document.cookie is a round trip to the browser's cookie store (about a millisecond on a
  // busy machine), and track() or a captured call reads four ids. So the jar is read at most once a
  // second, and again at once when another tab may have changed it: on a storage event (same site)
  // or when this page becomes visible again (the visitor switched from another tab or subdomain).
  let jar: string | undefined;
  const forget = (): unknown => (jar = undefined);
  addEventListener('storage', forget);
  document.addEventListener('visibilitychange', forget);
  const read = (key: string): string | null => readCookie(key, (jar ??= (setTimeout(forget, 1_000), document.cookie)));
  const write = (key: string, value: string, seconds: number): void => {
    forget();
    writeCookie(key, value, seconds, attributes);
  };
  return {
    get: read,
    // Whole seconds: a browser ignores a max-age with a fraction, and the cookie would end with the session.
    set: (key, value) => write(key, value, Math.round(options.cookieExpiration * 86400)),
    remove: (key) => write(key, '', -1),
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
export function idStore(cookies: Store | undefined, local: Store | undefined, aliveKey: string, keys: string[]): Store {
  const memory = new Map<string, string | null>();
  /** Remembers `value` (null: removed), and mirrors it to localStorage unless it is known to be there. */
  const keep = (key: string, value: string | null): string | null => {
    if (memory.get(key) !== value && local?.get(key) !== value) value == null ? local?.remove(key) : local?.set(key, value);
    memory.set(key, value);
    return value;
  };
  return {
    get(key) {
      // The whole jar is gone (cleared, or expired as Safari does after 7 days): restore every id at once,
      // before reading any, or the first restored cookie would make the others look deliberately removed.
      if (cookies && cookies.get(aliveKey) == null && local?.get(aliveKey)) {
        for (const name of keys) {
          const value = local.get(name);
          if (value != null) cookies.set(name, value);
        }
      }
      const value = cookies?.get(key) ?? null;
      // A cookie removed while its jar lives was removed on purpose (on another subdomain, say).
      if (value != null || (cookies && cookies.get(aliveKey) != null)) return keep(key, value);
      return local?.get(key) ?? memory.get(key) ?? null;
    },
    set(key, value) {
      memory.set(key, value);
      cookies?.set(key, value);
      local?.set(key, value);
    },
    remove(key) {
      memory.delete(key);
      cookies?.remove(key);
      local?.remove(key);
    },
  };
}
