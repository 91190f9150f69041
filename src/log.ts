/**
 * Console output of the SDK. Warnings are shown once per key, so a mistake made in a loop does not
 * flood the host page's console; debug lines only appear with the `debug` option.
 * Nothing personal is ever passed here: callers log counts, statuses, endpoints and option names.
 */
export interface Log {
  warnOnce(key: string, message: string): void;
  error(message: string): void;
  debug(...details: unknown[]): void;
}

const PREFIX = '[usertrail]';

export function createLog(isDebug: () => boolean): Log {
  const warned = new Set<string>();
  // A page may replace or strip `console`; logging must never be the thing that throws.
  const write = (method: 'warn' | 'error' | 'log', details: unknown[]): void => {
    try {
      console[method](PREFIX, ...details);
    } catch {
      /* nothing left to tell */
    }
  };
  return {
    warnOnce(key, message) {
      if (warned.has(key)) return;
      warned.add(key);
      write('warn', [message]);
    },
    error: (message) => write('error', [message]),
    debug: (...details) => {
      if (isDebug()) write('log', details);
    },
  };
}
