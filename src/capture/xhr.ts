import { patch, type Toggle } from '../patch';
import { parseHeaders } from './headers';
import type { Begin, Want } from './types';

/**
 * Wraps XMLHttpRequest.prototype's open, setRequestHeader and send. The event is recorded on
 * `loadend` by a listener of our own, so the app's handlers (onreadystatechange, onload, its own
 * listeners) are never replaced or skipped. Requests opened before start() are left alone.
 */
export function patchXhr(want: Want, begin: Begin): Toggle[] {
  /** Each opened request: its uri if captured (see `Want`), method, and the headers set so far. */
  const calls = new WeakMap<XMLHttpRequest, [ReturnType<Want>, string, Array<[string, string]>]>();
  const proto = XMLHttpRequest.prototype as unknown as Record<string, unknown>;
  return [
    patch(proto, 'open', (original) =>
      function (this: XMLHttpRequest, method: string, url: string | URL) {
        // Reopened: what was set for the last request is dropped either way. `begin` leaves out a call not wanted.
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
        const end = call && begin(...call, body);
        if (end) {
          let error: string | undefined;
          // Nothing here throws (headers are parsed inside `end`): the app's event dispatch is never disturbed.
          // A listener left by a send() that threw, or from before the object was reopened, is not ours now.
          const listener = ({ type }: Event): unknown =>
            calls.get(xhr) == call &&
            (type == 'loadend'
              ? end(
                  // 1223 is how old Internet Explorer reported 204.
                  xhr.status == 1223 ? 204 : xhr.status,
                  parseHeaders(xhr.getAllResponseHeaders()),
                  // `response`, not `responseText`: the latter throws for any responseType but '' and 'text'
                  // (moesif's InvalidStateError on blob and arraybuffer). A Document is left out by `read`.
                  xhr.responseType == 'json' ? JSON.stringify(xhr.response) : xhr.response,
                  error,
                )
              : (error = type));
          for (const type of ['abort', 'error', 'timeout', 'loadend']) xhr.addEventListener(type, listener);
        }
        return original.apply(xhr, arguments);
      },
    ),
  ];
}
