import type { Log } from '../log';
import type { ResolvedOptions } from '../options';
import type { ListableStore } from '../storage';
import { batchPath, type DeliveryOutcome, type Kind } from '../wire';
import { backoffDelay, isRetryable, parseRetryAfter } from './backoff';
import { createOutbox, type Item } from './outbox';
import { beaconTransport, fetchTransport, type Send } from './transport';

/** Largest request body: under the browser's 64 KB keepalive quota, so any batch can outlive its page. */
export const MAX_BATCH_BYTES = 60_000;
const KEEPALIVE_QUOTA = 65_536;
/** Requests that get no answer at all this many times in a row are taken as blocked (an ad blocker). */
const BLOCKED_AFTER = 3;

export interface DeliveryStats {
  queued: number;
  sent: number;
  retried: number;
  dropped: number;
  adopted: number;
  bytesSent: number;
  requests: number;
  inOutbox: number;
}

export interface DeliveryDeps {
  options: ResolvedOptions;
  /** Where the outbox persists; undefined to hold it in memory, unsent, until `resume()` (consent). */
  store: ListableStore | undefined;
  paused: boolean;
  log: Log;
  fetchImpl: typeof fetch | undefined;
  now?: () => number;
}

/** Splits items into request-sized groups: at most `maxCount` items and `maxBytes` of JSON each. */
export function chunk(items: Item[], maxCount: number, maxBytes: number): Item[][] {
  const chunks: Item[][] = [];
  let current: Item[] = [];
  let bytes = 2;
  for (const item of items) {
    if (current.length && (current.length >= maxCount || bytes + item.bytes + 1 > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 2;
    }
    current.push(item);
    bytes += item.bytes + 1;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

const bodyOf = (batch: Item[]): string => `[${batch.map((item) => item.json).join(',')}]`;
const bytesOf = (batch: Item[]): number => batch.reduce((sum, item) => sum + item.bytes + 1, 1);

/**
 * The delivery engine: one outbox, one timer, one request in flight.
 * A batch leaves when it is full, when its oldest item has waited `batchMaxTime`, or at once without
 * batching; failures are retried with backoff; when the page hides or closes, everything waiting
 * leaves with keepalive requests that outlive the page.
 */
export function createDelivery({ options, store, paused, log, fetchImpl, now = Date.now }: DeliveryDeps) {
  const outbox = createOutbox({
    store,
    applicationId: options.applicationId,
    maxBytes: options.maxOutboxBytes,
    maxAge: options.maxOutboxAge,
    log,
    now,
  });
  const viaFetch = fetchTransport(fetchImpl, options.applicationId);
  const send: Send = options.useBeacon ? beaconTransport(options.applicationId, viaFetch) : viaFetch;
  const stats = { sent: 0, retried: 0, bytesSent: 0, requests: 0 };
  // A batch leaves once `batchSize` items wait, and then carries everything waiting, up to 60 KB:
  // fewer, fuller requests than a fixed count per request. Without batching, one item per request.
  const sendThreshold = options.batchEnabled ? options.batchSize : 1;
  const maxBatchItems = options.batchEnabled ? Infinity : 1;

  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = Infinity;
  let inFlight = false;
  let keepaliveBytesInFlight = 0;
  let retryAt = 0;
  let unanswered = 0;
  let blocked = false;
  let waitingForOnline = false;
    /** After a 413, batches are halved until one gets through. */
  let batchLimit = maxBatchItems;
  let flushWaiters: Array<() => void> = [];
  let flushing = false;

  const settleFlush = (): void => {
    const waiters = flushWaiters;
    flushWaiters = [];
    flushing = false;
    for (const resolve of waiters) resolve();
  };

  const report = (outcome: DeliveryOutcome): void => {
    log.debug(`${outcome.kind}: ${outcome.count} item(s), status ${outcome.status}${outcome.error ? ` (${outcome.error})` : ''}`);
    if (!options.callback) return;
    try {
      options.callback(outcome);
    } catch {
      log.warn('the callback option threw.');
    }
  };

  const setTimer = (delay: number): void => {
    const at = now() + delay;
    if (timer !== undefined && timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      sendNext();
    }, delay);
  };

  /** Decides when the next request leaves. Cheap: called on every push. */
  const schedule = (): void => {
    if (paused || inFlight || blocked || waitingForOnline) return;
    const waiting = outbox.waitingCount();
    if (!waiting) {
      if (flushing) settleFlush();
      return;
    }
    const oldest = outbox.oldestWaitingSince() ?? now();
    const ready = flushing || waiting >= sendThreshold ? now() : oldest + options.batchMaxTime;
    setTimer(Math.max(0, ready, retryAt) - now());
  };

  const handle = (batch: Item[], kind: Kind, status: number, retryAfter: string | null | undefined, error: string | undefined): void => {
    report({ status, kind, count: batch.length, ...(error ? { error } : {}) });
    unanswered = status === 0 ? unanswered + 1 : 0;
    if (status >= 200 && status < 300) {
      outbox.remove(batch);
      stats.sent += batch.length;
      retryAt = 0;
      batchLimit = maxBatchItems;
      return;
    }
    if (status === 413) {
      if (batch.length === 1) {
        outbox.remove(batch);
        outbox.drop(1, 'too large');
      } else {
        outbox.retry(batch);
        batchLimit = Math.max(1, Math.floor(batch.length / 2));
      }
      return;
    }
    if (!isRetryable(status)) {
      // A poison batch must not block the queue behind it.
      outbox.remove(batch);
      outbox.drop(batch.length, `refused with status ${status}`);
      return;
    }
    outbox.retry(batch);
    stats.retried += batch.length;
    // Attempts are counted per item and saved with it, so the backoff survives a reload.
    const attempts = Math.max(...batch.map((item) => item.attempts));
    retryAt = now() + backoffDelay(attempts, parseRetryAfter(retryAfter, now()));
    if (flushing) settleFlush();
    if (unanswered >= BLOCKED_AFTER) {
      blocked = true;
      log.warn('the collector is unreachable (blocked?): retrying next page view.');
    } else if (status === 0 && navigator.onLine === false) {
      waitingForOnline = true;
    }
  };

  /** Every request goes through here, so accounting and outcome handling exist once. */
  const sendBatch = (kind: Kind, batch: Item[], keepalive: boolean): Promise<void> => {
    const bytes = bytesOf(batch);
    outbox.begin(batch);
    if (keepalive) keepaliveBytesInFlight += bytes;
    stats.requests++;
    stats.bytesSent += bytes;
    return send({ url: options.baseUrl + batchPath(kind), body: bodyOf(batch), keepalive }).then(({ status, retryAfter, error }) => {
      if (keepalive) keepaliveBytesInFlight -= bytes;
      handle(batch, kind, status, retryAfter, error);
    });
  };

  const byKind = (items: Item[], kind: Kind): Item[] => items.filter((item) => item.kind === kind);

  const sendNext = (): void => {
    if (paused || inFlight || blocked) return;
    const waiting = outbox.waiting();
    if (!waiting.length) return schedule();
    const kind = waiting[0].kind;
    const [batch] = chunk(byKind(waiting, kind), Math.min(batchLimit, maxBatchItems), MAX_BATCH_BYTES);
    inFlight = true;
    void sendBatch(kind, batch, keepaliveBytesInFlight + bytesOf(batch) <= KEEPALIVE_QUOTA).then(() => {
      inFlight = false;
      schedule();
    });
  };

  /**
   * The page is hidden or closing: everything waiting leaves now, in keepalive requests that outlive
   * the page, as long as they fit its 64 KB quota. Items stay in the outbox until answered; if no
   * answer comes (the page is gone), the next page load sends them again.
   */
  const sendAllNow = (): void => {
    if (paused || blocked) return;
    const waiting = outbox.waiting();
    for (const kind of new Set(waiting.map((item) => item.kind))) {
      for (const batch of chunk(byKind(waiting, kind), maxBatchItems, MAX_BATCH_BYTES)) {
        if (keepaliveBytesInFlight + bytesOf(batch) > KEEPALIVE_QUOTA) return;
        void sendBatch(kind, batch, true).then(schedule);
      }
    }
  };

  const onOnline = (): void => {
    waitingForOnline = false;
    schedule();
  };
  /**
   * Takes over what closed tabs and earlier page loads left behind. Under a Web Lock where the browser
   * has them, so two tabs opening at once do not both adopt (and send) the same items; elsewhere the
   * outbox's lease keeps living tabs' queues apart.
   */
  const adoptOrphans = (): void => {
    const adopt = (): void => {
      if (!paused && outbox.adoptOrphans()) schedule();
    };
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    if (!locks) return adopt();
    locks.request(`usertrail:v1:adopt:${options.applicationId}`, { ifAvailable: true }, (lock) => lock && adopt()).catch(adopt);
  };
  const onVisibility = (): void => {
    if (document.visibilityState === 'hidden') {
      sendAllNow();
      outbox.save();
    } else adoptOrphans();
  };
  const onPageHide = (): void => {
    sendAllNow();
    outbox.close();
  };
  const onPageShow = (event: PageTransitionEvent): void => {
    if (!event.persisted) return;
    outbox.reopen();
    schedule();
  };

  addEventListener('online', onOnline);
  addEventListener('pagehide', onPageHide);
  addEventListener('pageshow', onPageShow);
  document.addEventListener('visibilitychange', onVisibility);

  adoptOrphans();

  return {
    push(kind: Kind, id: string, json: string): void {
      outbox.push(kind, id, json);
      schedule();
    },

    /** Sends everything now; settles when the outbox is empty or an attempt failed. */
    flush(): Promise<void> {
      if (paused || blocked || (!outbox.waitingCount() && !inFlight)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        flushWaiters.push(resolve);
        flushing = true;
        retryAt = 0;
        schedule();
      });
    },

    stats(): DeliveryStats {
      const { queued, dropped, adopted, inOutbox } = outbox.stats();
      return { queued, dropped, adopted, inOutbox, ...stats };
    },

    /** Starts persisting and sending (consent granted), beginning with what was held so far. */
    resume(next: ListableStore | undefined): void {
      paused = false;
      outbox.attach(next);
      adoptOrphans();
      schedule();
    },

    /** Sends nothing and forgets everything queued, in memory and in storage (consent revoked). */
    pause(): void {
      paused = true;
      outbox.clear();
      outbox.attach(undefined);
    },
  };
}

export type Delivery = ReturnType<typeof createDelivery>;
