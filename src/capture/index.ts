/**
 * Automatic capture of the page's own API calls (fetch and XMLHttpRequest) as Moesif events
 * (issue 5). Each call becomes one event, built in this order:
 * 1. sampled in (`sampleRate`, decided when the call starts, so a call left out costs nothing), not to
 *    the collector, http(s) only;
 * 2. headers masked (see headers.ts), bodies read from clones and capped at `maxBodyBytes`; a cut body
 *    is named in `metadata.truncated` (['request'] / ['response']), a failed or aborted call has
 *    status 0 and `metadata.error`;
 * 3. the user's hooks: `skip`, `maskContent`, `getMetadata` (merged over ours), `getTags`, then
 *    `getApiVersion` or `apiVersion`. Hooks see headers already masked: a credential never leaves
 *    the SDK, even through a hook. A hook that throws is reported once and its step uses the default.
 */
import { newId } from '../ids';
import { APPLICATION_ID_HEADER, type CapturedEvent, type Metadata } from '../wire';
import { readBody } from './body';
import { patchFetch } from './fetch';
import { headerRecord } from './headers';
import type { Begin, CaptureFactory, Want } from './types';
import { patchXhr } from './xhr';

type Hook = 'skip' | 'maskContent' | 'getMetadata' | 'getTags' | 'getApiVersion';

export const createCapture: CaptureFactory = ({ options, log, record }) => {
  let on = false;

  const hook = <T>(name: Hook, event: CapturedEvent, fallback?: T): T | undefined => {
    try {
      return (options[name] as ((event: CapturedEvent) => T | undefined) | undefined)?.(event) ?? fallback;
    } catch {
      log.warn(`${name}() threw; ignored.`);
      return fallback;
    }
  };

  const want: Want = (url) => {
    try {
      const uri = new URL(url, location.href).href;
      return on && Math.random() < options.sampleRate && /^https?:/.test(uri) && !uri.startsWith(options.baseUrl + '/v1/') && uri;
    } catch {
      return; // a URL the call itself rejects
    }
  };

  const begin: Begin = (uri, method, init, body) => {
    const headers = new Headers(init);
    // Our collector's requests carry the application id header: never capture one (another copy's either).
    if (!on || !uri || headers.has(APPLICATION_ID_HEADER)) return;
    const request: CapturedEvent['request'] = { time: new Date().toISOString(), uri, verb: String(method).toUpperCase(), headers: headerRecord(headers) };
    const sent = readBody(body, options.maxBodyBytes, request);
    return async (status, headers, body, error) => {
      try {
        const response: CapturedEvent['response'] = { time: new Date().toISOString(), status, headers: headerRecord(headers) };
        // Before any await: a Response is cloned now, before the app reads it.
        const received = readBody(body, options.maxBodyBytes, response);
        const truncated = [(await sent) && 'request', (await received) && 'response'].filter(Boolean);
        let event: CapturedEvent = { request, response, transaction_id: newId() };
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

  const toggles = patchXhr(want, begin);
  if (!options.disableFetch) toggles.push(patchFetch(want, begin));
  const turn = (next: boolean): void => {
    on = next;
    for (const toggle of toggles) toggle(next);
  };
  return { start: () => turn(true), stop: () => turn(false) };
};

export type { Capture, CaptureDeps, CaptureFactory } from './types';
