import { attempt, type ListableStore } from './store.js';

/**
 * localStorage, or undefined where reading it throws (sandboxed iframes, storage blocked by the
 * visitor). A store that is full or refuses writes still answers: `set` gives undefined instead of
 * true, and callers keep that value in memory.
 */
export const localStore = (): ListableStore | undefined =>
  attempt(() => {
    // Typed by the methods used: the page's localStorage may be a polyfill object (see `keys`).
    const storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem' | 'key' | 'length'> = localStorage;
    return {
      get: (key: string) => attempt(() => storage.getItem(key), null),
      set: (key: string, value: string) =>
        attempt(() => {
          storage.setItem(key, value);
          return true;
        }),
      remove: (key: string) => attempt(() => storage.removeItem(key)),
      // A polyfill object in place of localStorage (private modes, old browsers) lists its methods to
      // Object.keys, not its keys: it is read through the Storage interface's own length and key().
      keys: () =>
        attempt(() => (storage instanceof Storage ? Object.keys(storage) : Array.from({ length: storage.length }, (_, index) => String(storage.key(index)))), []),
    };
  });

