/**
 * The delivery engine with fake timers and a fake fetch: scheduling, save coalescing, outbox eviction,
 * retries and adoption, without a network or a browser. The collector-level behaviour (page close,
 * several tabs, a real collector failing) is in e2e/delivery.spec.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDelivery } from '../src/delivery';
import { resolveOptions, type Options } from '../src/options';
import { fakeFetch, memoryStore, quietLog, type Answer } from './support/delivery';

const PREFIX = 'usertrail:v2:outbox:engine-app:';

/** An engine against a fetch that answers each request with the next of `statuses` (then 200). */
function engine(statuses: Answer[] = [], extra: Partial<Options> = {}) {
  const log = quietLog();
  const { calls, fetchImpl } = fakeFetch(statuses);
  const options = resolveOptions({ applicationId: 'engine-app', host: 'http://collector.test', ...extra }, 'http:', log)!;
  const delivery = createDelivery({ options, log, fetchImpl });
  const store = memoryStore();
  const push = (count: number, from = 0) => {
    for (let n = from; n < from + count; n++) delivery.push('actions', JSON.stringify({ n }));
  };
  return { delivery, store, calls, log, push };
}

/** Lets the engine run for `ms` of fake time: its timers, requests and answers. */
const run = (ms = 100) => vi.advanceTimersByTimeAsync(ms);

/** flush(), with fake time running until it settles. */
async function flushed(delivery: { flush(): Promise<void> }): Promise<void> {
  let settled = false;
  const done = delivery.flush().then(() => (settled = true));
  for (let round = 0; round < 100 && !settled; round++) await run(10);
  await done;
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2025-01-01T00:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('scheduler', () => {
  it('sends nothing while paused, then a full batch at once when resumed', async () => {
    const { delivery, store, calls, push } = engine();
    push(30);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(0);
    delivery.resume(store);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((call) => call.items.length)).toEqual([30]);
    expect(calls[0].url).toBe('http://collector.test/v1/actions/batch');
    expect(delivery.stats()).toMatchObject({ queued: 30, sent: 30, inOutbox: 0 });
  });

  it('waits batchMaxTime for a batch below batchSize', async () => {
    const { delivery, store, calls, push } = engine([], { batchMaxTime: 1000 });
    delivery.resume(store);
    push(3);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((call) => call.items.length)).toEqual([3]);
  });

  it('with batchEnabled: false, sends each item in a request of its own, at once', async () => {
    const { delivery, store, calls, push } = engine([], { batchEnabled: false });
    delivery.resume(store);
    push(3);
    // One request at a time: each next one as soon as the previous is answered.
    await run(0);
    expect(calls).toHaveLength(1);
    await run();
    expect(calls.map((call) => call.items.map((item) => item.n))).toEqual([[0], [1], [2]]);
  });

  it('many pushes set no more timers than one', async () => {
    const { delivery, store, push } = engine();
    delivery.resume(store);
    const before = vi.getTimerCount();
    push(10);
    // One send timer and one save timer, however many pushes.
    expect(vi.getTimerCount() - before).toBeLessThanOrEqual(2);
  });
});

describe('saving', () => {
  it('writes storage once for a loop of pushes, and spaces later writes', async () => {
    const { delivery, store, push } = engine([], { batchMaxTime: 60_000, batchSize: 100_000 });
    delivery.resume(store);
    const start = store.writes;
    push(1000);
    await run(0);
    expect(store.writes - start).toBe(1);
    const firstWrite = Date.now();
    push(1, 1000);
    // The next write comes 200 ms plus 1 ms per item after the last one: 1,201 ms.
    await run(1200);
    expect(store.writes - start).toBe(1);
    await run(1);
    expect(store.writes - start).toBe(2);
    const [key] = store.keys();
    expect(key.startsWith(PREFIX)).toBe(true);
    const [heartbeat, items] = JSON.parse(store.get(key)!);
    expect(heartbeat).toBe(firstWrite + 1201);
    expect(items).toHaveLength(1001);
  });

  it('rewrites the queue every 5 s while items wait (the heartbeat other tabs check)', async () => {
    const { delivery, store, push } = engine([503, 503, 503, 503], { batchMaxTime: 60_000 });
    delivery.resume(store);
    push(1);
    await vi.advanceTimersByTimeAsync(0);
    const writes = store.writes;
    await vi.advanceTimersByTimeAsync(15_000);
    expect(store.writes - writes).toBe(3);
  });
});

describe('outbox limits', () => {
  it('drops the oldest items past the byte limit, counts them and warns once', async () => {
    const { delivery, store, log, push } = engine([], { maxOutboxBytes: 100, batchMaxTime: 60_000 });
    delivery.resume(store);
    push(20); // {"n":0} .. {"n":19}: 7 or 8 bytes each, 1 more each in a body
    await vi.advanceTimersByTimeAsync(0);
    const [, items] = JSON.parse(store.get(store.keys()[0])!) as [number, Array<{ json: string }>];
    const kept = items.map((item) => JSON.parse(item.json).n);
    expect(kept.at(-1)).toBe(19);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, index) => 20 - kept.length + index));
    expect(items.reduce((sum, item) => sum + item.json.length + 1, 1)).toBeLessThanOrEqual(100);
    expect(delivery.stats()).toMatchObject({ queued: 20, dropped: 20 - kept.length, inOutbox: kept.length });
    expect(log.warn).toHaveBeenCalledTimes(20 - kept.length);
    expect(new Set(log.warn.mock.calls.map(([message]) => message)).size).toBe(1);
  });

  it('drops items older than maxOutboxAge', async () => {
    const { delivery, store, push } = engine([0, 0, 0], { maxOutboxAge: 60_000, batchMaxTime: 60_000 });
    delivery.resume(store);
    push(2);
    await vi.advanceTimersByTimeAsync(30_000);
    push(1, 2);
    await vi.advanceTimersByTimeAsync(31_000);
    expect(delivery.stats()).toMatchObject({ dropped: 2, inOutbox: 1 });
  });

  it('drops an item larger than the whole outbox on push, keeping the rest', async () => {
    const { delivery, store, push } = engine([], { maxOutboxBytes: 1000 });
    delivery.resume(store);
    delivery.push('actions', JSON.stringify({ big: 'x'.repeat(2000) }));
    push(1);
    await vi.advanceTimersByTimeAsync(3000);
    expect(delivery.stats()).toMatchObject({ queued: 1, dropped: 1, sent: 1 });
  });
});

describe('failures', () => {
  it('retries with growing full-jitter backoff from one failure counter, then resets it on success', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const { delivery, store, calls, push } = engine([503, 503, 503]);
    delivery.resume(store);
    push(25);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    // Waits just under 1 s, 2 s, then 4 s.
    for (const wait of [999, 1998, 3996]) {
      await vi.advanceTimersByTimeAsync(wait - 1);
      const before = calls.length;
      await vi.advanceTimersByTimeAsync(1);
      expect(calls.length).toBe(before + 1);
    }
    expect(delivery.stats()).toMatchObject({ retried: 75, sent: 25, inOutbox: 0 });
    vi.mocked(Math.random).mockRestore();
  });

  it("honours Retry-After, and flush() settles when the attempt failed", async () => {
    const { delivery, store, calls, push } = engine([[429, { 'Retry-After': '30' }]]);
    delivery.resume(store);
    push(1);
    await flushed(delivery);
    expect(calls).toHaveLength(1);
    await run(40_000);
    expect(calls).toHaveLength(2);
    // Never before the 30 s asked for; the jittered backoff (under 1 s) is below that floor.
    expect(calls[1].at - calls[0].at).toBe(30_000);
    expect(delivery.stats()).toMatchObject({ sent: 1, inOutbox: 0 });
  });

  it('halves a batch the collector refuses as too large (413), and drops a single item still too large', async () => {
    const { delivery, store, calls, log, push } = engine([413, 413, 200, 413, 413, 413]);
    delivery.resume(store);
    push(4);
    await flushed(delivery);
    // 4 refused, 2 refused, 1 sent; after a success batches may be large again: 3 refused, 2 refused,
    // 1 refused alone: dropped; then one at a time until one gets through, and large again.
    expect(calls.map((call) => call.items.map((item) => item.n))).toEqual([[0, 1, 2, 3], [0, 1], [0], [1, 2, 3], [1, 2], [1], [2], [3]]);
    expect(delivery.stats()).toMatchObject({ sent: 3, dropped: 1, inOutbox: 0 });
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('too large'));
  });

  it('drops a batch refused with another 4xx, naming the status, and goes on', async () => {
    const { delivery, store, calls, log, push } = engine([400]);
    delivery.resume(store);
    push(1);
    await flushed(delivery);
    push(1, 1);
    await flushed(delivery);
    expect(calls.map((call) => call.items[0].n)).toEqual([0, 1]);
    expect(delivery.stats()).toMatchObject({ sent: 1, dropped: 1, inOutbox: 0 });
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('400'));
  });

  it('stops after three requests in a row get no answer, keeping the items for the next page', async () => {
    const { delivery, store, calls, log, push } = engine([0, 0, 0]);
    delivery.resume(store);
    push(1);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(calls).toHaveLength(3);
    expect(log.warn).toHaveBeenCalledOnce();
    expect(delivery.stats()).toMatchObject({ retried: 3, inOutbox: 1 });
    await expect(delivery.flush()).resolves.toBeUndefined();
    expect(calls).toHaveLength(3);
  });
});

describe('adoption', () => {
  it("adopts the queues of closed and silent tabs, oldest first, and leaves living tabs' queues alone", async () => {
    const { delivery, store, calls } = engine([], { batchMaxTime: 10 });
    const item = (n: number, at: number) => ({ kind: 'actions', json: JSON.stringify({ n }), at, bytes: 0, sending: true });
    const now = Date.now();
    store.set(`${PREFIX}closed`, JSON.stringify([0, [item(2, now - 100)]]));
    store.set(`${PREFIX}silent`, JSON.stringify([now - 20_000, [item(1, now - 200)]]));
    store.set(`${PREFIX}living`, JSON.stringify([now - 1000, [item(3, now - 50)]]));
    store.set(`${PREFIX}damaged`, '{not json');
    delivery.resume(store);
    await flushed(delivery);
    expect(calls.map((call) => call.items.map((entry) => entry.n))).toEqual([[1, 2]]);
    expect(delivery.stats()).toMatchObject({ adopted: 2, sent: 2 });
    await run(1000);
    expect(store.keys()).toEqual([`${PREFIX}living`]);
  });

  it('pause() empties the queue and removes every queue of the application', async () => {
    const { delivery, store, push } = engine([0]);
    store.set(`${PREFIX}living`, JSON.stringify([Date.now(), []]));
    delivery.resume(store);
    push(3);
    await vi.advanceTimersByTimeAsync(0);
    delivery.pause(store);
    expect(store.keys()).toEqual([]);
    expect(delivery.stats().inOutbox).toBe(0);
  });

  it('pause() before any resume() still removes the queues earlier visits left (a visitor who opts out)', () => {
    const { delivery, store } = engine([0]);
    store.set(`${PREFIX}earlier-visit`, JSON.stringify([0, [{ kind: 'actions', json: '{}', at: 0 }]]));
    store.set('unrelated', 'kept');
    delivery.pause(store);
    expect(store.keys()).toEqual(['unrelated']);
  });
});
