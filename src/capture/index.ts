/**
 * Automatic capture of the page's own API calls (fetch and XMLHttpRequest) as Moesif events
 * (issue 5). Each call becomes one event, built in this order:
 * 1. sampled in (`sampleRate`, decided when the call starts, so a call left out costs nothing), not to
 *    the collector nor carrying its application id header (another SDK's), http(s) only;
 * 2. headers masked (see headers.ts), bodies read from clones and capped at `maxBodyBytes`; a cut body
 *    is named in `metadata.truncated` (['request'] / ['response']), a failed or aborted call has
 *    status 0 and `metadata.error`;
 * 3. the user's hooks: `skip`, `maskContent`, `getMetadata` (merged over ours), `getTags`, then
 *    `getApiVersion` or `apiVersion`. Hooks see headers already masked: a credential never leaves
 *    the SDK, even through a hook. A hook that throws is reported once and its step uses the default.
 *
 * The fetch and XMLHttpRequest patches live here with the pipeline they feed: sharing one closure
 * costs fewer bytes than passing it between modules.
 */
// The order of these imports is the order the modules take in the bundle, which changes its gzip
// size: patch.ts and headers.ts first, as here, is 9 B smaller than after body.ts (measured with
// moesif.ts's import order).
import { patch } from '../patch.js';
import { headerRecord, parseHeaders } from './headers.js';
import { newId } from '../ids.js';
import { APPLICATION_ID_HEADER, type CapturedEvent, type Metadata } from '../wire.js';
import { readBody } from './body.js';
import type { CaptureFactory } from './types.js';

type Hook = 'skip' | 'maskContent' | 'getMetadata' | 'getTags' | 'getApiVersion';

/** Where a call is captured (see `want`), or nothing. */
type Uri = string | false | undefined;

/**
 * Ends a call: status 0 and `error` when it failed; `headers` normalized (see headerRecord); `body`
 * as for `begin` (a Response is read from a clone taken at once). Waits for the bodies, runs the
 * hooks, records the event. Never rejects.
 */
type End = (status: number, headers: Iterable<[string, string]>, body: unknown, error?: string) => Promise<void>;

/** Streams the app reads as they arrive: logged without a body, so nothing waits for their end. */
const STREAMING = /event-stream|ndjson/i;

export const createCapture: CaptureFactory = (options, log, who, record) => {
  let on = false;

  const hook = <T>(name: Hook, event: CapturedEvent, fallback?: T): T | undefined => {
    try {
      return (options[name] as ((event: CapturedEvent) => T | undefined) | undefined)?.(event) ?? fallback;
    } catch {
      log.warn(`${name}() threw; ignored.`);
      return fallback;
    }
  };

  /**
   * The absolute URL of a call that is captured now (started, sampled in, http(s), not the collector),
   * or nothing; decided when the call is opened. Never throws.
   */
  const want = (url: string | URL): Uri => {
    try {
      // As fetch and XMLHttpRequest resolve it: against the document base URL, which a <base href> sets.
      const uri = new URL(url, document.baseURI).href;
      return on && Math.random() < options.sampleRate && /^https?:/.test(uri) && !uri.startsWith(options.baseUrl + '/v1/') && uri;
    } catch {
      return; // a URL the call itself rejects
    }
  };

  /**
   * Starts one call once it is sent, if it is wanted and capture is still on: the request's time,
   * method, headers and body (a value the app no longer owns, or a Request, read from a clone).
   * Gives back its `End`.
   */
  const begin = (uri: Uri, method: string, init: HeadersInit | undefined, body: unknown): End | undefined => {
    if (!on || !uri) return;
    // An iterator (a generator, say) can be read only once, and that read is fetch's: the call is logged
    // without its headers. Told by its `next`, which calls no app code; objects, arrays, Headers and
    // Maps read afresh each time (a record with a header named "next" is logged without headers too).
    const headers = new Headers((init as { next?: unknown })?.next ? [] : init);
    // Our collector's requests carry the application id header: never capture one (another copy's either).
    if (headers.has(APPLICATION_ID_HEADER)) return;
    // Pairs (XMLHttpRequest's setRequestHeader calls) keep the names as the app wrote them, as moesif
    // sends them, so that a hook reading headers['X-Tenant-Id'] finds it; a Headers lower-cases them.
    const sentHeaders = headerRecord(Array.isArray(init) ? init : headers);
    // The browser sends its own: Moesif reads the device and browser of API calls from it.
    if (!headers.has('user-agent')) sentHeaders['User-Agent'] = navigator.userAgent;
    const request: CapturedEvent['request'] = { time: new Date().toISOString(), uri, verb: String(method).toUpperCase(), headers: sentHeaders };
    const sent = readBody(body, options.maxBodyBytes, request);
    return async (status, headers, body, error) => {
      try {
        const response: CapturedEvent['response'] = { time: new Date().toISOString(), status, headers: headerRecord(headers) };
        // Before any await: a Response is cloned now, before the app reads it.
        const received = readBody(body, options.maxBodyBytes, response);
        const truncated = [(await sent) && 'request', (await received) && 'response'].filter(Boolean);
        // Who made the call comes first, so hooks see it and what maskContent removes stays removed.
        let event: CapturedEvent = { ...who(), request, response, transaction_id: newId() };
        if (error || truncated.length) event.metadata = { ...(error && { error }), ...(truncated.length && { truncated }) };
        if (hook('skip', event)) return;
        event = hook('maskContent', event, event)!;
        const extra = hook<Metadata>('getMetadata', event);
        if (extra && typeof extra == 'object') event.metadata = { ...event.metadata, ...extra };
        // Left undefined, they are absent from the JSON sent.
        event.tags = hook<string>('getTags', event) || undefined;
        event.request.api_version = hook('getApiVersion', event, options.apiVersion) || undefined;
        record(event);
      } catch {
        log.warn('capture failed.');
      }
    };
  };

  /*
   * XMLHttpRequest: its prototype's open, setRequestHeader and send are wrapped. The event is recorded
   * on `loadend` by a listener of our own, so the app's handlers (onreadystatechange, onload, its own
   * listeners) are never replaced or skipped. Requests opened before start() are left alone.
   */
  /** Each opened request: its uri if captured (see `want`), method, and the headers set so far. */
  const calls = new WeakMap<XMLHttpRequest, [Uri, string, Array<[string, string]>]>();
  /** Each sent call not recorded yet: takes its events' types, and records it at `loadend`. */
  const ends = new WeakMap<XMLHttpRequest, (type: string) => unknown>();
  /**
   * One listener for every object and call: adding it again is a no-op, so an object reused for many
   * calls never gathers listeners. Done (4) only: an event still being dispatched after the app
   * reopened the object belongs to the call `open` recorded, not to the new one.
   */
  const listener = function (this: XMLHttpRequest, { type }: Event): void {
    if (this.readyState == 4) ends.get(this)?.(type);
  };
  const proto = XMLHttpRequest.prototype as unknown as Record<string, unknown>;
  const toggles = [
    patch(proto, 'open', (original) =>
      function (this: XMLHttpRequest, method: string, url: string | URL) {
        // Reopened by a handler of the last call that ran before our loadend listener (one that awaits a
        // promise resolved in onloadend, too: microtasks run between listeners): that call is recorded now,
        // while its response is still there.
        if (this.readyState == 4) ends.get(this)?.('loadend');
        // What was set for the last request is dropped either way (a call abandoned in flight is not
        // recorded). `begin` leaves out a call not wanted.
        ends.delete(this);
        calls.set(this, [want(url), method, []]);
        return original.apply(this, arguments);
      },
    ),
    patch(proto, 'setRequestHeader', (original) =>
      function (this: XMLHttpRequest, name: string, value: string) {
        // After the original, so a header it refuses (wrong state, bad name) is not recorded.
        const result = original.apply(this, arguments);
        calls.get(this)?.[2].push([name, value]);
        return result;
      },
    ),
    patch(proto, 'send', (original) =>
      function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
        const xhr = this;
        const call = calls.get(xhr);
        const end = call && !ends.has(xhr) && begin(...call, body);
        if (end) {
          let error: string | undefined;
          // Nothing here throws (headers are parsed inside `end`): the app's event dispatch is never disturbed.
          // One record per opening, of its first send(): a second one throws without starting another call.
          ends.set(xhr, (type) =>
            type == 'loadend'
              ? ends.delete(xhr) &&
                end(
                  // 1223 is how old Internet Explorer reported 204.
                  xhr.status == 1223 ? 204 : xhr.status,
                  parseHeaders(xhr),
                  // `response`, not `responseText`: the latter throws for any responseType but '' and 'text'
                  // (moesif's InvalidStateError on blob and arraybuffer). A Document is left out by `readBody`.
                  xhr.responseType == 'json' ? JSON.stringify(xhr.response) : xhr.response,
                  error,
                )
              : (error = type),
          );
          for (const type of ['abort', 'error', 'timeout', 'loadend']) xhr.addEventListener(type, listener);
        }
        return original.apply(xhr, arguments);
      },
    ),
  ];

  /*
   * fetch: the original is called with the caller's exact arguments, and the app gets back the very
   * promise it returns. Bodies are read from clones only: the request's (the Request itself goes to
   * fetch unread, unlike moesif, which fails with "already used"), and the response's.
   */
  if (!options.disableFetch)
    toggles.push(
      patch(window as unknown as Record<string, unknown>, 'fetch', (original) =>
        function (this: unknown, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
          let end: End | undefined;
          try {
            const req = input instanceof Request ? input : undefined;
            // As fetch does: `init.headers` replaces the Request's own. A ReadableStream in init.body is the app's: `readBody` leaves it alone.
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
      ),
    );

  const turn = (next: boolean): void => {
    on = next;
    toggles.map((toggle) => toggle(next)); // map: 5 B smaller than forEach here
  };
  return { start: () => turn(true), stop: () => turn(false) };
};

export type { Capture, CaptureDeps, CaptureFactory } from './types.js';
