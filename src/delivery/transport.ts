import { APPLICATION_ID_HEADER, requestHeaders } from '../wire';

export interface SendResult {
  /** HTTP status, or 0 when no answer came (network error, blocked, aborted). */
  status: number;
  retryAfter?: string | null;
  error?: string;
}

export interface Request {
  url: string;
  body: string;
  /** Survive the page closing; only for bodies that fit the browser's 64 KB keepalive quota. */
  keepalive: boolean;
}

export type Send = (request: Request) => Promise<SendResult>;

/**
 * POSTs one request and reports what happened as a value, never as a throw: the page's own code may
 * have replaced `fetch` with something that throws synchronously, and a failure here must not reach it.
 * `fetchImpl` is taken once at init, before capture wraps `fetch`, so our own requests are never captured.
 */
export function fetchTransport(fetchImpl: typeof fetch | undefined, applicationId: string): Send {
  const headers = requestHeaders(applicationId);
  return async ({ url, body, keepalive }) => {
    try {
      if (!fetchImpl) return { status: 0, error: 'fetch is not available' };
      const response = await fetchImpl(url, { method: 'POST', headers, body, keepalive, credentials: 'omit' });
      return { status: response.status, retryAfter: response.headers.get('Retry-After') };
    } catch (error) {
      return { status: 0, error: String(error) };
    }
  };
}

/**
 * navigator.sendBeacon: a text/plain body (no CORS preflight, which could not finish while a page
 * closes) and the application id as a query parameter, since a beacon carries no headers.
 * The browser only says whether it queued the beacon, so a queued beacon counts as delivered
 * (202); a refused one falls back to `fallback`.
 */
export function beaconTransport(applicationId: string, fallback: Send): Send {
  return async (request) => {
    try {
      const url = `${request.url}?${APPLICATION_ID_HEADER}=${encodeURIComponent(applicationId)}`;
      if (navigator.sendBeacon(url, new Blob([request.body], { type: 'text/plain' }))) return { status: 202 };
    } catch {
      /* refused or missing: try fetch */
    }
    return fallback(request);
  };
}
