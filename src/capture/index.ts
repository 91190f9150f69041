/**
 * Automatic capture of the page's own API calls (fetch and XMLHttpRequest) as Moesif events
 * (issue 5). Each call becomes one event, built in this order:
 * 1. sampled in (`sampleRate`, decided when the call starts, so a call left out costs nothing), not to
 *    the collector nor carrying its application id header (another SDK's), http(s) only;
 * 2. headers masked (see headers.ts), bodies taken from the app's own read or from copies (see
 *    `bodies`, body.ts) and capped at `maxBodyBytes`; a cut body is named in `metadata.truncated`
 *    (['request'] / ['response']), a failed or aborted call has status 0 and `metadata.error`;
 * 3. the user's hooks: `skip`, `maskContent`, `getMetadata` (merged over ours), `getTags`, then
 *    `getApiVersion` or `apiVersion`. Hooks see headers already masked: a credential never leaves
 *    the SDK, even through a hook. A hook that throws is reported once and its step uses the default.
 *
 * Steps 2 and 3 run in idle time, off the app's call path (issue 18; see `later`). Capture never
 * holds a connection longer than the app does (issue 17; see the fetch patch).
 *
 * The fetch and XMLHttpRequest patches live here with the pipeline they feed: sharing one closure
 * costs fewer bytes than passing it between modules.
 */
import { patch } from '../patch.js';
import { headerRecord, parseHeaders } from './headers.js';
import { newId } from '../ids.js';
import { APPLICATION_ID_HEADER, type Attribution, type CapturedEvent, type Metadata } from '../wire.js';
import { copyBody, isCopy, readBody, type Copy } from './body.js';
import type { CaptureFactory } from './types.js';

type Hook = 'skip' | 'maskContent' | 'getMetadata' | 'getTags' | 'getApiVersion';

/**
 * A call that is captured (see `want`): its URL as the app gave it, and the document's base URL when it
 * was made, which `resolve` turns into the absolute URL later, off the call path.
 */
type Target = [url: string, base: string];

/**
 * Ends a call, on the app's call path, so it only keeps what it is given for later (see `later`):
 * status 0 and `error` when it failed; `headers` normalized (see headerRecord), or XMLHttpRequest's raw
 * header block; `body` as for `begin`, or a function that gives it when capture reads it (a
 * response's: see `bodies`); `tooBig` when the body was left out for its Content-Length.
 */
type End = (status: number, headers: Iterable<[string, string]> | string, body: unknown, error?: string, tooBig?: boolean) => void;

/**
 * How long capture's deferred work waits before it asks for idle time, so that the calls of a busy
 * moment share one idle callback: each callback cost a captured call more than all of its own work
 * (issue 18: 248 against 121 µs of main-thread CPU per fetch, in a burst of calls).
 */
const GATHER_MS = 200;
/** How long the page may stay busy before capture's deferred work runs anyway. */
const IDLE_TIMEOUT_MS = 1000;
/** How long one turn of deferred work may run when the page gives no idle time (see `later`). */
const SLICE_MS = 4;

/** What capture reads a response's body from: the text the app read (a promise of it until it arrives), or a copy. */
type BodySource = Copy | Promise<string> | string;

/** Streams the app reads as they arrive: logged without a body, and not copied. */
const STREAMING = /event-stream|ndjson/i;

export const createCapture: CaptureFactory = ({ options, log, who, record }) => {
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
   * Whether a call is captured (capture started, sampled in), decided when the call is opened: its
   * Target, or nothing. Parsing the URL waits for `resolve`: on the call path it cost a captured call
   * about 12 µs of main-thread time (issue 18). Never throws.
   */
  const want = (url: string | URL): Target | undefined => {
    try {
      return on && Math.random() < options.sampleRate ? [String(url), document.baseURI] : undefined;
    } catch {
      return; // a URL that cannot be made a string: the call itself rejects it
    }
  };
  /**
   * The absolute URL of a captured call, as fetch and XMLHttpRequest resolve it (against the document's
   * base URL, which a <base href> sets, when the call was made), or nothing when it is not recorded:
   * not http(s), to the collector, or a URL the call itself rejected.
   */
  const resolve = ([url, base]: Target): string | undefined => {
    try {
      const uri = new URL(url, base).href;
      return /^https?:/.test(uri) && !uri.startsWith(options.baseUrl + '/v1/') ? uri : undefined;
    } catch {
      return; // not a URL
    }
  };

  /**
   * Capture's work off the app's call path: gathered for GATHER_MS, then run in the page's idle time
   * (requestIdleCallback; in a browser without it, in the next task), or after IDLE_TIMEOUT_MS when
   * the page is never idle, a turn at a time, each bounded by the idle
   * time the browser gives or SLICE_MS, whichever is longer. A hidden page (a background tab, a page
   * being left) has no frames to keep smooth and may not live to be idle: there, jobs run at once,
   * and those waiting run when it is hidden or left (see `turn`; a page left records even the calls
   * whose bodies are still being read), so that their events reach the outbox, which keeps them for
   * the next page. A job that throws loses its event only.
   */
  const jobs: Array<() => void> = [];
  const run = (job: () => void): void => {
    try {
      job();
    } catch {
      log.warn('capture failed.');
    }
  };
  const drain = (deadline?: IdleDeadline): void => {
    // At least one job per turn, however little idle time there is.
    const stop = performance.now() + Math.max(deadline?.timeRemaining() || 0, SLICE_MS);
    while (jobs.length && performance.now() < stop) run(jobs.shift()!);
    if (jobs.length) idle();
  };
  const drainAll = (): void => {
    while (jobs.length) run(jobs.shift()!);
  };
  /** Events whose bodies are still being read: recorded without waiting when the page is left. */
  const unread = new Set<() => void>();
  const leave = (): void => {
    drainAll();
    unread.forEach(run);
  };
  const idle = (): unknown => (typeof requestIdleCallback == 'function' ? requestIdleCallback(drain, { timeout: IDLE_TIMEOUT_MS }) : setTimeout(drain));
  const later = (job: () => void): void => {
    if (document.hidden) run(job);
    else if (jobs.push(job) == 1) setTimeout(idle, GATHER_MS);
  };

  /**
   * Starts one call once it is sent, if it is wanted and capture is still on: the request's time,
   * method and headers, and its body (a value the app no longer owns, kept as it is, or a Request,
   * copied now, before fetch reads it). Gives back its `End`.
   */
  const begin = (target: Target | undefined, method: string, init: HeadersInit | undefined, body: unknown): End | undefined => {
    if (!on || !target) return;
    // An iterator (a generator, say) can be read only once, and that read is fetch's: the call is logged
    // without its headers. Told by its `next`, which calls no app code; objects, arrays, Headers and
    // Maps read afresh each time (a record with a header named "next" is logged without headers too).
    // Read now: the app may change its object once the call is sent.
    const headers = new Headers((init as { next?: unknown })?.next ? [] : init);
    // Our collector's requests carry the application id header: never capture one (another copy's either).
    if (headers.has(APPLICATION_ID_HEADER)) return;
    const sentAt = Date.now();
    const sentBody = body instanceof Request ? copyBody(body) : body;
    return (status, received, receivedBody, error, tooBig) => {
      const receivedAt = Date.now();
      // Whose call it was, now, before the app's handlers run: a reset() at log-out right after the call
      // must not give it to the next visitor, as it would if read when the event is built, later.
      let caller: Attribution | undefined;
      try {
        caller = who();
      } catch {
        // Storage the browser refuses: the event is recorded without ids.
      }
      later(() => {
        const uri = resolve(target);
        if (!uri) return;
        // Pairs (XMLHttpRequest's setRequestHeader calls) keep the names as the app wrote them, as moesif
        // sends them, so that a hook reading headers['X-Tenant-Id'] finds it; a Headers lower-cases them.
        const sentHeaders = headerRecord(Array.isArray(init) ? init : headers);
        // The browser sends its own: Moesif reads the device and browser of API calls from it.
        if (!headers.has('user-agent')) sentHeaders['User-Agent'] = navigator.userAgent;
        const request: CapturedEvent['request'] = { time: new Date(sentAt).toISOString(), uri, verb: String(method).toUpperCase(), headers: sentHeaders };
        const response: CapturedEvent['response'] = {
          time: new Date(receivedAt).toISOString(),
          status,
          headers: headerRecord(typeof received == 'string' ? parseHeaders(received) : received),
        };
        // Whether each body was cut; a promise while a streamed one is still being read.
        let sentCut = readBody(sentBody, options.maxBodyBytes, request);
        let receivedCut = readBody(typeof receivedBody == 'function' ? receivedBody() : receivedBody, options.maxBodyBytes, response);
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          unread.delete(finish);
          // A body still being read when the page is left is recorded as far as it came (not at all), as cut.
          const truncated = [sentCut !== false && 'request', (receivedCut !== false || tooBig) && 'response'].filter(Boolean);
          // Who made the call comes first, so hooks see it and what maskContent removes stays removed.
          let event: CapturedEvent = { ...caller, request, response, transaction_id: newId() };
          if (error || truncated.length) event.metadata = { ...(error && { error }), ...(truncated.length && { truncated }) };
          if (hook('skip', event)) return;
          event = hook('maskContent', event, event)!;
          const extra = hook<Metadata>('getMetadata', event);
          if (extra && typeof extra == 'object') event.metadata = { ...event.metadata, ...extra };
          // Left undefined, they are absent from the JSON sent.
          event.tags = hook<string>('getTags', event) || undefined;
          event.request.api_version = hook('getApiVersion', event, options.apiVersion) || undefined;
          record(event);
        };
        if (typeof sentCut == 'boolean' && typeof receivedCut == 'boolean') return finish();
        unread.add(finish);
        Promise.all([sentCut, receivedCut]).then(([sent, received]) => {
          sentCut = sent;
          receivedCut = received;
          later(finish);
        });
      });
    };
  };

  /*
   * XMLHttpRequest: its prototype's open, setRequestHeader and send are wrapped. The event is recorded
   * on `loadend` by a listener of our own, so the app's handlers (onreadystatechange, onload, its own
   * listeners) are never replaced or skipped. Requests opened before start() are left alone.
   */
  /** Each opened request: its Target if captured (see `want`), method, and the headers set so far. */
  const calls = new WeakMap<XMLHttpRequest, [Target | undefined, string, Array<[string, string]>]>();
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
          // Nothing here throws (headers are parsed later): the app's event dispatch is never disturbed.
          // One record per opening, of its first send(): a second one throws without starting another call.
          ends.set(xhr, (type) =>
            type == 'loadend'
              ? ends.delete(xhr) &&
                end(
                  // 1223 is how old Internet Explorer reported 204.
                  xhr.status == 1223 ? 204 : xhr.status,
                  xhr.getAllResponseHeaders(),
                  // `response`, not `responseText`: the latter throws for any responseType but '' and 'text'
                  // (moesif's InvalidStateError on blob and arraybuffer). A Document is left out by `readBody`.
                  // A parsed JSON response is serialized now, before the app changes it.
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
   * promise it returns. A request's body is read from a copy (see copyBody: the Request itself goes to
   * fetch unread, unlike moesif, which fails with "already used"). A response's body is what the app
   * reads of it, or a copy (see `bodies`). A response body that will not be recorded is neither
   * copied nor watched: one the app reads as it arrives (server-sent events, NDJSON), or one over
   * maxBodyBytes by its Content-Length.
   *
   * A copy shares the connection with the app's body: the browser closes it only when both are done or
   * cancelled. So the app's `response.body` is the app's own branch seen through `follow`, which cancels
   * capture's copy when the app cancels its body (reader.cancel(), a `for await` that breaks, a cancelled
   * pipe); and a copy still streaming after BODY_WAIT_MS is let go (see body.ts). Without this, six
   * streams the app stopped reading held all six connections Chromium opens to a host, and the
   * app's next calls there waited until the page closed.
   */
  /**
   * The bodies of captured responses, by response, and what capture reads of each (`source`). Copying a
   * body (a tee) and reading the copy cost a captured fetch about 60 µs of main-thread CPU (issue 18),
   * so most bodies are not copied: when the app reads one with text() or json(), capture keeps the text it
   * read (a promise, then the text). Before any other read of the app's (arrayBuffer(), blob(),
   * formData(), bytes(), `body`), or in capture's deferred work if the app has read nothing by then, a
   * copy is taken.
   */
  const bodies = new WeakMap<Response, { source?: BodySource }>();
  /** What capture reads of a response's body: what it has, or else a copy taken now (none once the app used the body otherwise). */
  const sourceOf = (response: Response): BodySource | undefined => {
    const body = bodies.get(response);
    if (body && !body.source) body.source = copyBody(response);
    return body?.source;
  };
  /**
   * Hands capture's work what it reads of a response's body. The text the app read is not kept with the
   * response after that: it may be large, and the app may keep the response. A copy stays known, so
   * that the app's cancelling its body still lets the copy go (see `follow`).
   */
  const takeBody = (response: Response): BodySource | undefined => {
    const source = sourceOf(response);
    if (!isCopy(source)) bodies.delete(response);
    return source;
  };
  /**
   * The `text()` that was in place when capture put its own there: its read is the app's and capture's
   * both. When another copy of the SDK wrapped it first, its read goes through that copy's wrapper,
   * so that both record the body the app reads once.
   */
  let readText: Function = Response.prototype.text;
  /**
   * Reads a captured response's text for the app (text() or json(): `as` makes the app's value of the
   * text), and keeps it for capture, or gives back nothing when capture does not want it. One reaction
   * serves both, and the app gets the promise it makes: a failed read the app leaves unhandled is
   * still reported as without capture.
   */
  const shareText = <T>(response: Response, as: (text: string) => T): Promise<T> | undefined => {
    const body = bodies.get(response);
    if (!body || body.source) return;
    const read: Promise<string> = readText.call(response);
    body.source = read;
    return read.then((text) => {
      body.source = text;
      return as(text);
    });
  };
  /** The body each response shows the app when capture copied it: the same stream each time it asks. */
  const followers = new WeakMap<Response, ReadableStream<Uint8Array>>();
  const follow = (body: ReadableStream<Uint8Array<ArrayBuffer>>, copy: Copy): ReadableStream<Uint8Array> => {
    let reader: ReadableStreamDefaultReader<Uint8Array<ArrayBuffer>> | undefined;
    // A byte stream, as the original is, so that a BYOB reader works on it too; pulled only when the
    // app reads, so that until then the original stays unread and response.text() still works.
    return new ReadableStream({
      type: 'bytes',
      async pull(controller) {
        const { done, value } = await (reader ??= body.getReader()).read();
        if (done) {
          controller.close();
          controller.byobRequest?.respond(0);
        } else if (value.byteLength) controller.enqueue(value);
      },
      cancel(reason) {
        copy.release();
        return (reader || body).cancel(reason);
      },
    });
  };
  const responses = Response.prototype as unknown as Record<string, unknown>;
  if (!options.disableFetch)
    toggles.push(
      patch(
        responses,
        'body',
        (original) =>
          function (this: Response) {
            const copy = sourceOf(this);
            const body = original.call(this);
            if (!isCopy(copy) || !body) return body;
            let followed = followers.get(this);
            if (!followed) followers.set(this, (followed = follow(body, copy)));
            return followed;
          },
        true,
      ),
      patch(responses, 'text', (original) => {
        readText = original;
        return function (this: Response) {
          return shareText(this, (text) => text) ?? original.apply(this, arguments);
        };
      }),
      // As the browser's json() does: the text, UTF-8 decoded, parsed.
      patch(responses, 'json', (original) =>
        function (this: Response) {
          return shareText(this, JSON.parse) ?? original.apply(this, arguments);
        },
      ),
      ...['arrayBuffer', 'blob', 'bytes', 'formData'].map((name) =>
        patch(responses, name, (original) =>
          function (this: Response) {
            sourceOf(this);
            return original.apply(this, arguments);
          },
        ),
      ),
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
          // Our reaction runs before any of the app's, so the body is watched before the app reads it.
          // Neither reaction throws, so the branch never rejects.
          if (end)
            result.then(
              (response) => {
                try {
                  const { headers } = response;
                  const tooBig = +headers.get('content-length')! > options.maxBodyBytes;
                  // `test` reads a missing content-type (null) as "null".
                  const watched = !tooBig && !STREAMING.test(headers.get('content-type')!);
                  if (watched) bodies.set(response, {});
                  end(response.status, headers, watched ? () => takeBody(response) : undefined, undefined, tooBig);
                } catch {
                  // A mocked fetch that resolved to no Response: nothing to capture.
                }
              },
              (error: unknown) => {
                try {
                  end(0, [], null, String(error));
                } catch {
                  // A mocked fetch that rejected with a symbol.
                }
              },
            );
          return result;
        },
      ),
    );

  const turn = (next: boolean): void => {
    on = next;
    // Added again on every start: a no-op for the same listener. Kept after stop(), for calls still under way.
    addEventListener('pagehide', leave);
    document.addEventListener('visibilitychange', drainAll);
    for (const toggle of toggles) toggle(next);
  };
  return {
    start: () => turn(true),
    stop: () => turn(false),
    dispose(): void {
      turn(false);
      leave();
      removeEventListener('pagehide', leave);
      document.removeEventListener('visibilitychange', drainAll);
    },
  };
};

export type { Capture, CaptureDeps, CaptureFactory } from './types.js';
