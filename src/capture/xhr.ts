import { patch, type Toggle } from '../patch.js';
import { toJson } from '../serialize.js';
import { outsideZones } from '../zones.js';
import { parseHeaders } from './headers.js';
import type { PatchDeps, Target } from './types.js';

/** The events that end a call that failed, named as moesif names them in `metadata.error`. */
const FAILURES = ['abort', 'error', 'timeout'];

/** An opened XMLHttpRequest, as `open` and `setRequestHeader` saw it, until `send` begins it. */
interface OpenedCall {
  /** Its Target if captured (see `want`), or nothing. */
  target: Target | undefined;
  method: string;
  /** The headers set so far, as the app wrote them. */
  headers: Array<[string, string]>;
}

/**
 * XMLHttpRequest's capture: its prototype's open, abort, setRequestHeader and send are wrapped (see patch.ts).
 * The event is recorded on `loadend` by a listener of our own, so the app's handlers
 * (onreadystatechange, onload, its own listeners) are never replaced or skipped. Requests opened
 * before start() are left alone. Its response (headers and body) is read later, with the rest of the
 * event: a call into the browser on the app's call path cost a captured call about 8 µs of main-thread
 * time (issue 18), and reading `response` is the browser's work (a 'json' one is parsed again at each
 * read, a 'document' one at its first). open() and abort() drop a response, so those record its call
 * and read it first.
 */
export function patchXhr({ want, begin }: PatchDeps): Toggle[] {
  /** Each opened request, until the next open(). */
  const opened = new WeakMap<XMLHttpRequest, OpenedCall>();
  /**
   * Each sent call not recorded yet, by its object: told the type of each event that ends it (a failure's
   * type becomes its error), and records the call at `loadend`.
   */
  const pending = new WeakMap<XMLHttpRequest, (eventType: string) => void>();
  /** Each recorded call whose response capture has not read yet: reads it. */
  const unreadResponses = new WeakMap<XMLHttpRequest, () => void>();
  /**
   * Before open() or abort() drop the response of the last call: it is recorded now if its loadend has
   * not reached our listener yet (a handler of the app that ran before it reopens or aborts, or one that
   * awaits a promise resolved in onloadend: microtasks run between listeners), and its response is read.
   * A call that failed (status 0) may not have reached our error, timeout or abort listener either (an
   * app retrying from onerror, ontimeout or onreadystatechange): it is named after the event the app is
   * handling when that is one of them (`window.event`, the one being dispatched), else 'error'.
   */
  const recordEnded = (xhr: XMLHttpRequest): void => {
    const notify = pending.get(xhr);
    if (notify && xhr.readyState == 4) {
      const { event } = window;
      if (!xhr.status) notify(event?.target == xhr && FAILURES.includes(event.type) ? event.type : 'error');
      notify('loadend');
    }
    unreadResponses.get(xhr)?.();
  };
  /**
   * One listener for every object and call: adding it again is a no-op, so an object reused for many
   * calls never gathers listeners. Done (4) only: an event still being dispatched after the app
   * reopened the object belongs to the call `open` recorded, not to the new one.
   */
  const listener = function (this: XMLHttpRequest, { type }: Event): void {
    if (this.readyState == 4) pending.get(this)?.(type);
  };
  /**
   * The response of the call `xhr` just ended, read when capture asks for its headers or body, or when
   * open() or abort() are about to drop it. Stable until then: responseType and overrideMimeType()
   * throw once a call is done. `response`, not `responseText`: the latter throws for any responseType
   * but '' and 'text' (moesif's InvalidStateError on blob and arraybuffer). A 'json' response is each
   * read's own new object (Chromium parses it again), which no app code can change: serialized for
   * readBody. Null is text that did not parse (or no body): recorded without a body, not as the JSON
   * null. A 'document' response is left out unread (see readBody).
   */
  const responseLater = (xhr: XMLHttpRequest): { headers: () => Array<[string, string]>; body: () => unknown } => {
    let read: { headers: string; body: unknown } | undefined;
    const readNow = (): { headers: string; body: unknown } => {
      if (!read) {
        // The first read comes before the object is reopened, so the entry is still this call's.
        unreadResponses.delete(xhr);
        const type = xhr.responseType;
        const response = type == 'document' ? undefined : xhr.response;
        read = { headers: xhr.getAllResponseHeaders(), body: type == 'json' && response != null ? toJson(response) : response };
      }
      return read;
    };
    unreadResponses.set(xhr, readNow);
    return { headers: () => parseHeaders(readNow().headers), body: () => readNow().body };
  };

  const proto = XMLHttpRequest.prototype;
  return [
    patch(proto, 'open', (original) =>
      function (this: XMLHttpRequest, method: string, url: string | URL) {
        recordEnded(this);
        // What was set for the last request is dropped either way (a call abandoned in flight is not
        // recorded). `begin` leaves out a call not wanted.
        pending.delete(this);
        opened.set(this, { target: want(url), method, headers: [] });
        return original.apply(this, arguments);
      },
    ),
    patch(proto, 'abort', (original) =>
      function (this: XMLHttpRequest) {
        recordEnded(this);
        // A call under way is aborted: named so before an app's handler of the abort reopens the object.
        pending.get(this)?.('abort');
        return original.apply(this, arguments);
      },
    ),
    patch(proto, 'setRequestHeader', (original) =>
      function (this: XMLHttpRequest, name: string, value: string) {
        // After the original, so a header it refuses (wrong state, bad name) is not recorded.
        const result = original.apply(this, arguments);
        opened.get(this)?.headers.push([name, value]);
        return result;
      },
    ),
    patch(proto, 'send', (original) =>
      function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
        const xhr = this;
        const call = opened.get(xhr);
        // Only a call that send() starts: opened (1) and not sent yet. Once a call ended (4), a send()
        // before the next open() throws, and starts nothing to record. The call's own list of headers, which
        // a wrapper of send() inside ours still adds to before the browser sends (see Begin).
        const end = call && xhr.readyState == 1 && !pending.has(xhr) && begin(call.target, call.method, call.headers, body, true);
        if (end) {
          let error: string | undefined;
          // Nothing here throws (the response is read later): the app's event dispatch is never disturbed.
          // One record per opening, of its first send(): a second one throws without starting another call.
          pending.set(xhr, (eventType) => {
            if (eventType != 'loadend') {
              error ||= eventType;
              return;
            }
            // Recorded once: gone from `pending` is recorded already.
            if (!pending.delete(xhr)) return;
            const response = responseLater(xhr);
            // 1223 is how old Internet Explorer reported 204.
            end(xhr.status == 1223 ? 204 : xhr.status, response.headers, response.body, error);
          });
          // Under zone.js a listener belongs to the zone it is added in, which runs change detection when
          // it fires: ours are added outside the app's (see outsideZones).
          outsideZones(() => {
            for (const type of [...FAILURES, 'loadend']) xhr.addEventListener(type, listener);
          });
        }
        try {
          return original.apply(xhr, arguments);
        } catch (error) {
          // A synchronous call that failed throws from send() and fires no events (XHR spec, "request
          // error steps"): recorded here, as an async one would be.
          recordEnded(xhr);
          throw error;
        }
      },
    ),
  ];
}
