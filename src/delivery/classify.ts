import { isRetryable } from './backoff.js';

/** Requests that get no answer at all this many times in a row are taken as blocked (an ad blocker). */
export const BLOCKED_AFTER = 3;
/**
 * How long a page that took the collector for blocked waits before it tries one request again. A
 * collector down for a few seconds looks the same from the page (no answer: connection refused, or a
 * gateway's error page without CORS headers), and a single-page app open all day would otherwise hold
 * its items, and lose the oldest at the outbox's limits, until it closes. An ad blocker costs one
 * refused request (and one line in the browser's console) per wait.
 */
export const BLOCKED_RETRY_MS = 300_000;

/**
 * What to do with a batch once its request settled:
 * - `sent`: the collector has it (2xx); forget it.
 * - `split`: too large (413) and more than one item: send it again in halves.
 * - `drop`: refused for good (4xx, or a 413 for a single item); forget it, so that a poison batch
 *   does not block the queue behind it.
 * - `retry`: no answer, a timeout, rate limiting or a server error; send it again after a backoff.
 * - `blocked`: a retry, and `BLOCKED_AFTER` requests in a row got no answer at all: the collector
 *   looks blocked, so nothing more is sent for BLOCKED_RETRY_MS, then one request tries again.
 */
export type Verdict = 'sent' | 'split' | 'drop' | 'retry' | 'blocked';

export interface Settled {
  /** HTTP status, or 0 when the request got no answer. */
  status: number;
  /** Items in the batch. */
  count: number;
  /** Requests in a row, this one included, that got no answer at all (0 when this one was answered). */
  unanswered: number;
}

export function classifyResponse({ status, count, unanswered }: Settled): Verdict {
  if (status >= 200 && status < 300) return 'sent';
  if (status == 413 && count > 1) return 'split';
  if (!isRetryable(status)) return 'drop';
  return unanswered >= BLOCKED_AFTER ? 'blocked' : 'retry';
}
