import { tooLong } from './cookie-store.js';
import type { Store } from './store.js';

/** What an id store writes to once committed, and which keys it keeps (see idStore). */
export interface IdStoreOptions {
  /** The cookie jar, the source of truth once committed; undefined where there is none (persistence 'none', cookies refused). */
  cookies: Store | undefined;
  /** localStorage, when it mirrors the cookies (persistence 'localStorage'); undefined otherwise. */
  localMirror: Store | undefined;
  /** The keys kept; the first is written whenever anything is (the anonymous id). */
  keys: string[];
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
export function idStore({ cookies, localMirror, keys }: IdStoreOptions) {
  // Written whenever anything is (the anonymous id): without it in the jar, the jar is gone.
  const aliveKey = keys[0];
  let memory = new Map<string, string | null>();
  // The backends in use: none while held.
  let jar: Store | undefined;
  let mirror: Store | undefined;
  /** Remembers `value` (null: removed), and mirrors it to localStorage unless it is known to be there. */
  const keep = (key: string, value: string | null): string | null => {
    if (memory.get(key) !== value && mirror?.get(key) !== value) {
      if (value == null) mirror?.remove(key);
      else mirror?.set(key, value);
    }
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
        // Still gone: this browser keeps no cookie here (a third-party frame, a file:// page, cookies
        // blocked), while it says it does. localStorage alone then, rather than writing every id to the
        // jar again on every read.
        if (jar.get(aliveKey) == null) jar = undefined;
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
      mirror = localMirror;
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
