/**
 * Console output of the SDK. A warning is shown once per distinct message, so a mistake made in a
 * loop does not flood the host page's console; debug lines only appear with the `debug` option.
 * Nothing personal is ever passed here: callers log counts, statuses, endpoints and option names.
 */
export interface Log {
  /** console.warn, once per distinct message. */
  warn(message: string): void;
  error(message: string): void;
  debug(...details: unknown[]): void;
}

export function createLog(isDebug: () => unknown): Log {
  const warned = new Set<string>();
  // A page may replace or strip `console`; logging must never be the thing that throws.
  const write = (method: 'warn' | 'error' | 'log', ...details: unknown[]): void => {
    try {
      console[method]('[usertrail]', ...details);
    } catch {
      /* nothing left to tell */
    }
  };
  return {
    warn(message) {
      if (warned.has(message)) return;
      warned.add(message);
      write('warn', message);
    },
    error: (message) => write('error', message),
    debug(...details) {
      if (isDebug()) write('log', ...details);
    },
  };
}
