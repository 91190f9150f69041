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

/**
 * What the middleware says must never break the app: an app may make console methods throw (to fail
 * its tests on warnings), and thrown where a request to the collector settles, that would end the
 * process as an unhandled rejection.
 */
function write(method: 'log' | 'warn' | 'error', message: string): void {
  try {
    console[method](`${PREFIX} ${message}`);
  } catch {
    // Not said, then: there is nowhere else to say it.
  }
}

export function createLog(debugEnabled: boolean): Log {
  const warned = new Set<string>();
  return {
    debug(message) {
      if (debugEnabled) write('log', message);
    },
    warnOnce(key, message) {
      if (warned.has(key)) return;
      warned.add(key);
      write('warn', message);
    },
    error(message) {
      write('error', message);
    },
  };
}

/** The name of an error, not its message: messages of hook errors may quote user data. */
export const errorName = (error: unknown): string =>
  error instanceof Error ? error.name : typeof error === 'object' && error !== null ? 'object' : typeof error;
