/**
 * What every store of the SDK is: a place to keep strings under keys that never throws. The three
 * stores live beside this file: local-store.ts (localStorage), cookie-store.ts (the cookie jar) and
 * id-store.ts (the visitor's ids across both, held in memory until consent).
 */

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

/** A store that listens to the page, until `dispose()` removes its listeners. */
export interface DisposableStore extends Store {
  dispose(): void;
}

/** `action()`, or `fallback` (undefined when not given) when it throws: blocked or full storage throws on any access. */
export const attempt = <T, F = undefined>(action: () => T, fallback?: F): T | F => {
  try {
    return action();
  } catch {
    // Left out only where F is undefined, so the cast holds.
    return fallback as F;
  }
};

