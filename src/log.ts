/**
 * Console output of the SDK. A warning or error is shown once per distinct message, so a mistake made
 * in a loop (or in a component's render) does not flood the host page's console; debug lines only
 * appear with the `debug` option.
 * Nothing personal is ever passed here: callers log counts, statuses, endpoints and option names.
 */
export interface Log {
  /** console.warn, once per distinct message. */
  warn(message: string): void;
  /** console.error, once per distinct message. */
  error(message: string): void;
  debug(...details: unknown[]): void;
}

/** `isDebug` is asked at each debug line: the instance reads its `debug` option, unset before init(). */
export function createLog(isDebug: () => boolean | undefined): Log {
  const warned = new Set<string>();
  // A page may replace or strip `console`; logging must never be the thing that throws.
  const write = (method: 'warn' | 'error' | 'log', ...details: unknown[]): void => {
    try {
      console[method]('[usertrail]', ...details);
    } catch {
      /* nothing left to tell */
    }
  };
  const once = (method: 'warn' | 'error', message: string): void => {
    if (warned.has(message)) return;
    warned.add(message);
    write(method, message);
  };
  return {
    warn: (message) => once('warn', message),
    error: (message) => once('error', message),
    debug(...details) {
      if (isDebug()) write('log', ...details);
    },
  };
}
