/**
 * The delivery queue: batches of events POSTed off the request path, retried with backoff, bounded in
 * memory. Throughput follows the rate (issue 18): a batch leaves as soon as batchSize events wait,
 * up to maxInFlight batches are under way at once, and a batch takes everything waiting (within
 * maxBatchCount and the byte limit), so when the app logs faster than requests come back, the
 * queue grows and each request carries more. It knows nothing of HTTP servers or events: it gets
 * a `send` function and JSON strings, so it is tested against any server.
 */
import { backoffDelay } from '../delivery/backoff.js';
import { classifyResponse } from '../delivery/classify.js';
import type { Log } from './log.js';
import type { Send } from './transport.js';
import type { DeliveryOutcome, MoesifStats } from './types.js';

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
  /**
   * A smaller form of an item (an event without its bodies), queued in its place, over the character
   * bound, when the item would not fit within maxQueueChars: a burst of large items keeps them all,
   * in part, instead of dropping some whole. Returns undefined when there is none.
   */
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

/** Characters in the first `count` items. */
function charsOf(items: string[], count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += (items[i] as string).length;
  return sum;
}

export function createOutbox(config: OutboxConfig): Outbox {
  const { send, path, batchSize, batchMaxTime, maxQueueSize, log } = config;
  // Items waiting; a batch in flight is taken out and put back at the front if it must be retried.
  const queue: string[] = [];
  let queuedChars = 0;
  // Requests under way, each resolving true when its batch is done with (taken, or refused for good).
  const inFlight = new Set<Promise<boolean>>();
  let inFlightItems = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // While a retry is scheduled, new items do not trigger sends: the collector asked us to wait.
  let retrying = false;
  // Consecutive failed requests; drives the backoff and resets on any success. While it is above 0,
  // one request at a time probes the collector: a collector that is down or struggling gets one
  // batch per retry, not four.
  let attempt = 0;
  const maxInFlight = (): number => (attempt > 0 ? 1 : config.maxInFlight);
  // Lowered when the collector answers 413 to a batch of several items (its limit is below ours).
  let byteLimit = config.maxBatchBytes;
  const counts = { sent: 0, dropped: 0, rejected: 0, failedRequests: 0 };

  /** The bound, in items and in characters: drop the oldest, which are at the front, and count them. */
  function enforceBound(inChars = true): void {
    let over = Math.max(0, queue.length - maxQueueSize);
    let remaining = queuedChars - charsOf(queue, over);
    while (inChars && over < queue.length && remaining > config.maxQueueChars) {
      remaining -= (queue[over] as string).length;
      over += 1;
    }
    if (over <= 0) return;
    queuedChars = remaining;
    // One at a time is the steady state of a full queue (each push drops the oldest): shift() is
    // constant time where splice() measured up to 100 µs on a 10,000-item queue.
    if (over === 1) queue.shift();
    else queue.splice(0, over);
    counts.dropped += over;
    log.debug(`queue full (${maxQueueSize}): dropped ${over} oldest, ${counts.dropped} in total`);
  }

  function requeue(batch: string[]): void {
    queue.unshift(...batch);
    queuedChars += charsOf(batch, batch.length);
  }

  function clearTimer(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    retrying = false;
  }

  function startTimer(delay: number, isRetry: boolean): void {
    clearTimer();
    retrying = isRetry;
    timer = setTimeout(() => {
      timer = undefined;
      retrying = false;
      // The wait is over: at least one batch goes, however few items wait.
      if (queue.length > 0 && inFlight.size < maxInFlight()) sendBatch();
      schedule();
    }, delay);
    // Delivery must never be the reason the app's process stays up; flush() is for graceful shutdown.
    timer.unref?.();
  }

  /** Decide what happens next after a push or a finished request. */
  function schedule(): void {
    if (retrying) return;
    // One more request for every full batch waiting, up to maxInFlight: under load, requests overlap
    // instead of queueing behind one round trip (which includes the busy app's own event loop).
    while (queue.length >= batchSize && inFlight.size < maxInFlight()) sendBatch();
    if (queue.length > 0 && inFlight.size === 0 && timer === undefined) startTimer(batchMaxTime, false);
  }

  /** Everything waiting from the front, up to maxBatchCount items within byteLimit (at least one item). */
  function takeBatch(): string[] {
    let count = 0;
    let bytes = 2;
    const most = Math.min(queue.length, config.maxBatchCount);
    while (count < most) {
      const size = Buffer.byteLength(queue[count] as string, 'utf8') + 1;
      if (count > 0 && bytes + size > byteLimit) break;
      bytes += size;
      count += 1;
    }
    const batch = queue.splice(0, count);
    queuedChars -= charsOf(batch, batch.length);
    return batch;
  }

  /** Report one request's result, count it, and decide about its batch. True when the batch is done with. */
  function settle(batch: string[], result: { status: number; retryAfterMs?: number; error?: string }): boolean {
    const outcome: DeliveryOutcome = { status: result.status, kind: 'events', count: batch.length };
    if (result.error !== undefined) outcome.error = result.error;
    try {
      config.onOutcome?.(outcome);
    } catch {
      log.warnOnce('callback', 'the callback option threw; ignored');
    }
    // The browser SDK's rules: a process has no ad blocker, so a collector that never answers is retried, never taken for blocked.
    const verdict = classifyResponse({ status: result.status, count: batch.length, unanswered: 0 });
    if (verdict === 'sent') {
      counts.sent += batch.length;
      attempt = 0;
      log.debug(`POST ${path}: ${result.status}, ${batch.length} events`);
      return true;
    }
    counts.failedRequests += 1;
    if (verdict === 'split') {
      // Too large for this collector: send halves from now on, starting with this batch, at once.
      // Never raised: a larger batch sent at the same time may be refused after a smaller one.
      byteLimit = Math.min(byteLimit, Math.max(1, Math.floor(charsOf(batch, batch.length) / 2)));
      requeue(batch);
      log.debug(`POST ${path}: 413 for ${batch.length} events, batch limit now ${byteLimit} bytes`);
      return true;
    }
    if (verdict === 'drop') {
      // A 4xx other than 408/429 will fail the same way again: drop rather than block the queue.
      counts.rejected += batch.length;
      attempt = 0;
      // Not debug only: a wrong applicationId (401/403) drops every event of the app, silently
      // unless someone thought to turn debug on. Once per status, so it is not a flood.
      const hint = result.status === 401 || result.status === 403 ? ' (check applicationId)' : '';
      log.warnOnce(`rejected ${result.status}`, `the collector refused events with HTTP ${result.status}${hint}; they were dropped`);
      log.debug(`POST ${path}: ${result.status}, ${batch.length} events rejected`);
      return true;
    }
    if (result.status === 0) {
      // A typo in the host or an untrusted certificate fails the same way for ever: say so once
      // per kind of failure (a code, never the address), not only in stats().
      const reason = result.error ?? 'no answer';
      log.warnOnce(`unreachable ${reason}`, `could not reach the collector (${reason}); events are kept and retried`);
    }
    requeue(batch);
    enforceBound();
    // Requests still under way finish; no new one starts before the delay (the collector said "not
    // now"). Batches sent together and failing together are one attempt, not several: four
    // refusals in a row would otherwise wait up to 8 s where one waits 1 s.
    if (retrying) return false;
    attempt += 1;
    const delay = backoffDelay(attempt, result.retryAfterMs, config.retryBaseDelay, config.retryMaxDelay, config.random);
    log.debug(`POST ${path}: ${result.status || result.error || 'no answer'}, retry ${attempt} in ${delay} ms`);
    startTimer(delay, true);
    return false;
  }

  /** Start one request with a batch from the front of the queue. */
  function sendBatch(): void {
    const batch = takeBatch();
    inFlightItems += batch.length;
    if (timer !== undefined && !retrying) clearTimer();
    const request: Promise<boolean> = send(path, `[${batch.join(',')}]`)
      .catch(() => ({ status: 0, error: 'send threw' }))
      .then((result) => settle(batch, result))
      .finally(() => {
        inFlight.delete(request);
        inFlightItems -= batch.length;
        schedule();
      });
    inFlight.add(request);
  }

  return {
    push(json) {
      const lighter = config.lighten && queuedChars + json.length > config.maxQueueChars ? config.lighten(json) : undefined;
      const item = lighter ?? json;
      queue.push(item);
      queuedChars += item.length;
      // A lighter item is let in over the character bound: dropping the oldest for it would lose a
      // whole call to keep a body. The item bound (maxQueueSize) still holds, and bounds what it adds.
      enforceBound(lighter === undefined);
      schedule();
    },
    async flush() {
      try {
        for (;;) {
          if (inFlight.size > 0) {
            // A batch that fails ends the flush: the collector just said "not now".
            const results = await Promise.all(inFlight);
            if (results.includes(false)) return;
            continue;
          }
          if (queue.length === 0) return;
          // flush() means "now": a scheduled batch or retry timer does not hold it back.
          clearTimer();
          while (queue.length > 0 && inFlight.size < maxInFlight()) sendBatch();
        }
      } catch {
        // Requests never reject; this only guards the promise flush() returns.
      }
    },
    stats() {
      return { queued: queue.length + inFlightItems, ...counts };
    },
  };
}
