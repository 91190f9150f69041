import { backoffDelay, parseRetryAfter } from './backoff.js';
import { BLOCKED_AFTER, classifyResponse, type Verdict } from './classify.js';
import type { Answer } from './transport.js';

/**
 * How the collector has been answering, and what the engine may send because of it: when the next
 * retry may leave (backoff), whether the browser is offline, and how many items a batch may carry
 * (halved after each 413 until one gets through).
 */
export function createCollectorHealth({ now, maxItems }: { now: () => number; maxItems: number }) {
  /** Failed requests in a row: drives the backoff. */
  let failures = 0;
  let retryAt = 0;
  /** Requests in a row that got no answer at all. */
  let unanswered = 0;
  let offline = false;
  let batchLimit = maxItems;
  return {
    /** Records how a request with `count` items settled, and gives back what to do with its batch. */
    record({ status, retryAfter }: Answer, count: number): Verdict {
      // Offline, a request without an answer says nothing of a blocker: the `online` event is awaited instead.
      offline = !status && !navigator.onLine;
      unanswered = status || offline ? 0 : unanswered + 1;
      const verdict = classifyResponse({ status, count, unanswered });
      if (verdict == 'sent') {
        failures = 0;
        retryAt = 0;
        batchLimit = maxItems;
      } else if (verdict == 'split') {
        batchLimit = Math.ceil(count / 2);
      } else if (verdict == 'retry' || verdict == 'blocked') {
        failures++;
        retryAt = now() + backoffDelay(failures, parseRetryAfter(retryAfter, now()));
      }
      return verdict;
    },
    /**
     * The browser is back online (or may be: a page back from the back/forward cache). True when failures
     * before it had the page taken for blocked: they may have been the network's, not a blocker's, so the
     * page may send again.
     */
    online(): boolean {
      const wasBlocked = unanswered >= BLOCKED_AFTER;
      offline = false;
      unanswered = 0;
      return wasBlocked;
    },
    /** Forgets the requests that got no answer (consent revoked: after a new grant, one failure is not taken for a blocker). */
    forgetUnanswered(): void {
      unanswered = 0;
    },
    /** flush() asks for no wait. */
    skipBackoff(): void {
      retryAt = 0;
    },
    retryAt: (): number => retryAt,
    isOffline: (): boolean => offline,
    batchLimit: (): number => batchLimit,
  };
}
