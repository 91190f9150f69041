/**
 * Capture's deferred work (src/capture/deferred.ts) under a burst of calls: what it costs per job and
 * what it keeps, counted rather than timed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDeferredWork } from '../src/capture/deferred';
import { outsideZones } from '../src/zones';
import { quietLog } from './support/delivery';

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('deferred capture work', () => {
  it('runs 50,000 jobs of a burst in order without moving the waiting ones each time (no shift() per job)', () => {
    const work = createDeferredWork({ log: quietLog() });
    const ran: number[] = [];
    for (let n = 0; n < 50_000; n++) work.later(() => ran.push(n));
    // shift() moves every element behind the first once V8 keeps the array in its large-object space,
    // which a burst of tens of thousands of captured calls reaches: the work grew with the square of the burst.
    const shift = vi.spyOn(Array.prototype, 'shift');
    work.runWaiting();
    expect(shift).not.toHaveBeenCalled();
    expect(ran).toHaveLength(50_000);
    expect(ran.every((value, index) => value == index)).toBe(true);
  });

  it('a burst run over several turns runs each job once, in order, and so does the next burst', async () => {
    vi.useFakeTimers();
    const work = createDeferredWork({ log: quietLog() });
    let now = 0;
    // The page's clock moves 0.5 ms each time it is read: a turn (4 ms when the page gives no idle time) runs a few jobs.
    vi.spyOn(performance, 'now').mockImplementation(() => now++ / 2);
    const ran: number[] = [];
    for (let n = 0; n < 10; n++) work.later(() => ran.push(n));
    await vi.advanceTimersByTimeAsync(201); // the gathering wait (200 ms), then one turn in a task of its own
    expect(ran.length).toBeGreaterThan(0);
    expect(ran.length).toBeLessThan(10);
    await vi.advanceTimersByTimeAsync(1000); // the next turns
    expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    work.later(() => ran.push(10));
    await vi.advanceTimersByTimeAsync(1000);
    expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe('outsideZones', () => {
  afterEach(() => {
    delete (globalThis as { Zone?: unknown }).Zone;
  });

  it("runs the work as it is on a page whose own global named Zone is not zone.js's, and gives back what it gives", () => {
    // zone.js itself is tested in a real browser (e2e/real-clients.spec.ts); here, pages where the name means something else.
    for (const Zone of [{}, { root: {} }, { root: { run: 'not a function' } }]) {
      (globalThis as { Zone?: unknown }).Zone = Zone;
      expect(outsideZones(() => 'ran')).toBe('ran');
    }
  });
});
