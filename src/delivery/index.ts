import type { Log } from '../log';
import type { ResolvedOptions } from '../options';
import type { ListableStore } from '../storage';
import { APPLICATION_ID_HEADER, batchPath, requestHeaders, type DeliveryOutcome, type Kind } from '../wire';
import { backoffDelay, isRetryable, parseRetryAfter } from './backoff';
import { createOutbox, type Item } from './outbox';

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
  /** Items picked up from a closed tab; some may have arrived already and reach the collector twice. */
  adopted: number;
  bytesSent: number;
  requests: number;
  inOutbox: number;
}

export interface DeliveryDeps {
  options: ResolvedOptions;
  log: Log;
  fetchImpl: typeof fetch | undefined;
  now?: () => number;
}

/** UTF-8 bytes of a batch's body: its items, the commas between them and the brackets. */
const bodyBytes = (batch: Item[]): number => batch.reduce((sum, item) => sum + item.bytes + 1, 1);

/**
 * The next request's items: the oldest waiting item and the waiting items of its kind after it,
 * at most `limit` of them and `MAX_BATCH_BYTES` of body (an item larger than that goes alone).
 */
export function nextBatch(items: Item[], limit: number): Item[] {
  const batch: Item[] = [];
  let bytes = 1;
  for (const item of items) {
    if (item.sending || item.kind != (batch[0] ?? item).kind) continue;
    bytes += item.bytes + 1;
    if (batch.length && (batch.length >= limit || bytes > MAX_BATCH_BYTES)) break;
    batch.push(item);
  }
  return batch;
}

/**
 * The delivery engine: one outbox, one timer, one request in flight.
 * A batch leaves when `batchSize` items wait (and then carries all that wait, up to 60 KB: fewer,
 * fuller requests), when its oldest item has waited `batchMaxTime`, or at once without batching;
 * failures are retried with backoff; when the page hides or closes, everything waiting leaves with
 * keepalive requests that outlive the page. It starts paused, holding items in memory, until
 * `resume()` (consent) names where they persist.
 */
export function createDelivery({ options, log, fetchImpl, now = Date.now }: DeliveryDeps) {
  const stats = { queued: 0, sent: 0, retried: 0, dropped: 0, adopted: 0, bytesSent: 0, requests: 0 };
  const outbox = createOutbox(options.applicationId, options.maxOutboxBytes, options.maxOutboxAge, log, stats, now);
  const headers = requestHeaders(options.applicationId);
  const maxItems = options.batchEnabled ? Infinity : 1;
  const sendThreshold = options.batchEnabled ? options.batchSize : 1;

  let paused = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerAt = 0;
  let inFlight = false;
  /** Items in requests not yet answered: with the queue's length, how many wait, without a pass over the queue per push. */
  let sendingCount = 0;
  let keepaliveBytes = 0;
  let retryAt = 0;
  let unanswered = 0;
  let blocked = false;
  let offline = false;
  /** After a 413, batches are halved until one gets through. */
  let batchLimit = maxItems;
  let flushWaiters: Array<() => void> = [];

  const settleFlush = (): void => {
    for (const resolve of flushWaiters.splice(0)) resolve();
  };

  /**
   * POSTs one body and reports what happened as a value, never as a throw. With `useBeacon`, the
   * browser queues a text/plain body (no CORS preflight, which could not finish while a page closes)
   * with the application id as a query parameter, since a beacon carries no headers; it only says
   * whether it took the beacon, so a queued beacon counts as delivered (202), and a refused one
   * goes by fetch.
   */
  const post = async (url: string, body: string, keepalive: boolean): Promise<[status: number, retryAfter?: string | null, error?: string]> => {
    try {
      if (options.useBeacon && navigator.sendBeacon?.(`${url}?${APPLICATION_ID_HEADER}=${encodeURIComponent(options.applicationId)}`, new Blob([body], { type: 'text/plain' })))
        return [202];
      const response = await fetchImpl!(url, { method: 'POST', headers, body, keepalive, credentials: 'omit' });
      return [response.status, response.headers.get('Retry-After')];
    } catch (error) {
      return [0, null, String(error)];
    }
  };

  const handle = (batch: Item[], kind: Kind, status: number, retryAfter: string | null | undefined, error: string | undefined): void => {
    const outcome: DeliveryOutcome = { status, kind, count: batch.length };
    if (error) outcome.error = error;
    log.debug(`sent ${batch.length} ${kind}: status ${status}`, error ?? '');
    try {
      options.callback?.(outcome);
    } catch {
      log.warn('the callback option threw');
    }
    unanswered = status ? 0 : unanswered + 1;
    for (const item of batch) item.sending = false;
    sendingCount -= batch.length;
    if (status > 199 && status < 300) {
      outbox.remove(batch);
      stats.sent += batch.length;
      retryAt = 0;
      batchLimit = maxItems;
    } else if (status == 413 && batch.length > 1) {
      batchLimit = Math.ceil(batch.length / 2);
    } else if (!isRetryable(status)) {
      // A poison batch must not block the queue behind it.
      outbox.remove(batch);
      outbox.drop(batch.length, status == 413 ? 'too large' : `refused with status ${status}`);
    } else {
      for (const item of batch) item.attempts++;
      outbox.saveSoon();
      stats.retried += batch.length;
      retryAt = now() + backoffDelay(Math.max(...batch.map((item) => item.attempts)), parseRetryAfter(retryAfter, now()));
      settleFlush();
      if (unanswered >= BLOCKED_AFTER) {
        blocked = true;
        log.warn('collector unreachable (blocked?): retrying on the next page');
      } else offline = !status && navigator.onLine === false;
    }
  };

  /** Every request goes through here, so accounting and outcome handling exist once. */
  const send = (batch: Item[], keepalive: boolean): Promise<void> => {
    const { kind } = batch[0];
    const bytes = bodyBytes(batch);
    for (const item of batch) item.sending = true;
    sendingCount += batch.length;
    if (keepalive) keepaliveBytes += bytes;
    stats.requests++;
    stats.bytesSent += bytes;
    return post(options.baseUrl + batchPath(kind), `[${batch.map((item) => item.json)}]`, keepalive).then(([status, retryAfter, error]) => {
      if (keepalive) keepaliveBytes -= bytes;
      handle(batch, kind, status, retryAfter, error);
    });
  };

  /**
   * Sends the next batch, one request at a time. When the page is hidden or closing (`closing`),
   * everything waiting leaves at once instead, in keepalive requests that outlive the page, as long
   * as they fit its 64 KB quota. Items stay in the outbox until answered; if no answer comes (the
   * page is gone), the next page load sends them again.
   */
  const pump = (closing?: boolean): void => {
    for (let batch; !paused && !blocked && (closing || !inFlight) && (batch = nextBatch(outbox.items, closing ? maxItems : batchLimit)).length; ) {
      const keepalive = keepaliveBytes + bodyBytes(batch) <= KEEPALIVE_QUOTA;
      if (closing && !keepalive) return;
      inFlight ||= !closing;
      void send(batch, keepalive).then(() => {
        inFlight &&= !!closing;
        schedule();
      });
    }
    schedule();
  };

  /** Decides when the next request leaves. Cheap: called on every push. */
  const schedule = (): void => {
    if (paused || inFlight || blocked || offline) return;
    const oldest = outbox.items.find((item) => !item.sending);
    if (!oldest) return settleFlush();
    const at = Math.max(flushWaiters.length || outbox.items.length - sendingCount >= sendThreshold ? 0 : oldest.queuedAt + options.batchMaxTime, retryAt);
    // Only ever brought forward, so many pushes never pile up timers.
    if (timer && timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => ((timer = undefined), pump()), at - now());
  };

  /**
   * Takes over what closed tabs and earlier page loads left behind. Under a Web Lock where the browser
   * has them, so two tabs opening at once do not both adopt (and send) the same items; elsewhere the
   * outbox's lease keeps living tabs' queues apart.
   */
  const adopt = (): void => {
    const run = (): unknown => !paused && outbox.adopt() && schedule();
    const locks = navigator.locks;
    if (!locks) return void run();
    locks.request(`usertrail:v1:adopt:${options.applicationId}`, { ifAvailable: true }, (lock) => lock && run()).catch(run);
  };

  addEventListener('online', () => {
    offline = false;
    schedule();
  });
  addEventListener('pagehide', () => {
    pump(true);
    outbox.close();
  });
  addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    outbox.reopen();
    schedule();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      pump(true);
      outbox.save();
    } else adopt();
  });

  return {
    push(kind: Kind, id: string, json: string): void {
      outbox.push(kind, id, json);
      schedule();
    },

    /** Sends everything now; settles when the outbox is empty or an attempt failed. */
    flush: (): Promise<void> =>
      new Promise<void>((resolve) => {
        if (paused || blocked || !outbox.items.length) return resolve();
        flushWaiters.push(resolve);
        retryAt = 0;
        schedule();
      }),

    stats: (): DeliveryStats => ({ ...stats, inOutbox: outbox.items.length }),

    /** Starts persisting and sending (consent granted), beginning with what was held so far. */
    resume(store: ListableStore | undefined): void {
      paused = false;
      outbox.attach(store);
      adopt();
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
