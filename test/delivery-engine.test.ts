/**
 * The delivery engine with fake timers and a fake fetch: scheduling, save coalescing, outbox eviction,
 * retries and adoption, without a network or a browser. The collector-level behaviour (page close,
 * several tabs, a real collector failing) is in e2e/delivery.spec.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDelivery, type Delivery } from '../src/delivery';
import { SAVE_DELAY_MS } from '../src/delivery/outbox';
import { resolveOptions, type Options } from '../src/options';
import { fakeFetch, memoryStore, queueValues, quietLog, storeQueue, type Answer, type MemoryStore } from './support/delivery';

const APP = 'engine-app';
const PREFIX = `usertrail:v4:outbox:${APP}:`;
const LEASES = `usertrail:v4:lease:${APP}:`;

/** The events of a stored queue (written by this engine: each event as JSON within the JSON). */
const stored = (value: string) => (JSON.parse(value) as Array<{ json: { n: number } }>).map((item) => item.json);
/** How many times the engine wrote its queue: each write renews its lease once, and writes the parts that changed. */
const queueWrites = (store: MemoryStore) => store.written.filter((key) => key.startsWith(LEASES)).length;
const sum = (values: string[]) => values.reduce((total, value) => total + value.length, 0);

/** An engine against a fetch that answers each request with the next of `statuses` (then 200). */
/** Every engine a test made, disposed after it: none stays subscribed to the page's events. */
const engines: Delivery[] = [];

function engine(statuses: Answer[] = [], extra: Partial<Options> = {}) {
  const log = quietLog();
  const { calls, fetchImpl } = fakeFetch(statuses);
  const options = resolveOptions({ applicationId: APP, host: 'http://collector.test', ...extra }, 'http:', log)!;
  const delivery = createDelivery({ options, log, fetch: fetchImpl });
  engines.push(delivery);
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
  for (const delivery of engines.splice(0)) delivery.dispose();
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

  it('under a stream of items, full batches leave 250 ms apart with what arrived meanwhile, or at once when 60 KB waits', async () => {
    const { delivery, store, calls, push } = engine();
    delivery.resume(store);
    // A page making an API call every 2 ms: the first full batch leaves at once, the next ones 250 ms
    // after the one before, each carrying the 125 items that came meanwhile, not 25.
    for (let n = 0; n < 500; n++) {
      push(1, n);
      await run(2);
    }
    await run(1000);
    const sizes = calls.map((call) => call.items.length);
    expect(sizes[0]).toBe(25);
    expect(sizes.slice(1, -1).every((size) => size >= 120)).toBe(true);
    expect(calls.slice(1).map((call, i) => call.at - calls[i].at).every((gap) => gap >= 250)).toBe(true);
    expect(sizes.reduce((a, b) => a + b)).toBe(500);
    // Items of about 1 KB: 60 of them fill a request, which then leaves without waiting for the gap.
    const big = (n: number) => JSON.stringify({ n, text: 'x'.repeat(1000) });
    const before = calls.length;
    for (let n = 0; n < 61; n++) delivery.push('actions', big(n));
    await run(0);
    expect(calls.length).toBe(before + 1);
    expect(calls[before].items.length).toBeGreaterThanOrEqual(55);
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
    const start = queueWrites(store);
    push(1000);
    // Not at once: items sent and answered within SAVE_DELAY_MS are never written.
    await run(SAVE_DELAY_MS - 1);
    expect(queueWrites(store) - start).toBe(0);
    await run(1);
    expect(queueWrites(store) - start).toBe(1);
    const firstWrite = Date.now();
    push(1, 1000);
    // The next write comes 200 ms plus 1 ms per item after the last one: 1,201 ms.
    await run(1200);
    expect(queueWrites(store) - start).toBe(1);
    await run(1);
    expect(queueWrites(store) - start).toBe(2);
    const [lease, ...parts] = store.keys();
    expect(lease.startsWith(LEASES)).toBe(true);
    expect(parts.every((key) => key.startsWith(PREFIX))).toBe(true);
    expect(JSON.parse(store.get(lease)!)).toEqual([firstWrite + 1201, sum(queueValues(store))]);
    expect(queueValues(store).flatMap(stored)).toHaveLength(1001);
    // The queue is kept in parts of about 32 KB: the second write renewed the lease and wrote only the
    // part the new item went to.
    expect(parts.length).toBeGreaterThan(1);
    expect(store.written.slice(-2)).toEqual([lease, parts.at(-1)]);
  });

  it('renews its lease every 5 s while items wait (the heartbeat other tabs check), without writing the queue again', async () => {
    const { delivery, store, push } = engine([503, 503, 503, 503], { batchMaxTime: 60_000 });
    delivery.resume(store);
    push(1);
    await vi.advanceTimersByTimeAsync(SAVE_DELAY_MS);
    const written = store.written.length;
    const queue = queueValues(store);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(store.written.slice(written)).toEqual(Array(3).fill(store.keys().find((key) => key.startsWith(LEASES))));
    expect(queueValues(store)).toEqual(queue);
  });
});

describe('outbox limits', () => {
  it('drops the oldest items past the byte limit, counts them and warns once', async () => {
    const { delivery, store, log, push } = engine([], { maxOutboxBytes: 1000, batchMaxTime: 60_000 });
    delivery.resume(store);
    push(20); // {"n":0} .. {"n":19}: 7 or 8 bytes each, and what storage adds to each
    await run(SAVE_DELAY_MS);
    const [value] = queueValues(store);
    const kept = stored(value).map((item) => item.n);
    expect(kept.at(-1)).toBe(19);
    expect(kept.length).toBeGreaterThan(10);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, index) => 20 - kept.length + index));
    expect(value.length).toBeLessThanOrEqual(1000);
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

  it('an item the limits drop while its request is under way is counted once, not again when the answer comes', async () => {
    // A collector that answers the first request only when the test says.
    let answer: (response: Response) => void = () => {};
    const fetchImpl = vi.fn(() => new Promise<Response>((resolve) => (answer = resolve))) as unknown as typeof fetch;
    const log = quietLog();
    const options = resolveOptions({ applicationId: APP, host: 'http://collector.test', maxOutboxBytes: 1000, batchMaxTime: 60_000 }, 'http:', log)!;
    const delivery = createDelivery({ options, log, fetch: fetchImpl });
    engines.push(delivery);
    delivery.resume(memoryStore());
    delivery.push('actions', '{"n":0}');
    void delivery.flush();
    await run(0);
    expect(fetchImpl).toHaveBeenCalledTimes(1); // {"n":0} is under way
    for (let n = 1; n <= 20; n++) delivery.push('actions', JSON.stringify({ n }));
    await run(SAVE_DELAY_MS); // the write drops the oldest items past the byte limit
    answer(new Response(null, { status: 200 }));
    await run(0);
    const { queued, sent, dropped, inOutbox } = delivery.stats();
    expect(dropped).toBeGreaterThan(0);
    expect(sent + dropped + inOutbox).toBe(queued);
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

describe('outbox in storage', () => {
  /** An event full of what JSON escapes: a captured body that is itself JSON, with a Windows path in it. */
  const quoted = (n: number) => JSON.stringify({ n, body: JSON.stringify({ said: 'he said "no", then "yes"', path: 'C:\\Users\\x' }).repeat(10) });
  const quotedEvents = (count: number) => Array.from({ length: count }, (_, n) => quoted(n));
  /** Characters of this application's outbox keys and values, which is what the origin's storage quota counts. */
  const storedLength = (store: MemoryStore) => sum([...store.map].filter(([key]) => key.startsWith(PREFIX) || key.startsWith(LEASES)).flat());

  it('an outbox of events full of quotes and backslashes takes about their bytes in storage, not 1.3 to 2 times', async () => {
    const { delivery, store } = engine([], { batchMaxTime: 60_000, batchSize: 1000 });
    delivery.resume(store);
    const events = quotedEvents(100);
    for (const json of events) delivery.push('events', json);
    await run(SAVE_DELAY_MS);
    const values = queueValues(store);
    expect(sum(values)).toBeLessThanOrEqual(1.1 * sum(events));
    // Exactly: the events, at most 64 characters around each, and 20 for the brackets and the lease.
    expect(sum(values)).toBeLessThanOrEqual(sum(events) + 64 * events.length + 20);
    expect(values.flatMap(stored)).toEqual(events.map((json) => JSON.parse(json)));
  });

  it('the byte limit bounds what storage holds, not just the events in it', async () => {
    const { delivery, store } = engine([], { batchMaxTime: 60_000, batchSize: 1000, maxOutboxBytes: 20_000 });
    delivery.resume(store);
    const events = quotedEvents(100);
    for (const json of events) delivery.push('events', json);
    await run(SAVE_DELAY_MS);
    const [value] = queueValues(store);
    expect(value.length).toBeLessThanOrEqual(20_000);
    // Near it: no more than one item's room is left.
    expect(value.length).toBeGreaterThan(20_000 - events[0].length - 64);
    expect(stored(value).map((event) => event.n)).toEqual(stored(value).map((_, index, all) => 100 - all.length + index));
  });

  it('the byte limit is shared by the tabs: two open through an outage hold it together, in equal shares', async () => {
    const store = memoryStore();
    const options = { batchMaxTime: 60_000, batchSize: 1000, maxOutboxBytes: 20_000 };
    const tabs = [engine([], options), engine([], options)];
    for (const { delivery } of tabs) {
      delivery.resume(store);
      for (const json of quotedEvents(100)) delivery.push('events', json);
      await run(SAVE_DELAY_MS);
    }
    // The second tab kept its share at once; the first makes room at its next write (the 5 s heartbeat).
    await run(5_000);
    const values = queueValues(store);
    expect(values).toHaveLength(2);
    expect(sum(values)).toBeLessThanOrEqual(20_000);
    for (const value of values) expect(value.length).toBeGreaterThan(10_000 - quoted(99).length - 64);
    // Besides the queues: two keys each, and two leases.
    expect(storedLength(store)).toBeLessThan(20_000 + 2 * (PREFIX.length + LEASES.length + 40));
  });

  it('adopts what closed and silent pages left: each item once, oldest first, byte for byte, and drops what went unanswered three times', async () => {
    const { delivery, store, calls } = engine([], { batchMaxTime: 10 });
    const now = Date.now();
    const event = (n: number) => JSON.stringify({ n, said: 'a "quoted" \\ word', text: 'é ✓ \u2028' });
    // Each event as JSON, a request in flight counted as unanswered already.
    const raw = (n: number, at: number, unanswered = 2) => `{"at":${at},"kind":"actions","unanswered":${unanswered},"json":${event(n)}}`;
    storeQueue(store, APP, 'closed', 0, `[${raw(2, now - 300)},${raw(3, now - 200)},${raw(5, now - 90, 3)}]`);
    storeQueue(store, APP, 'silent', now - 20_000, `[${raw(1, now - 400, 0)},${raw(6, now - 80, 0)}]`);
    storeQueue(store, APP, 'living', now - 1000, `[${raw(9, now - 50)}]`);
    delivery.resume(store);
    await flushed(delivery);
    expect(calls.map((call) => call.text)).toEqual([`[${[1, 2, 3, 6].map(event)}]`]);
    expect(delivery.stats()).toMatchObject({ adopted: 4, sent: 4, dropped: 1 });
    await run(1000);
    expect(store.keys()).toEqual([`${LEASES}living`, `${PREFIX}living:0`]);
  });
});

describe('failures', () => {
  it('retries with growing full-jitter backoff from one failure counter, then resets it on success', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const { delivery, store, calls, push } = engine([503, 503, 503, 200, 503]);
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
    // The next full batch leaves after the usual gap, fails, and waits just under 1 s again, not 8 s.
    push(25, 25);
    await vi.advanceTimersByTimeAsync(250);
    expect(calls).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(998);
    expect(calls).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(6);
    expect(delivery.stats()).toMatchObject({ retried: 100, sent: 50, inOutbox: 0 });
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

  it('stops for 5 minutes after three requests in a row get no answer, keeping the items for then or the next page', async () => {
    const { delivery, store, calls, log, push } = engine([0, 0, 0]);
    delivery.resume(store);
    push(1);
    // The three requests and their backoffs take a few seconds; the next try comes BLOCKED_RETRY_MS after them.
    await vi.advanceTimersByTimeAsync(4 * 60_000);
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
    const item = (n: number, at: number) => ({ kind: 'actions', json: { n }, at, unanswered: 1 });
    const now = Date.now();
    storeQueue(store, APP, 'closed', 0, [item(2, now - 100)]);
    storeQueue(store, APP, 'silent', now - 20_000, [item(1, now - 200)]);
    storeQueue(store, APP, 'living', now - 1000, [item(3, now - 50)]);
    storeQueue(store, APP, 'damaged', 0, '{not json');
    delivery.resume(store);
    await flushed(delivery);
    expect(calls.map((call) => call.items.map((entry) => entry.n))).toEqual([[1, 2]]);
    expect(delivery.stats()).toMatchObject({ adopted: 2, sent: 2 });
    await run(1000);
    expect(store.keys()).toEqual([`${LEASES}living`, `${PREFIX}living:0`]);
  });

  it('pause() empties the queue and removes every queue of the application', async () => {
    const { delivery, store, push } = engine([0]);
    storeQueue(store, APP, 'living', Date.now(), []);
    delivery.resume(store);
    push(3);
    await vi.advanceTimersByTimeAsync(0);
    delivery.pause(store);
    expect(store.keys()).toEqual([]);
    expect(delivery.stats().inOutbox).toBe(0);
  });

  it('pause() lets an app awaiting flush() go on (before it navigates, say), with the request still hanging', async () => {
    const { delivery, store, calls, push } = engine(['never']);
    delivery.resume(store);
    push(1);
    let settled = false;
    const flushing = delivery.flush().then(() => (settled = true));
    await run(100);
    expect(calls).toHaveLength(1);
    expect(settled).toBe(false);
    delivery.pause(store);
    await run(0);
    expect(settled).toBe(true);
    await flushing;
  });

  it('pause() before any resume() still removes the queues earlier visits left (a visitor who opts out)', () => {
    const { delivery, store } = engine([0]);
    storeQueue(store, APP, 'earlier-visit', 0, [{ kind: 'actions', json: {}, at: 0 }]);
    store.set(`usertrail:v3:outbox:${APP}:earlier-version`, JSON.stringify([0, [{ kind: 'actions', json: {}, at: 0 }]]));
    store.set('unrelated', 'kept');
    delivery.pause(store);
    expect(store.keys()).toEqual(['unrelated']);
  });
});
