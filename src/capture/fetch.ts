import { patch, type Toggle } from '../patch';
import type { Begin, End, Want } from './types';

/** Streams the app reads as they arrive: logged without a body, so nothing waits for their end. */
const STREAMING = /event-stream|ndjson/i;

/**
 * Wraps `window.fetch`. The original is called with the caller's exact arguments, and the app gets
 * back the very promise it returns. Bodies are read from clones only: the request's (the Request
 * itself goes to fetch unread, unlike moesif, which fails with "already used"), and the response's.
 */
export const patchFetch = (want: Want, begin: Begin): Toggle =>
  patch(window as unknown as Record<string, unknown>, 'fetch', (original) =>
    function (this: unknown, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
      let end: End | undefined;
      try {
        const req = input instanceof Request ? input : undefined;
        // As fetch does: `init.headers` replaces the Request's own. A ReadableStream in init.body is the app's: `read` leaves it alone.
        end = begin(want(req?.url ?? (input as string | URL)), init?.method || req?.method || 'GET', init?.headers || req?.headers, init?.body ?? req);
      } catch {
        // Arguments that fetch itself rejects (bad headers): nothing to capture, and fetch reports them.
      }
      const result: Promise<Response> = original.apply(this, arguments);
      // A branch of our own, so the app's promise, and an unhandled rejection of it, stay exactly its own.
      // Our reaction runs before any of the app's, so the clone is taken before the app reads the body.
      // The last catch: a mocked fetch that resolves to no Response is not ours to report.
      if (end)
        result
          .then(
            // `test` reads a missing content-type (null) as "null".
            (response) => end(response.status, response.headers, STREAMING.test(response.headers.get('content-type') as string) ? null : response),
            (error: unknown) => end(0, [], null, String(error)),
          )
          .catch(() => {});
      return result;
    },
  );
