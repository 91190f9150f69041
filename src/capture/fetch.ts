import { APPLICATION_ID_HEADER } from '../wire';
import { headerRecord } from './headers';
import { patch } from '../patch';
import { time } from './types';
import type { Tap, Toggle } from './types';

/** Streams the app reads as they arrive: logged without a body, so nothing waits for their end. */
const STREAMING = /event-stream|ndjson/i;

/**
 * Wraps `window.fetch`. The original is called with the caller's exact arguments; the app gets the
 * original Response (same object), or the original rejection, unchanged. Bodies are read from clones
 * only, after the fact: the request's from `request.clone()` taken before the call (the Request itself
 * goes to fetch unread, unlike moesif, which fails with "already used"), the response's from
 * `response.clone()` taken before the app sees it.
 */
export const patchFetch = (tap: Tap): Toggle =>
  patch(window as unknown as Record<string, unknown>, 'fetch', (original) =>
    function (this: unknown, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
      let finish: ((response?: Response, error?: unknown) => void) | undefined;
      try {
        const req = input instanceof Request ? input : undefined;
        const uri = new URL(req ? req.url : String(input), location.href).href;
        // As fetch does: `init.headers` replaces the Request's own.
        const headers = new Headers(init?.headers || req?.headers);
        // Our collector's requests carry the application id header: never capture one (another copy's either).
        if (tap.want(uri) && !headers.has(APPLICATION_ID_HEADER)) {
          const request = { time: time(), uri, verb: (init?.method || req?.method || 'GET').toUpperCase(), headers: headerRecord(headers) };
          // A ReadableStream in init.body is the app's: `read` leaves it alone.
          const sent = tap.read(init?.body != null ? init.body : req?.body && req.clone());
          finish = (response, error) =>
            tap.done(
              request,
              sent,
              { time: time(), status: response ? response.status : 0, headers: headerRecord(response ? response.headers : []) },
              response && !STREAMING.test(String(response.headers.get('content-type'))) ? tap.read(response.clone()) : undefined,
              error,
            );
        }
      } catch {
        // Arguments that fetch itself rejects: nothing to capture, and fetch reports them as it would.
        finish = undefined;
      }
      const result: Promise<Response> = original.apply(this, arguments);
      // A promise chained on the original, so an unhandled rejection stays unhandled for the app's
      // error tracking, with the same reason.
      return finish
        ? result.then(
            (response) => {
              try {
                finish!(response);
              } catch {
                /* the app still gets its response */
              }
              return response;
            },
            (error: unknown) => {
              finish!(undefined, error);
              throw error;
            },
          )
        : result;
    },
  );
