/**
 * The delivery queue: batches of events POSTed off the request path, retried with backoff, bounded in
 * memory. Throughput follows the rate (issue 18): a batch leaves as soon as batchSize events wait,
 * up to maxInFlight batches are under way at once, and a batch takes everything waiting (within
 * maxBatchCount and the byte limit), so when the app logs faster than requests come back, the
 * queue grows and each request carries more. It knows nothing of HTTP servers or events: it gets
 * a `send` function and JSON strings, so it is tested against any server.
 *
 * Its parts, one job each: bounded-queue.ts holds what waits and drops the oldest over its bounds;
 * batch.ts sizes the next batch; requests.ts sends batches and counts those under way; pacing.ts
 * says how many may be under way and how long a retry waits; wakeup.ts is the one timer; verdict.ts
 * judges each answer. This file wires them: when a request starts, and what its answer does to the
 * queue.
 */
import { batchLength, charsOf } from './batch.js';
import { createBoundedQueue } from './bounded-queue.js';
import type { Log } from './log.js';
import { createPacing } from './pacing.js';
import { createRequests } from './requests.js';
import type { Send, SendResult } from './transport.js';
import type { DeliveryOutcome, MoesifStats } from './types.js';
import { judgeResult } from './verdict.js';
import { createWakeup } from './wakeup.js';

export interface OutboxConfig {
  send: Send;
  /** The collector path of one batch, e.g. /v1/events/batch. */
  path: string;
  /** Items waiting that make a batch leave at once (fewer wait up to batchMaxTime). */
  batchSize: number;
  /** Most items in one request, when more than batchSize wait. */
  maxBatchCount: number;
  /** Byte limit of one request body (before compression); a single larger item still goes, alone. */
  maxBatchBytes: number;
  /** Most requests under way at once. */
  maxInFlight: number;
  batchMaxTime: number;
  maxQueueSize: number;
  /** Characters of JSON kept in the queue: the memory bound when events carry large bodies. */
  maxQueueChars: number;
  /** A smaller form of an item, queued in its place when it would not fit (see bounded-queue.ts). */
  lighten?: (json: string) => string | undefined;
  retryBaseDelay: number;
  retryMaxDelay: number;
  log: Log;
  onOutcome?: (outcome: DeliveryOutcome) => void;
  random?: () => number;
}

export interface Outbox {
  /** Queue one item, already serialized to JSON. Never throws, never waits. */
  push(json: string): void;
  /** Send all queued items now; resolves when empty or after the first failed request. Never rejects. */
  flush(): Promise<void>;
  stats(): MoesifStats;
}

export function createOutbox(config: OutboxConfig): Outbox {
  const { send, path, batchSize, batchMaxTime, maxBatchCount, log } = config;
  const queue = createBoundedQueue({ maxItems: config.maxQueueSize, maxChars: config.maxQueueChars, lighten: config.lighten, log });
  const pacing = createPacing(config);
  const wakeup = createWakeup({ onWake: sendAfterWait });
  const requests = createRequests({ send, path, settle, onFinished: schedule });
  const counts = { sent: 0, rejected: 0, failedRequests: 0 };

  const mayStartRequest = (): boolean => requests.count() < pacing.maxInFlight();

  /** Decides what happens next after a push or a finished request. Runs on every push, so it stays cheap. */
  function schedule(): void {
    if (wakeup.isBackingOff()) return;
    // Once batchSize items wait, all of them leave: one more request for every batch they make, up to
    // maxInFlight. Under load, requests overlap instead of queueing behind one round trip (which
    // includes the busy app's own event loop).
    if (queue.length() >= batchSize) queue.markAllDue();
    while (queue.due() > 0 && mayStartRequest()) sendBatch();
    if (queue.length() > 0 && requests.count() === 0 && !wakeup.isWaiting()) wakeup.waitForBatch(batchMaxTime);
  }

  /** The wait (for a batch, or a retry) is over: at least one batch goes, however few items wait. */
  function sendAfterWait(): void {
    if (queue.length() > 0 && mayStartRequest()) sendBatch();
    schedule();
  }

  /** Starts one request with a batch from the front of the queue. */
  function sendBatch(): void {
    const batch = queue.take(batchLength(queue.waiting(), maxBatchCount, pacing.byteLimit()));
    wakeup.batchLeft();
    requests.start(batch);
  }

  /** Acts on one request's result (see verdict.ts): counts it, and sends its batch on or keeps it. */
  function settle(batch: string[], result: SendResult): boolean {
    const verdict = judgeResult(config, batch.length, result);
    if (verdict === 'sent') {
      counts.sent += batch.length;
      pacing.answered();
      log.debug(`POST ${path}: ${result.status}, ${batch.length} events`);
      return true;
    }
    counts.failedRequests += 1;
    if (verdict === 'split') {
      // Too large for this collector: smaller batches from now on, starting with this one, at once
      // (what comes back is due).
      const limit = pacing.tooLarge(charsOf(batch, batch.length));
      queue.putBack(batch);
      log.debug(`POST ${path}: 413 for ${batch.length} events, batch limit now ${limit} bytes`);
      return true;
    }
    if (verdict === 'drop') {
      // A 4xx other than 408/429 will fail the same way again: drop rather than block the queue.
      counts.rejected += batch.length;
      pacing.answered();
      log.debug(`POST ${path}: ${result.status}, ${batch.length} events rejected`);
      return true;
    }
    retryLater(batch, result);
    return false;
  }

  /** A failure worth retrying: the batch goes back to the front, within the bounds, and waits for the backoff. */
  function retryLater(batch: string[], result: SendResult): void {
    queue.putBack(batch);
    queue.trim();
    // Requests still under way finish; no new one starts before the delay (the collector said "not
    // now"). Batches sent together and failing together are one attempt, not several: four
    // refusals in a row would otherwise wait up to 8 s where one waits 1 s.
    if (wakeup.isBackingOff()) return;
    const { attempt, delay } = pacing.failed(result.retryAfterMs);
    log.debug(`POST ${path}: ${result.status || result.error || 'no answer'}, retry ${attempt} in ${delay} ms`);
    wakeup.waitToRetry(delay);
  }

  async function flush(): Promise<void> {
    try {
      for (;;) {
        if (requests.count() > 0) {
          // A batch that fails ends the flush: the collector just said "not now".
          if (!(await requests.settled())) return;
          continue;
        }
        if (queue.length() === 0) return;
        // flush() means "now": a scheduled batch or retry timer does not hold it back.
        wakeup.cancel();
        while (queue.length() > 0 && mayStartRequest()) sendBatch();
      }
    } catch {
      // Requests never reject; this only guards the promise flush() returns.
    }
  }

  return {
    push(json) {
      queue.push(json);
      schedule();
    },
    flush,
    stats() {
      const { sent, rejected, failedRequests } = counts;
      return { queued: queue.length() + requests.items(), sent, dropped: queue.dropped(), rejected, failedRequests };
    },
  };
}
