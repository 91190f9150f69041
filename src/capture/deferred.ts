import type { Log } from '../log.js';

/**
 * How long capture's deferred work waits before it asks for idle time, so that the calls of a busy
 * moment share one idle callback: each callback cost a captured call more than all of its own work
 * (issue 18: 248 against 121 µs of main-thread CPU per fetch, in a burst of calls).
 */
const GATHER_MS = 200;
/** How long the page may stay busy before capture's deferred work runs anyway. */
const IDLE_TIMEOUT_MS = 1000;
/** How long one turn of deferred work may run when the page gives no idle time. */
const SLICE_MS = 4;

type Job = () => void;

/** Capture's work off the app's call path (see createDeferredWork). */
export interface DeferredWork {
  /** Runs `job` later, off the call path; at once on a hidden page. */
  later(job: Job): void;
  /** Keeps `job` to run when the page is left, unless `forget` comes first: an event whose bodies are still being read. */
  keepForLeave(job: Job): void;
  /** Drops a job kept for leaving: it has run. */
  forget(job: Job): void;
  /** Runs every job waiting: the page was hidden, and may not live to be idle. */
  runWaiting(): void;
  /** Runs every job waiting, and those kept for leaving: the page is being left. */
  leave(): void;
}

/**
 * Capture's work off the app's call path (issue 18): gathered for GATHER_MS, then run in the page's
 * idle time (requestIdleCallback; in a browser without it, in the next task), or after
 * IDLE_TIMEOUT_MS when the page is never idle, a turn at a time, each bounded by the idle time the
 * browser gives or SLICE_MS, whichever is longer. A hidden page (a background tab, a page being left)
 * has no frames to keep smooth and may not live to be idle: there, jobs run at once, and those waiting
 * run when it is hidden or left (the page's listeners are capture's: see index.ts; a page left records
 * even the calls whose bodies are still being read), so that their events reach the outbox, which
 * keeps them for the next page. A job that throws loses its event only.
 */
export function createDeferredWork({ log }: { log: Log }): DeferredWork {
  let jobs: Array<Job | undefined> = [];
  /**
   * The next job to run: jobs are read from the front by this index, not taken with shift(), which
   * moves the whole array once it is large (V8 moves arrays of tens of thousands of elements): 50,000
   * calls captured in a burst took 1.9 s to run, against 0.1 µs a job for a thousand.
   */
  let next = 0;
  const kept = new Set<Job>();
  /**
   * The next job, or undefined when none waits. A job taken is let go at once (it may hold a call's
   * bodies), and the list is emptied whenever none waits.
   */
  const take = (): Job | undefined => {
    const job = jobs[next];
    if (job) {
      jobs[next++] = undefined;
      return job;
    }
    jobs = [];
    next = 0;
    return undefined;
  };
  const run = (job: Job): void => {
    try {
      job();
    } catch {
      log.warn('capture failed.');
    }
  };
  const runWaiting = (): void => {
    for (let job; (job = take()); ) run(job);
  };
  const drain = (deadline?: IdleDeadline): void => {
    // At least one job per turn, however little idle time there is.
    const stop = performance.now() + Math.max(deadline?.timeRemaining() || 0, SLICE_MS);
    for (let job; performance.now() < stop && (job = take()); ) run(job);
    if (next < jobs.length) idle();
  };
  const idle = (): unknown => (typeof requestIdleCallback == 'function' ? requestIdleCallback(drain, { timeout: IDLE_TIMEOUT_MS }) : setTimeout(drain));
  return {
    later(job) {
      if (document.hidden) run(job);
      else if (jobs.push(job) - next == 1) setTimeout(idle, GATHER_MS);
    },
    keepForLeave: (job) => kept.add(job),
    forget: (job) => kept.delete(job),
    runWaiting,
    leave() {
      runWaiting();
      kept.forEach(run);
    },
  };
}
