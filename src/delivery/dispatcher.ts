import type { Log } from '../log.js';
import type { ResolvedOptions } from '../options.js';
import type { DeliveryOutcome } from '../wire.js';
import { nextRequestAt } from './batch.js';
import { BLOCKED_RETRY_MS } from './classify.js';
import { createCollectorHealth } from './health.js';
import type { Item, Outbox } from './outbox.js';
import { createSender } from './sender.js';
import type { Counts } from './stats.js';
import { createTimer } from './timer.js';
import type { Answer } from './transport.js';

export interface DispatcherDeps {
  options: ResolvedOptions;
  log: Log;
  outbox: Outbox;
  counts: Counts;
  /** Counts items lost and says why (see stats.ts). */
  drop: (count: number, reason: string) => void;
  /** POSTs one batch body (see transport.ts). */
  post: (kind: Item['kind'], body: string, keepalive: boolean) => Promise<Answer>;
  now: () => number;
}

/**
 * Calls the `callback` option as moesif calls it, with nothing first when the request succeeded (so
 * that an `if (error)` callback stays quiet), and the outcome second.
 */
function report({ options, log }: Pick<DispatcherDeps, 'options' | 'log'>, batch: Item[], { status, error }: Answer): void {
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
 * When the outbox's items leave, and what their answers do: one send timer and one request in flight
 * (everything at once when the page closes), backoff after failures, and the callers of flush()
 * waiting for the outbox to empty or an attempt to fail. It starts paused: nothing is sent until
 * consent (`resume()`), after it is revoked, and once the collector looks blocked, until one request
 * tries again BLOCKED_RETRY_MS later (items are still queued and saved then, for the next page).
 */
export function createDispatcher({ options, log, outbox, counts, drop, post, now }: DispatcherDeps) {
  const health = createCollectorHealth({ now, maxItems: options.batchEnabled ? Infinity : 1 });
  /** Consent is granted (`resume()`), and not revoked since. */
  let consented = false;
  /**
   * The collector is taken for blocked: nothing leaves until BLOCKED_RETRY_MS later, the `online` event,
   * or an answer to a request of the same burst (hiding the tab sends them all at once).
   */
  let blocked = false;
  const paused = (): boolean => !consented || blocked;
  /** The one request a page that took the collector for blocked tries after BLOCKED_RETRY_MS. */
  let blockedRetry: ReturnType<typeof setTimeout> | undefined;
  const flushWaiters: Array<() => void> = [];
  const settleFlushes = (): void => {
    for (const resolve of flushWaiters.splice(0)) resolve();
  };

  /** Acts on how a batch's request settled (see classify.ts), then decides what is sent next. */
  const settled = (batch: Item[], answer: Answer): void => {
    report({ options, log }, batch, answer);
    const verdict = health.record(answer, batch.length);
    // Each item counted once: those the outbox's limits dropped while under way were counted then.
    const queued = verdict == 'sent' || verdict == 'drop' ? outbox.remove(batch) : 0;
    if (verdict == 'sent') counts.sent += queued;
    if (verdict == 'drop') drop(queued, answer.status == 413 ? 'too large' : `refused with status ${answer.status}`);
    if (verdict == 'retry' || verdict == 'blocked') {
      counts.retried += batch.length;
      settleFlushes();
    }
    // Any other verdict, even on a request that left before the collector was taken for blocked (hiding
    // the tab sends everything at once), means fewer than BLOCKED_AFTER requests in a row went unanswered.
    blocked = verdict == 'blocked';
    if (verdict == 'blocked') {
      log.warn('collector unreachable (blocked?): tried again in 5 minutes, and by the next page');
      clearTimeout(blockedRetry);
      blockedRetry = setTimeout(() => {
        blocked = false;
        schedule();
      }, BLOCKED_RETRY_MS);
    }
    schedule();
  };
  const sender = createSender({ outbox, post, counts, onSettled: settled, now });

  /** Sends what waits (everything, when the page is `hidden` or gone; see sender.ts). */
  const send = (hidden = false): void => {
    if (!paused()) sender.sendWaiting(health.batchLimit(), hidden);
    schedule();
  };
  const timer = createTimer(send, now);

  /** Decides when the next request leaves. Cheap: called on every push. A request in flight calls it when answered. */
  const schedule = (): void => {
    if (paused() || sender.inFlight() || health.isOffline()) return;
    const items = outbox.items();
    if (!items.length) return settleFlushes();
    const timing = { options, urgent: flushWaiters.length > 0, lastSentAt: sender.lastSentAt(), now: now() };
    timer.runBy(Math.max(nextRequestAt(items, timing), health.retryAt()));
  };

  return {
    schedule,
    /**
     * The page is hidden, or gone: everything waiting leaves now. Not during a backoff (a server may
     * have asked for it), nor offline, where a request fails at once yet is written as in flight, and so
     * counted against its items as if its page had closed before the answer (GIVE_UP_AFTER in
     * outbox.ts): three pages read offline dropped them.
     */
    sendAll(): void {
      if (health.retryAt() <= now() && navigator.onLine) send(true);
    },
    /** Makes what waits due at once, as flush() does, with no caller waiting (items adopted from a closed tab). */
    hurry(): void {
      flushWaiters.push(() => {});
      schedule();
    },
    flush: (): Promise<void> =>
      new Promise<void>((resolve) => {
        // Offline, nothing is tried until the `online` event: the attempt has failed already.
        if (paused() || health.isOffline() || !outbox.items().length) return resolve();
        flushWaiters.push(resolve);
        health.skipBackoff();
        schedule();
      }),
    isPaused: paused,
    /** Sending may start (consent granted). */
    resume(): void {
      consented = true;
      blocked = false;
      schedule();
    },
    /** Nothing more is sent (consent revoked): an app awaiting flush() (before it navigates, say) goes on. */
    pause(): void {
      consented = false;
      health.forgetUnanswered();
      settleFlushes();
    },
    /**
     * The browser is back online, or a new page view began (back from the back/forward cache, perhaps
     * after another page delivered): a collector taken for blocked gets another try. Never restarts a
     * revoked delivery.
     */
    tryAgain(): void {
      if (health.online()) blocked = false;
      schedule();
    },
    dispose(): void {
      timer.cancel();
      clearTimeout(blockedRetry);
      settleFlushes();
    },
  };
}
