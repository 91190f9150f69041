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

import type { CapturedEvent, Metadata } from '../wire';
import { readBody } from './body';
import { patchFetch } from './fetch';
import type { CaptureFactory, Tap } from './types';
import { patchXhr } from './xhr';

type Hook = 'skip' | 'maskContent' | 'getMetadata' | 'getTags' | 'getApiVersion';

export const createCapture: CaptureFactory = ({ options, log, record }) => {
  let on = false;

  const hook = <T>(name: Hook, event: CapturedEvent, fallback?: T): T | undefined => {
    try {
      const fn = options[name] as ((event: CapturedEvent) => T | undefined) | undefined;
      return (fn && fn(event)) ?? fallback;
    } catch {
      log.warn(`${name}() threw; ignored.`);
      return fallback;
    }
  };

  const tap: Tap = {
    on: () => on,
    want: (uri) => on && Math.random() < options.sampleRate && /^https?:/.test(uri) && !uri.startsWith(options.baseUrl + '/v1/'),
    read: (source) => readBody(source, options.maxBodyBytes),
    done(request, requestBody, response, responseBody, error) {
      Promise.all([requestBody, responseBody])
        .then(([{ cut: requestCut, ...sent }, { cut: responseCut, ...received } = {}]) => {
          const metadata: Metadata = {};
          if (error != null) metadata.error = String(error);
          const cut = [requestCut && 'request', responseCut && 'response'].filter(Boolean);
          if (cut.length) metadata.truncated = cut;
          let event: CapturedEvent = {
            request: { ...request, ...sent },
            response: { ...response, ...received },
            transaction_id: newId(),
            ...(error != null || cut.length ? { metadata } : {}),
          };
          if (hook('skip', event, false)) return;
          event = hook('maskContent', event, event)!;
          const extra = hook<Metadata>('getMetadata', event);
          if (extra && typeof extra == 'object') event.metadata = { ...event.metadata, ...extra };
          const tags = hook<string>('getTags', event);
          if (tags) event.tags = tags;
          const version = hook('getApiVersion', event, options.apiVersion);
          if (version) event.request.api_version = version;
          record(event);
        })
        .catch(() => log.warn('capture failed.'));
    },
  };

  const toggles = [patchXhr(tap), ...(options.disableFetch ? [] : [patchFetch(tap)])];
  const turn = (next: boolean): void => {
    on = next;
    for (const toggle of toggles) toggle(next);
  };
  return { start: () => turn(true), stop: () => turn(false) };
};

export type { Capture, CaptureDeps, CaptureFactory } from './types';
