import { headerRecord } from './headers';
import { patch } from '../patch';
import { time } from './types';
import type { Tap, Toggle } from './types';

/** A request opened while capture was on; `headers` as set so far. */
interface Opened {
  uri: string;
  verb: string;
  headers: Array<[string, string]>;
}

/**
 * Wraps XMLHttpRequest.prototype's open, setRequestHeader and send. The event is recorded on
 * `loadend` by a listener of our own, so the app's handlers (onreadystatechange, onload, its own
 * listeners) are never replaced or skipped. Requests opened before start() are left alone.
 */
export function patchXhr(tap: Tap): Toggle {
  const calls = new WeakMap<XMLHttpRequest, Opened>();
  const proto = XMLHttpRequest.prototype as unknown as Record<string, unknown>;
  const toggles = [
    patch(proto, 'open', (original) =>
      function (this: XMLHttpRequest, method: string, url: string | URL) {
        calls.delete(this);
        try {
          const uri = new URL(String(url), location.href).href;
          if (tap.want(uri)) calls.set(this, { uri, verb: String(method).toUpperCase(), headers: [] });
        } catch {
          /* a URL that open() itself rejects */
        }
        return original.apply(this, arguments);
      },
    ),
    patch(proto, 'setRequestHeader', (original) =>
      function (this: XMLHttpRequest, name: string, value: string) {
        // After the original, so a header it refuses (wrong state, bad name) is not recorded.
        const result = original.apply(this, arguments);
        calls.get(this)?.headers.push([name, value]);
        return result;
      },
    ),
    patch(proto, 'send', (original) =>
      function (this: XMLHttpRequest, body?: Document | XMLHttpRequestBodyInit | null) {
        const xhr = this;
        const call = calls.get(xhr);
        if (call && tap.on()) {
          const request = { ...call, time: time(), headers: headerRecord(call.headers) };
          const sent = tap.read(body);
          let error: string | undefined;
          const listener = (event: Event): void => {
            try {
              // A listener left by a send() that threw, or from before the object was reopened: not ours now.
              if (calls.get(xhr) !== call) return;
              if (event.type != 'loadend') return void (error = event.type);
              calls.delete(xhr);
              const type = xhr.responseType;
              // `response`, not `responseText`: the latter throws for any responseType but '' and 'text'
              // (moesif's InvalidStateError on blob and arraybuffer). A Document is left out by `read`.
              tap.done(
                request,
                sent,
                // 1223 is how old Internet Explorer reported 204.
                { time: time(), status: xhr.status == 1223 ? 204 : xhr.status, headers: headerRecord(parseHeaders(xhr.getAllResponseHeaders())) },
                tap.read(type == 'json' ? JSON.stringify(xhr.response) : xhr.response),
                error,
              );
            } catch {
              /* never throw inside the app's event dispatch */
            }
          };
          for (const type of ['abort', 'error', 'timeout', 'loadend']) xhr.addEventListener(type, listener);
        }
        return original.apply(xhr, arguments);
      },
    ),
  ];
  return (on) => toggles.forEach((toggle) => toggle(on));
}

/** The pairs of getAllResponseHeaders(): `name: value` lines separated by CRLF. */
export const parseHeaders = (raw: string): Array<[string, string]> =>
  Array.from(raw.matchAll(/^([^:\r\n]+):[ \t]*(.*?)\r?$/gm), (m): [string, string] => [m[1], m[2]]);
