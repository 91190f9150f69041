/** Retry timing, as pure functions so it is tested without timers. */

/**
 * Delay before retry number `attempt` (1 for the first retry): "full jitter" exponential backoff, a
 * uniformly random wait in [0, min(maxMs, baseMs * 2^(attempt-1))), so that many API servers
 * recovering from one collector outage do not all come back in step. A collector's Retry-After is a
 * floor (never retry before it), itself capped at maxMs so a bogus header cannot park the queue.
 */
export function backoffDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return Math.min(maxMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** Retry-After in ms from its two forms (RFC 9110 §10.2.3): delay-seconds or an HTTP date. */
export function parseRetryAfter(header: string | string[] | undefined, nowMs: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Worth repeating: no answer, a timeout, rate limiting or a server error. Other 4xx never heal. */
export const isRetryable = (status: number): boolean => status === 0 || status === 408 || status === 429 || status >= 500;
