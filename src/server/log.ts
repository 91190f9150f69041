/**
 * Console output of the middleware. Messages carry counts, statuses and paths only, never payloads,
 * tokens or user ids: the app's logs are often shipped somewhere less protected than the collector.
 */
export interface Log {
  debug(message: string): void;
  /** Once per key for the life of the middleware, so a hook that throws on every call is not a flood. */
  warnOnce(key: string, message: string): void;
  error(message: string): void;
}

const PREFIX = '[usertrail/server]';

export function createLog(debugEnabled: boolean): Log {
  const warned = new Set<string>();
  return {
    debug(message) {
      if (debugEnabled) console.log(`${PREFIX} ${message}`);
    },
    warnOnce(key, message) {
      if (warned.has(key)) return;
      warned.add(key);
      console.warn(`${PREFIX} ${message}`);
    },
    error(message) {
      console.error(`${PREFIX} ${message}`);
    },
  };
}

/** The name of an error, not its message: messages of hook errors may quote user data. */
export const errorName = (error: unknown): string =>
  error instanceof Error ? error.name : typeof error === 'object' && error !== null ? 'object' : typeof error;
