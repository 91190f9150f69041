import type { ResolvedOptions } from '../options.js';
import { APPLICATION_ID_HEADER, SDK_HEADER, SDK_HEADER_VALUE, type Kind } from '../wire.js';

/** How a request settled: its status (0 without an answer), and what the answer or failure said. */
export interface Answer {
  status: number;
  retryAfter?: string | null;
  error?: string;
}

export interface TransportDeps {
  options: ResolvedOptions;
  /** The fetch that existed before capture wrapped it, so that our own requests are never captured. */
  fetch: typeof fetch;
}

/**
 * POSTs one batch body to the collector and tells how it settled, never throwing. With `useBeacon`, the
 * browser queues the body, which as a string goes as text/plain;charset=UTF-8 (no CORS preflight, which
 * could not finish while a page closes), with the application id as a query parameter, since a beacon
 * carries no headers; it only says whether it took the beacon, so a queued beacon counts as delivered
 * (202), and a refused one goes by fetch, without keepalive.
 */
export function createTransport({ options, fetch: fetchImpl }: TransportDeps) {
  const { applicationId } = options;
  // Written out here, as the URL is: see wire.ts.
  const headers = { 'Content-Type': 'application/json', [APPLICATION_ID_HEADER]: applicationId, [SDK_HEADER]: SDK_HEADER_VALUE };
  return async (kind: Kind, body: string, keepalive: boolean): Promise<Answer> => {
    const url = `${options.baseUrl}/v1/${kind}/batch`;
    // A hung connection would hold the queue behind it: abandoned after batchTimeout, and retried. Not
    // AbortSignal.timeout(): Chromium keeps such a signal, and what it references, until its timer fires,
    // long after the answer came (bench/README.md, soak); this timer is cleared once the request settles.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException('signal timed out', 'TimeoutError')), options.batchTimeout);
    try {
      const beaconed = options.useBeacon ? navigator.sendBeacon?.(`${url}?${APPLICATION_ID_HEADER}=${encodeURIComponent(applicationId)}`, body) : undefined;
      if (beaconed) return { status: 202 };
      // Settled only once the answer arrived whole: Chromium counts a keepalive request against the page's
      // 64 KB quota until then, and the sender counts it until this settles. Settled at the headers, the
      // next full batch failed with "Failed to fetch". A body cut short still leaves the status. A refused
      // beacon goes without keepalive: the browser refuses a beacon over that quota, which beacons still
      // under way hold (the sender counted them only until they were queued), and would refuse a keepalive
      // fetch as well.
      const response = await fetchImpl(url, { method: 'POST', headers, body, keepalive: keepalive && beaconed !== false, credentials: 'omit', signal: controller.signal });
      await response.text().catch(() => {});
      return { status: response.status, retryAfter: response.headers.get('Retry-After') };
    } catch (error) {
      return { status: 0, error: String(error) };
    } finally {
      clearTimeout(timer);
    }
  };
}
