/** Retry timing, as pure functions so it can be tested without timers. Shared by the browser SDK and usertrail/server. */

export const BASE_DELAY_MS = 1_000;
export const MAX_DELAY_MS = 300_000;

/**
 * Delay before retry number `attempt` (1 for the first retry): "full jitter" exponential backoff,
 * a uniformly random wait in [0, min(maxMs, baseMs * 2^(attempt-1))), by default [0, min(5 min,
 * 1 s * 2^(attempt-1))), so that many clients recovering from one outage do not return in step.
 * A server's Retry-After is a floor (never retry before it), itself capped at maxMs so that a bogus
 * header cannot park the queue. The wait is whole milliseconds.
 */
export const backoffDelay = (
  attempt: number,
  retryAfterMs: number | undefined,
  baseMs = BASE_DELAY_MS,
  maxMs = MAX_DELAY_MS,
  random: () => number = Math.random,
): number => Math.min(maxMs, Math.max(Math.floor(random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1))), retryAfterMs ?? 0));

/**
 * Retry-After in ms from its two forms (RFC 9110 §10.2.3): delay-seconds or an HTTP date (one in the
 * past: 0); undefined when missing or unreadable. Number() reads delay-seconds (trimmed); what it reads
 * as NaN or 0 (a date, "", null, "0") goes to Date.parse, which gives NaN for the missing and unreadable
 * and a past date or NaN for "0": a wait of 0 or none, the same to backoffDelay. Node gives Retry-After
 * as one string; an array, which its header type allows, reads as its values joined.
 */
export function parseRetryAfter(header: string | string[] | null | undefined, nowMs: number): number | undefined {
  const value = String(header);
  const ms = +value * 1000 || Date.parse(value) - nowMs;
  return ms > 0 ? ms : ms <= 0 ? 0 : undefined;
}

/** Whether a failed request is worth repeating: no answer, a timeout, rate limiting or a server error. */
export const isRetryable = (status: number): boolean => !status || status == 408 || status == 429 || status > 499;
