/**
 * One timer that runs `run` at a time given to it, unless it will already run sooner: only ever
 * brought forward, so that calls on every push never pile up timers, nor reset one (which costs
 * more than a push).
 */
export function createTimer(run: () => void, now: () => number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let due = 0;
  return {
    /** Runs `run` at `at` (ms since epoch) at the latest. */
    runBy(at: number): void {
      if (timer && due <= at) return;
      clearTimeout(timer);
      due = at;
      timer = setTimeout(() => {
        timer = undefined;
        run();
      }, at - now());
    },
    cancel(): void {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * `run` in a microtask, once for all the calls made before it runs: a burst of items pushed in one task
 * is handled together, and still before the page unloads.
 */
export function createMicrotask(run: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      run();
    });
  };
}
