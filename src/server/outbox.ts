/**
 * The delivery queue: batches of events POSTed off the request path, one batch in flight at a time,
 * retried with backoff, bounded in memory. It knows nothing of HTTP servers or events: it gets a
 * `send` function and JSON strings, so it is tested against any server.
 */
import { backoffDelay, isRetryable } from '../delivery/backoff.js';
import type { Log } from './log.js';
import type { Send } from './transport.js';
import type { DeliveryOutcome, MoesifStats } from './types.js';

export interface OutboxConfig {
  send: Send;
  /** The collector path of one batch, e.g. /v1/events/batch. */
  path: string;
  batchSize: number;
  /** Byte limit of one request body; a single larger item still goes, alone. */
  maxBatchBytes: number;
  batchMaxTime: number;
  maxQueueSize: number;
  /** Characters of JSON kept in the queue: the memory bound when events carry large bodies. */
  maxQueueChars: number;
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

const ok = (status: number): boolean => status >= 200 && status < 300;

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
  let inFlight: Promise<boolean> | undefined;
  let inFlightCount = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // While a retry is scheduled, new items do not trigger sends: the collector asked us to wait.
  let retrying = false;
  // Consecutive failed requests; drives the backoff and resets on any success.
  let attempt = 0;
  // Lowered when the collector answers 413 to a batch of several items (its limit is below ours).
  let byteLimit = config.maxBatchBytes;
  const counts = { sent: 0, dropped: 0, rejected: 0, failedRequests: 0 };

  /** The bound, in items and in characters: drop the oldest, which are at the front, and count them. */
  function enforceBound(): void {
    let over = Math.max(0, queue.length - maxQueueSize);
    let remaining = queuedChars - charsOf(queue, over);
    while (over < queue.length && remaining > config.maxQueueChars) {
      remaining -= (queue[over] as string).length;
      over += 1;
    }
    if (over <= 0) return;
    queuedChars = remaining;
    queue.splice(0, over);
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
      void sendNext();
    }, delay);
    // Delivery must never be the reason the app's process stays up; flush() is for graceful shutdown.
    timer.unref?.();
  }

  /** Decide what happens next after a push or a finished request. */
  function schedule(): void {
    if (inFlight || retrying || queue.length === 0) return;
    if (queue.length >= batchSize) void sendNext();
    else if (timer === undefined) startTimer(batchMaxTime, false);
  }

  /** Up to batchSize items from the front, within byteLimit (at least one item). */
  function takeBatch(): string[] {
    let count = 0;
    let bytes = 2;
    while (count < queue.length && count < batchSize) {
      const size = Buffer.byteLength(queue[count] as string, 'utf8') + 1;
      if (count > 0 && bytes + size > byteLimit) break;
      bytes += size;
      count += 1;
    }
    const batch = queue.splice(0, count);
    queuedChars -= charsOf(batch, batch.length);
    return batch;
  }

  /** Send one batch. Resolves true when the collector took it (or refused it for good). */
  function sendNext(): Promise<boolean> {
    if (inFlight) return inFlight;
    if (queue.length === 0) return Promise.resolve(true);
    clearTimer();
    const batch = takeBatch();
    inFlightCount = batch.length;
    const current = send(path, `[${batch.join(',')}]`)
      .catch((): { status: number; retryAfterMs?: number; error?: string } => ({ status: 0, error: 'send threw' }))
      .then((result) => {
        const outcome: DeliveryOutcome = { status: result.status, kind: 'events', count: batch.length };
        if (result.error !== undefined) outcome.error = result.error;
        try {
          config.onOutcome?.(outcome);
        } catch {
          log.warnOnce('callback', 'the callback option threw; ignored');
        }
        if (ok(result.status)) {
          counts.sent += batch.length;
          attempt = 0;
          log.debug(`POST ${path}: ${result.status}, ${batch.length} events`);
          return true;
        }
        counts.failedRequests += 1;
        if (result.status === 413 && batch.length > 1) {
          // Too large for this collector: send halves from now on, starting with this batch, at once.
          byteLimit = Math.max(1, Math.floor(batch.reduce((sum, item) => sum + item.length, 0) / 2));
          requeue(batch);
          log.debug(`POST ${path}: 413 for ${batch.length} events, batch limit now ${byteLimit} bytes`);
          return true;
        }
        if (!isRetryable(result.status)) {
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
        attempt += 1;
        requeue(batch);
        enforceBound();
        const delay = backoffDelay(attempt, result.retryAfterMs, config.retryBaseDelay, config.retryMaxDelay, config.random);
        log.debug(`POST ${path}: ${result.status || result.error || 'no answer'}, retry ${attempt} in ${delay} ms`);
        startTimer(delay, true);
        return false;
      })
      .finally(() => {
        inFlight = undefined;
        inFlightCount = 0;
        schedule();
      });
    inFlight = current;
    return current;
  }

  return {
    push(json) {
      queue.push(json);
      queuedChars += json.length;
      enforceBound();
      schedule();
    },
    async flush() {
      try {
        // A batch already in flight that fails ends the flush: the collector just said "not now".
        if (inFlight && !(await inFlight)) return;
        while (queue.length > 0) {
          // flush() means "now": a scheduled batch or retry timer does not hold it back.
          clearTimer();
          const delivered = await sendNext();
          if (!delivered) return;
        }
      } catch {
        // sendNext never rejects; this only guards the promise flush() returns.
      }
    },
    stats() {
      return { queued: queue.length + inFlightCount, ...counts };
    },
  };
}
