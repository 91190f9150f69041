import type { Log } from '../log.js';
import type { ResolvedOptions } from '../options.js';
import type { ListableStore } from '../storage/store.js';
import type { DeliveryOutcome, Kind } from '../wire.js';
import { fillRequest } from './batch.js';
import { createCollectorHealth } from './health.js';
import { listenToPage } from './lifecycle.js';
import { createOutbox, utf8Bytes, type Item } from './outbox.js';
import { createSender } from './sender.js';
import { createCounts, type DeliveryStats } from './stats.js';
import { createTimer } from './timer.js';
import { createTransport, type Answer } from './transport.js';

export type { DeliveryStats } from './stats.js';

/** The delivery engine, as the instance uses it. */
export interface Delivery {
  /** Queues one item. */
  push(kind: Kind, json: string): void;
  /** Sends everything now; settles when the outbox is empty or an attempt failed. */
  flush(): Promise<void>;
  stats(): DeliveryStats;
  /** Starts persisting and sending (consent granted), beginning with what was held so far. */
  resume(store: ListableStore | undefined): void;
  /** Sends nothing and forgets everything queued, here and in `purged` (consent revoked). */
  pause(purged: ListableStore | undefined): void;
  /** Removes the engine's listeners from the page and stops its timers. */
  dispose(): void;
}

export interface DeliveryDeps {
  options: ResolvedOptions;
  log: Log;
  /** The fetch that existed before capture wrapped it, so that our own requests are never captured. */
  fetch: typeof fetch;
  now?: () => number;
}

/**
 * A full batch leaves at once, unless a request left less than this long ago: then it leaves when the
 * gap is over, carrying what arrived meanwhile, or at once if a whole request's worth (60 KB) waits.
 * Each request costs the page about a millisecond of main-thread time (Chromium, issue 18), so a page
 * making hundreds of API calls a second sends a few full requests a second, not dozens of small ones.
 */
const REQUEST_GAP_MS = 250;

/**
 * Calls the `callback` option as moesif calls it, with nothing first when the request succeeded (so
 * that an `if (error)` callback stays quiet), and the outcome second.
 */
function report({ options, log }: Pick<DeliveryDeps, 'options' | 'log'>, batch: Item[], { status, error }: Answer): void {
  const { kind } = batch[0];
  const outcome: DeliveryOutcome = { status, kind, count: batch.length };
  if (error != null) outcome.error = error;
  log.debug('sent', kind, status, outcome);
  try {
    options.callback?.(status >= 200 && status < 300 ? undefined : outcome, outcome);
  } catch {
    log.warn('callback option threw');
  }
}

/**
 * The delivery engine: one outbox (outbox.ts), one send timer, one request in flight.
 * A batch leaves when `batchSize` items wait (and then carries all that wait, up to 60 KB: fewer,
 * fuller requests; within REQUEST_GAP_MS of the last request only once 60 KB wait), when its oldest
 * item has waited `batchMaxTime`, or at once without batching;
 * failures are retried with backoff; when the page hides or closes, everything waiting leaves with
 * keepalive requests that outlive the page. It starts paused, holding items in memory, until
 * `resume()` (consent) names where they persist; `dispose()` removes its listeners from the page.
 */
export function createDelivery({ options, log, fetch, now = Date.now }: DeliveryDeps): Delivery {
  const { counts: stats, drop } = createCounts(log);
  const outbox = createOutbox({ options, now, log, onDrop: drop });
  const health = createCollectorHealth({ now, maxItems: options.batchEnabled ? Infinity : 1 });
  // Nothing is sent: until consent (`resume()`), after it is revoked, and for the rest of the page view
  // once the collector looks blocked (items are still queued and saved then, for the next page).
  let paused = true;
  const flushWaiters: Array<() => void> = [];
  const settleFlush = (): void => {
    for (const resolve of flushWaiters.splice(0)) resolve();
  };

  /** Acts on how a batch's request settled (see classify.ts), then decides what is sent next. */
  const settled = (batch: Item[], answer: Answer): void => {
    report({ options, log }, batch, answer);
    const verdict = health.record(answer, batch.length);
    if (verdict == 'sent' || verdict == 'drop') outbox.remove(batch);
    if (verdict == 'sent') stats.sent += batch.length;
    if (verdict == 'drop') drop(batch.length, answer.status == 413 ? 'too large' : `refused with status ${answer.status}`);
    if (verdict == 'retry' || verdict == 'blocked') {
      stats.retried += batch.length;
      settleFlush();
    }
    if (verdict == 'blocked') {
      paused = true;
      log.warn('collector unreachable (blocked?): retried on the next page');
    }
    schedule();
  };
  const sender = createSender({ outbox, post: createTransport({ options, fetch }), counts: stats, onSettled: settled, now });

  /** Sends what waits (everything, when the page is `closing`; see sender.ts). */
  const pump = (closing = false): void => {
    if (!paused) sender.sendWaiting(health.batchLimit(), closing);
    schedule();
  };
  const pumpTimer = createTimer(pump, now);

  /** Decides when the next request leaves. Cheap: called on every push. A request in flight calls it when answered. */
  const schedule = (): void => {
    if (paused || sender.inFlight() || health.isOffline()) return;
    const items = outbox.items();
    if (!items.length) return settleFlush();
    pumpTimer.runBy(Math.max(nextRequestAt(items), health.retryAt()));
  };
  /**
   * When the next request is due, backoff aside (see REQUEST_GAP_MS). A time "in the future" (the clock
   * was set back since, corrected by the system) counts as now, or the request would wait for the clock.
   */
  const nextRequestAt = (items: Item[]): number => {
    if (flushWaiters.length || !options.batchEnabled) return 0;
    const notAfterNow = (time: number): number => Math.min(time, now());
    if (items.length < options.batchSize) return notAfterNow(items[0].at) + options.batchMaxTime;
    return fillRequest(items) ? 0 : notAfterNow(sender.lastSentAt()) + REQUEST_GAP_MS;
  };

  const adopt = (): void =>
    outbox.adopt((adopted) => {
      stats.adopted += adopted;
      // Due at once, as if flush() were called: a closed page's items may have waited their batchMaxTime
      // already, and a page that closes before it would send them again at its own close.
      if (adopted) flushWaiters.push(() => {});
      schedule();
    });

  /**
   * The page is hidden, or gone: everything leaves, and the queue is written now. Not during a backoff
   * (a server may have asked for it), nor offline, where a request fails at once yet is written as in
   * flight, and so counted against its items as if its page had closed before the answer (GIVE_UP_AFTER
   * in outbox.ts): three pages read offline dropped them. The written queue is sent when the wait ends,
   * or by the next page.
   */
  const hide = (): void => {
    if (health.retryAt() <= now() && navigator.onLine) pump(true);
    outbox.save();
  };
  /**
   * Items queued after the page is gone (by the app's own pagehide listener, which runs after ours) wait
   * for no timer, which would never run again, nor for a visibilitychange, which a page hidden already
   * (a background tab closing) never gets: they leave as the page closes. Once per burst: a microtask
   * still runs before the page unloads.
   */
  let hidePending = false;
  const hideAfterClose = (): void => {
    if (hidePending) return;
    hidePending = true;
    queueMicrotask(() => {
      hidePending = false;
      hide();
    });
  };

  /**
   * The browser is back online, or a new page view began (back from the back/forward cache, perhaps
   * after another page delivered): a collector taken for blocked gets another try. Never restarts a
   * revoked delivery: pause() forgets the unanswered requests.
   */
  const tryAgain = (): void => {
    if (health.online()) paused = false;
    schedule();
  };

  const stopListening = listenToPage({
    online: tryAgain,
    hidden: hide,
    visible() {
      // Paused (the collector taken for blocked), it would hold what closed tabs left until it closes
      // itself: that is for the next page, or a tab that sends.
      if (!paused) adopt();
    },
    pagehide() {
      outbox.close();
      hide();
    },
    restored() {
      outbox.reopen();
      tryAgain();
    },
  });

  return {
    push(kind: Kind, json: string): void {
      const bytes = utf8Bytes(json);
      if (bytes > options.maxOutboxBytes) return drop(1, 'too large');
      outbox.add({ kind, json, at: now(), bytes });
      stats.queued++;
      if (outbox.isClosed()) hideAfterClose();
      else schedule();
    },
    flush: (): Promise<void> =>
      new Promise<void>((resolve) => {
        // Offline, nothing is tried until the `online` event: the attempt has failed already.
        if (paused || health.isOffline() || !outbox.items().length) return resolve();
        flushWaiters.push(resolve);
        health.skipBackoff();
        schedule();
      }),
    stats: (): DeliveryStats => ({ ...stats, inOutbox: outbox.items().length }),
    resume(store: ListableStore | undefined): void {
      paused = false;
      outbox.use(store);
      adopt();
      schedule();
    },
    pause(purged: ListableStore | undefined): void {
      paused = true;
      health.forgetUnanswered();
      outbox.purge(purged);
      // Nothing more will be sent: an app awaiting flush() (before it navigates, say) goes on.
      settleFlush();
    },
    dispose(): void {
      stopListening();
      pumpTimer.cancel();
      outbox.dispose();
      settleFlush();
    },
  };
}
