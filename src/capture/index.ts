/**
 * Automatic capture of the page's own API calls (fetch and XMLHttpRequest) as Moesif events
 * (issue 5). Each call becomes one event, built in this order:
 * 1. sampled in (`sampleRate`, decided when the call starts, so a call left out costs nothing), not to
 *    the collector nor carrying its application id header (another SDK's), http(s) only;
 * 2. headers masked (see headers.ts), bodies taken from the app's own read or from copies (see
 *    fetch.ts, body.ts) and capped at `maxBodyBytes`; a failed call and a cut body are marked in the
 *    event's metadata (the wire format is described once, in src/wire.ts: see CapturedEvent);
 * 3. the user's hooks: `skip`, `maskContent`, `getMetadata` (merged over ours), `getTags`, then
 *    `getApiVersion` or `apiVersion`. Hooks see headers already masked: a credential never leaves
 *    the SDK, even through a hook. A hook that throws is reported once and its step uses the default.
 *
 * The patches (fetch.ts, xhr.ts) only start and end calls; everything else runs later, off the app's
 * call path (issue 18; see deferred.ts). Capture never holds a connection longer than the app does
 * (issue 17; see fetch.ts).
 */
import { newId } from '../ids.js';
import { APPLICATION_ID_HEADER, type Attribution, type CapturedEvent, type Metadata } from '../wire.js';
import { outsideZones } from '../zones.js';
import { copyBody, readBody } from './body.js';
import { createDeferredWork } from './deferred.js';
import { patchFetch } from './fetch.js';
import { headerRecord, maskCredentials } from './headers.js';
import { madeByOpenTelemetry } from './otel.js';
import type { Begin, CaptureFactory, End, Target } from './types.js';
import { patchXhr } from './xhr.js';

type Hook = 'skip' | 'maskContent' | 'getMetadata' | 'getTags' | 'getApiVersion';

/** An absolute URL whose scheme is not http(s), as the URL parser reads it (leading spaces and controls skipped). */
const OTHER_SCHEME = /^[\0- ]*(?!https?:)[a-z][a-z\d+.-]*:/i;

/** One call's event before its bodies are read: what the deferred work made of it (see `begin`). */
interface UnreadCall {
  /** The event without its bodies, nor what the user's hooks add. */
  event: CapturedEvent;
  /** What the app sent (see Begin); left out for GET and HEAD. */
  sentBody: unknown;
  /** The response's body, or a function that gives it when asked (see End). */
  receivedBody: unknown;
  /** The response's body was left out for its Content-Length. */
  tooBig: boolean | undefined;
}

export const createCapture: CaptureFactory = ({ options, log, who, record }) => {
  let on = false;

  /** Runs one of the user's hooks: what it gives, else `fallback`; one that throws is reported once and gives `fallback`. */
  function hook<T>(name: Hook, event: CapturedEvent): T | undefined;
  function hook<T>(name: Hook, event: CapturedEvent, fallback: T): T;
  function hook<T>(name: Hook, event: CapturedEvent, fallback?: T): T | undefined {
    try {
      return (options[name] as ((event: CapturedEvent) => T | undefined) | undefined)?.(event) ?? fallback;
    } catch {
      log.warn(`${name}() threw; ignored.`);
      return fallback;
    }
  }

  /**
   * Whether a call is captured (capture started, sampled in), decided when the call is opened: its
   * Target, or nothing. Parsing the URL waits for `resolve`: on the call path it cost a captured call
   * about 12 µs of main-thread time (issue 18). A URL with a scheme other than http(s) (data:, blob:),
   * which `resolve` would leave out, is told now by its text: a call that is not recorded must cost
   * nothing, and a fetch's response body would be copied for nothing. Nor are OpenTelemetry's exporters'
   * calls (see madeByOpenTelemetry). Never throws.
   */
  const want = (url: string | URL): Target | undefined => {
    if (!on || madeByOpenTelemetry()) return;
    try {
      const text = String(url);
      return !OTHER_SCHEME.test(text) && Math.random() < options.sampleRate ? [text, document.baseURI] : undefined;
    } catch {
      return; // a URL that cannot be made a string: the call itself rejects it
    }
  };
  /**
   * The absolute URL of a captured call, as fetch and XMLHttpRequest resolve it (against the document's
   * base URL, which a <base href> sets, when the call was made), or nothing when it is not recorded:
   * not http(s), to the collector, or a URL the call itself rejected. Credentials in it are masked.
   */
  const resolve = ([url, base]: Target): string | undefined => {
    try {
      const uri = maskCredentials(new URL(url, base).href);
      return /^https?:/.test(uri) && !uri.startsWith(options.baseUrl + '/v1/') ? uri : undefined;
    } catch {
      return; // not a URL
    }
  };

  const work = createDeferredWork({ log });

  /** The event with the user's hooks applied (see step 3 above), or nothing when `skip` leaves it out. */
  const withHooks = (event: CapturedEvent): CapturedEvent | undefined => {
    if (hook('skip', event)) return;
    event = hook('maskContent', event, event);
    const extra = hook<Metadata>('getMetadata', event);
    if (extra && typeof extra == 'object') event.metadata = { ...event.metadata, ...extra };
    // Left undefined, they are absent from the JSON sent.
    event.tags = hook<string>('getTags', event) || undefined;
    event.request.api_version = hook('getApiVersion', event, options.apiVersion) || undefined;
    return event;
  };

  /**
   * Reads a call's bodies into its request and response, then records its event: at once when both
   * were values; once a streamed body is read; or, when the page is left first, without what is still
   * being read, which is then marked cut.
   */
  const recordOnceRead = ({ event, sentBody, receivedBody, tooBig }: UnreadCall): void => {
    const { request, response } = event;
    // Whether each body was cut; a promise while a streamed one is still being read. A GET or HEAD
    // sends none: XMLHttpRequest drops a body given to its send() (fetch refuses one).
    let sentCut = /^(GET|HEAD)$/.test(request.verb) ? false : readBody(sentBody, options.maxBodyBytes, request);
    let receivedCut = readBody(typeof receivedBody == 'function' ? receivedBody() : receivedBody, options.maxBodyBytes, response);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      work.forget(finish);
      // A body still being read (a promise) when the page is left counts as cut.
      const truncated = [sentCut !== false && 'request', (receivedCut !== false || tooBig) && 'response'].filter(Boolean);
      if (truncated.length) event.metadata = { ...event.metadata, truncated };
      const hooked = withHooks(event);
      if (hooked) record(hooked);
    };
    if (typeof sentCut == 'boolean' && typeof receivedCut == 'boolean') return finish();
    work.keepForLeave(finish);
    Promise.all([sentCut, receivedCut]).then(([sent, received]) => {
      sentCut = sent;
      receivedCut = received;
      work.later(finish);
    });
  };

  /**
   * See Begin. On the app's call path: the request's time, method and headers are kept now; the
   * returned End keeps the response's and whose call it was, and leaves the rest to the deferred work.
   */
  const begin: Begin = (target, method, appHeaders, body, namesAsWritten) => {
    if (!on || !target) return;
    // An iterator (a generator, say) can be read only once, and that read is fetch's: the call is logged
    // without its headers. Told by its `next`, which calls no app code; objects, arrays, Headers and
    // Maps read afresh each time (a record with a header named "next" is logged without headers too).
    // Read now: the app may change its object once the call is sent. A call without headers (an
    // XMLHttpRequest's empty list too) gets no Headers: each call into the browser costs a captured call
    // a few µs (issue 18).
    const given = namesAsWritten ? (appHeaders as unknown[]).length : appHeaders;
    const headers = given ? new Headers((appHeaders as { next?: unknown }).next ? [] : appHeaders) : undefined;
    // Our collector's requests carry the application id header: never capture one (another copy's either).
    if (headers?.has(APPLICATION_ID_HEADER)) return;
    const sentAt = Date.now();
    const sentBody = body instanceof Request ? copyBody(body) : body;
    const end: End = (status, received, receivedBody, error, tooBig) => {
      const receivedAt = Date.now();
      // Whose call it was, now, before the app's handlers run: a reset() at log-out right after the call
      // must not give it to the next visitor, as it would if read when the event is built, later.
      let caller: Attribution | undefined;
      try {
        caller = who();
      } catch {
        // Storage the browser refuses: the event is recorded without ids.
      }
      work.later(() => {
        const uri = resolve(target);
        if (!uri) return;
        // XMLHttpRequest's setRequestHeader pairs keep the names as the app wrote them, as moesif sends them,
        // so that a hook reading headers['X-Tenant-Id'] finds it. A fetch's are named as a Headers names
        // them, lower-cased, as moesif sends them too (it reads them from a Request), however the app gave them.
        const sentHeaders = headerRecord((namesAsWritten ? (appHeaders as Array<[string, string]>) : headers) ?? []);
        // The browser sends its own: Moesif reads the device and browser of API calls from it.
        if (!headers?.has('user-agent')) sentHeaders['User-Agent'] = navigator.userAgent;
        const request: CapturedEvent['request'] = { time: new Date(sentAt).toISOString(), uri, verb: String(method).toUpperCase(), headers: sentHeaders };
        const response: CapturedEvent['response'] = {
          time: new Date(receivedAt).toISOString(),
          status,
          headers: headerRecord(typeof received == 'function' ? received() : received),
        };
        // Who made the call comes first, so hooks see it and what maskContent removes stays removed.
        const event: CapturedEvent = { ...caller, request, response, transaction_id: newId() };
        // fetch's error for a URL with credentials quotes it.
        if (error) event.metadata = { error: maskCredentials(error) };
        recordOnceRead({ event, sentBody, receivedBody, tooBig });
      });
    };
    // Outside the app's zone.js zones (see outsideZones): the timers it starts (the cookie jar's, the
    // deferred work's, a body read's) are the SDK's, and must not hold an Angular app unstable.
    return (...args) => outsideZones(() => end(...args));
  };

  const patches = {
    XMLHttpRequest: patchXhr({ want, begin }),
    // jsdom (jest-environment-jsdom) has neither fetch nor Response: nothing of fetch to capture there.
    fetch: options.disableFetch || typeof Response != 'function' ? [] : patchFetch({ want, begin, maxBodyBytes: options.maxBodyBytes }),
  };
  const turn = (next: boolean): void => {
    on = next;
    const frozen: string[] = [];
    for (const [name, toggles] of Object.entries(patches)) {
      // A page that froze what capture wraps (SES's harden(), a read-only fetch) gets its API left as it is,
      // whole: an XMLHttpRequest whose open() is wrapped and send() is not is never recorded, and wrapping
      // a Response's reads is of no use without fetch.
      if (!toggles.map((toggle) => toggle(next)).includes(false)) continue;
      for (const toggle of toggles) toggle(false);
      frozen.push(name);
    }
    if (frozen.length) log.warn(`start(): cannot capture ${frozen.join(' or ')}: frozen by the page`);
  };
  return {
    start(): void {
      // Added again on every start: a no-op for the same listener. Kept after stop(), for calls still
      // under way; removed by dispose().
      addEventListener('pagehide', work.leave);
      document.addEventListener('visibilitychange', work.runWaiting);
      turn(true);
    },
    stop: () => turn(false),
    dispose(): void {
      turn(false);
      work.leave();
      removeEventListener('pagehide', work.leave);
      document.removeEventListener('visibilitychange', work.runWaiting);
    },
  };
};

export type { Capture, CaptureDeps, CaptureFactory } from './types.js';
