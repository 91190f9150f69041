/**
 * How hard the outbox may press the collector: how many requests may be under way at once, how long
 * to wait before a retry, and how large a batch may be. State only, no timers: the outbox asks it
 * before each request and tells it how each one went.
 */
import { backoffDelay } from '../delivery/backoff.js';

export interface PacingDeps {
  /** Most requests under way at once while the collector answers. */
  maxInFlight: number;
  /** Byte limit of one request body (before compression) until the collector says it is too much. */
  maxBatchBytes: number;
  retryBaseDelay: number;
  retryMaxDelay: number;
  /** The backoff's jitter (Math.random unless a test fixes it). */
  random?: () => number;
}

export function createPacing({ maxInFlight, maxBatchBytes, retryBaseDelay, retryMaxDelay, random }: PacingDeps) {
  // Consecutive failed requests: drives the backoff, and starts over whenever the collector answers.
  let failures = 0;
  let byteLimit = maxBatchBytes;

  return {
    /**
     * Requests that may be under way at once: all of them while the collector answers. After a
     * failure, one at a time probes it until one gets through: a collector that is down or
     * struggling gets one batch per retry, not maxInFlight.
     */
    maxInFlight: (): number => (failures > 0 ? 1 : maxInFlight),

    /** Byte limit of the next batch's body. */
    byteLimit: (): number => byteLimit,

    /** The collector took a batch, or refused it for good: it is answering, so the backoff starts over. */
    answered(): void {
      failures = 0;
    },

    /**
     * The collector answered 413 to a batch of several items, `chars` characters in all: its limit is
     * below ours, so batches carry at most half of that from now on. Never raised again: a larger
     * batch sent at the same time may be refused after a smaller one. Returns the new limit.
     */
    tooLarge(chars: number): number {
      byteLimit = Math.min(byteLimit, Math.max(1, Math.floor(chars / 2)));
      return byteLimit;
    },

    /** A failure worth retrying: which retry comes next, and how long to wait for it (Retry-After is a floor). */
    failed(retryAfterMs: number | undefined): { attempt: number; delay: number } {
      failures += 1;
      return { attempt: failures, delay: backoffDelay(failures, retryAfterMs, retryBaseDelay, retryMaxDelay, random) };
    },
  };
}

