import type { Log } from '../log.js';
import type { ResolvedOptions } from '../options.js';
import type { ListableStore } from '../storage/store.js';
import type { Kind } from '../wire.js';
import { createDispatcher } from './dispatcher.js';
import { listenToPage } from './lifecycle.js';
import { createOutbox, utf8Bytes } from './outbox.js';
import { createCounts, type DeliveryStats } from './stats.js';
import { createMicrotask } from './timer.js';
import { createTransport, type Answer } from './transport.js';

export type { DeliveryStats } from './stats.js';

/** An id in what was queued, and the id it becomes. */
export interface HeldIdReplacement {
  /** The anonymous id a page waiting for consent made. */
  id: string;
  /** The visitor's earlier anonymous id, read once consent is granted. */
  replacement: string;
}

/** The delivery engine, as the instance uses it. */
export interface Delivery {
  /** Queues one item. */
  push(kind: Kind, json: string): void;
  /** Sends everything now; settles when the outbox is empty or an attempt failed. */
  flush(): Promise<void>;
  stats(): DeliveryStats;
  /** Gives what was queued so far `replacement` wherever it has the id `id` (see HeldIdReplacement). */
  replaceHeld(ids: HeldIdReplacement): void;
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
  /**
   * The fetch that existed before capture wrapped it, so that our own requests are never captured.
   * Undefined where there is none (jsdom, where apps' Jest tests run): see `resume()`.
   */
  fetch: typeof fetch | undefined;
  now?: () => number;
}

/**
 * The delivery engine: one outbox (outbox.ts), kept through the page's life, and one dispatcher
 * (dispatcher.ts), which decides when its items leave. A batch leaves when `batchSize` items wait (and
 * then carries all that wait, up to 60 KB: fewer, fuller requests; within REQUEST_GAP_MS of the last
 * request only once 60 KB wait), when its oldest item has waited `batchMaxTime`, or at once without
 * batching; failures are retried with backoff; when the page hides or closes, everything waiting leaves
 * with keepalive requests that outlive the page. It starts paused, holding items in memory, until
 * `resume()` (consent) names where they persist; `dispose()` removes its listeners from the page.
 */
export function createDelivery({ options, log, fetch, now = Date.now }: DeliveryDeps): Delivery {
  const { counts: stats, drop } = createCounts(log);
  const outbox = createOutbox({ options, now, log, onDrop: drop });
  // Without fetch the dispatcher is never resumed, and so never posts.
  const post = fetch ? createTransport({ options, fetch }) : async (): Promise<Answer> => ({ status: 0, error: 'no fetch' });
  const dispatcher = createDispatcher({ options, log, outbox, counts: stats, drop, post, now });

  const adopt = (): void =>
    outbox.adopt((adopted) => {
      stats.adopted += adopted;
      // Due at once, as if flush() were called: a closed page's items may have waited their batchMaxTime
      // already, and a page that closes before it would send them again at its own close.
      if (adopted) dispatcher.hurry();
      else dispatcher.schedule();
    });

  /**
   * The page is hidden, or gone: everything leaves (see sendAll), and the queue is written now. What
   * stays is sent when a backoff ends, or by the next page.
   */
  const hide = (): void => {
    dispatcher.sendAll();
    outbox.save();
  };
  /**
   * Items queued after the page is gone (by the app's own pagehide listener, which runs after ours) wait
   * for no timer, which would never run again, nor for a visibilitychange, which a page hidden already
   * (a background tab closing) never gets: they leave as the page closes.
   */
  const hideAfterClose = createMicrotask(hide);

  const stopListening = listenToPage({
    online: dispatcher.tryAgain,
    hidden: hide,
    visible() {
      // Paused (the collector taken for blocked), it would hold what closed tabs left until it closes
      // itself: that is for the next page, or a tab that sends.
      if (!dispatcher.isPaused()) adopt();
    },
    pagehide() {
      outbox.close();
      hide();
    },
    restored() {
      outbox.reopen();
      dispatcher.tryAgain();
    },
  });

  return {
    push(kind: Kind, json: string): void {
      const bytes = utf8Bytes(json);
      if (bytes > options.maxOutboxBytes) return drop(1, 'too large');
      outbox.add({ kind, json, at: now(), bytes });
      stats.queued++;
      if (outbox.isClosed()) hideAfterClose();
      else dispatcher.schedule();
    },
    flush: dispatcher.flush,
    stats: (): DeliveryStats => ({ ...stats, inOutbox: outbox.items().length }),
    replaceHeld({ id, replacement }: HeldIdReplacement): void {
      // As a JSON string: a random id made by this page appears nowhere else in what it queued.
      outbox.replaceInItems(JSON.stringify(id), JSON.stringify(replacement));
    },
    resume(store: ListableStore | undefined): void {
      // Without fetch nothing can leave: items stay held in memory, as before consent, and no timer of
      // ours keeps running. Retried and saved with a heartbeat every 5 s, they made jest.runAllTimers()
      // run a day of timers (and drop them as too old), and jest.runAllTimersAsync() time out.
      if (!fetch) return;
      outbox.use(store);
      dispatcher.resume();
      adopt();
    },
    pause(purged: ListableStore | undefined): void {
      dispatcher.pause();
      outbox.purge(purged);
    },
    dispose(): void {
      stopListening();
      dispatcher.dispose();
      outbox.dispose();
    },
  };
}
