import { attempt, type ListableStore } from './store.js';

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
      set: (key: string, value: string) =>
        attempt(() => {
          storage.setItem(key, value);
          return true;
        }),
      remove: (key: string) => attempt(() => storage.removeItem(key)),
      keys: () => attempt(() => Object.keys(storage), []),
    };
  });

