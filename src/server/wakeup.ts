/**
 * The outbox's one timer: either a batch waiting up to batchMaxTime for more items, or the backoff
 * before a retry. While a retry waits, no new request leaves: the collector said "not now".
 */
export interface WakeupDeps {
  /** Runs when the wait is over. */
  onWake: () => void;
}

export function createWakeup({ onWake }: WakeupDeps) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let backingOff = false;

  function cancel(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    backingOff = false;
  }

  function start(delay: number, isRetry: boolean): void {
    cancel();
    backingOff = isRetry;
    timer = setTimeout(() => {
      timer = undefined;
      backingOff = false;
      onWake();
    }, delay);
    // Delivery must never be the reason the app's process stays up; flush() is for graceful shutdown.
    timer.unref?.();
  }

  return {
    /** Wakes after `delay` to send what waits, however little (replaces any wait under way). */
    waitForBatch: (delay: number): void => start(delay, false),
    /** Wakes after `delay` to retry; until then nothing new leaves (replaces any wait under way). */
    waitToRetry: (delay: number): void => start(delay, true),
    /** A batch left before its wait was over: the wait is not needed any more (a backoff still holds). */
    batchLeft(): void {
      if (timer !== undefined && !backingOff) cancel();
    },
    /** No wait at all (flush() means now). */
    cancel,
    isWaiting: (): boolean => timer !== undefined,
    isBackingOff: (): boolean => backingOff,
  };
}
