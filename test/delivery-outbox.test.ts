/**
 * The outbox on its own, with the store and the clock it is given: no timers run, no fetch, no page.
 * How the engine sends what it holds is in delivery-engine.test.ts and delivery-edges.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createOutbox, type Outbox } from '../src/delivery/outbox';
import { leasePrefix, queuePrefix } from '../src/delivery/saved-queue';
import { memoryStore, queueValues, quietLog, storeQueue } from './support/delivery';

const APP = 'outbox-app';
const PREFIX = queuePrefix(APP);
const LEASES = leasePrefix(APP);
const made: Outbox[] = [];
afterEach(() => {
  for (const outbox of made.splice(0)) outbox.dispose();
});

function outboxAt(time: number, maxBytes = 1_000_000) {
  const clock = { time };
  const dropped: string[] = [];
  const outbox = createOutbox({ options: { applicationId: APP, maxOutboxBytes: maxBytes, maxOutboxAge: 86_400_000 }, now: () => clock.time, log: quietLog(), onDrop: (_count, reason) => dropped.push(reason) });
  made.push(outbox);
  return { outbox, clock, dropped };
}

/** The items of a queue as a tab writes them: events `{ n }`. */
const entries = (list: Array<{ n: number; at: number; unanswered?: number }>) => list.map(({ n, at, unanswered = 0 }) => ({ at, kind: 'actions', unanswered, json: { n } }));

describe('outbox', () => {
  it('adopts the queue of a tab silent for longer than the lease, by its own clock, and leaves a living tab its queue', () => {
    const { outbox } = outboxAt(1_000_000);
    const store = memoryStore();
    storeQueue(store, APP, 'gone', 1_000_000 - 15_000, entries([{ n: 1, at: 5 }, { n: 3, at: 7 }]));
    storeQueue(store, APP, 'living', 1_000_000 - 14_999, entries([{ n: 2, at: 6 }]));
    storeQueue(store, APP, 'closed', 0, entries([{ n: 0, at: 4 }]));
    outbox.use(store);
    let adopted = -1;
    outbox.adopt((count) => (adopted = count));
    expect(adopted).toBe(3);
    expect(outbox.items().map((item) => JSON.parse(item.json).n)).toEqual([0, 1, 3]);
    // The adopted queues and their leases are gone; the living tab's are left, and this tab wrote its own.
    const own = store.keys().filter((key) => !key.includes(':living'));
    expect(own).toEqual([`${LEASES}${own[0].slice(LEASES.length)}`, `${PREFIX}${own[0].slice(LEASES.length)}:0`]);
    // Its lease has the heartbeat of its clock, and the length of its queue.
    expect(JSON.parse(store.get(own[0])!)).toEqual([1_000_000, store.get(own[1])!.length]);
  });

  it('adopts a queue an earlier version (v3) left, by the heartbeat stored with it, and removes it', () => {
    const { outbox } = outboxAt(1_000_000);
    const store = memoryStore();
    const v3 = (heartbeat: number, list: Array<{ n: number; at: number }>) => JSON.stringify([heartbeat, entries(list)]);
    store.set(`usertrail:v3:outbox:${APP}:gone`, v3(0, [{ n: 1, at: 5 }]));
    store.set(`usertrail:v3:outbox:${APP}:living`, v3(1_000_000 - 1000, [{ n: 2, at: 6 }]));
    outbox.use(store);
    outbox.adopt(() => {});
    expect(outbox.items().map((item) => JSON.parse(item.json).n)).toEqual([1]);
    expect(store.keys().filter((key) => key.includes(':v3:'))).toEqual([`usertrail:v3:outbox:${APP}:living`]);
  });

  it('keeps its queue in parts of about 32 KB, and a gone tab is adopted whole: every part, then its lease', () => {
    const store = memoryStore();
    const first = outboxAt(1_000_000);
    first.outbox.use(store);
    const pad = 'x'.repeat(1000);
    for (let n = 0; n < 100; n++) first.outbox.add({ kind: 'actions', json: `{"n":${n},"pad":"${pad}"}`, at: n + 1, bytes: 1017 });
    first.outbox.close();
    first.outbox.save();
    // 100 items of about 1 KB: four parts, and the lease.
    expect(store.keys().filter((key) => key.startsWith(PREFIX))).toHaveLength(4);
    expect(store.keys().filter((key) => key.startsWith(LEASES))).toHaveLength(1);
    const next = outboxAt(1_000_000);
    next.outbox.use(store);
    let adopted = -1;
    next.outbox.adopt((count) => (adopted = count));
    expect(adopted).toBe(100);
    expect(next.outbox.items().map((item) => JSON.parse(item.json).n)).toEqual(Array.from({ length: 100 }, (_, n) => n));
    // What is stored now is the adopter's queue alone, in parts of its own.
    const owners = new Set(store.keys().filter((key) => key.startsWith(PREFIX)).map((key) => key.slice(PREFIX.length).split(':')[0]));
    expect(owners.size).toBe(1);
    expect(store.keys().filter((key) => key.startsWith(LEASES))).toEqual([LEASES + [...owners][0]]);
  });

  it('adopts an item found in two gone queues once (a tab that only looked gone wrote again what another tab had adopted)', () => {
    const { outbox } = outboxAt(1_000_000);
    const store = memoryStore();
    storeQueue(store, APP, 'adopter', 0, entries([{ n: 1, at: 5 }, { n: 2, at: 6 }]));
    storeQueue(store, APP, 'woke', 0, entries([{ n: 1, at: 5 }, { n: 3, at: 7 }]));
    outbox.use(store);
    let adopted = -1;
    outbox.adopt((count) => (adopted = count));
    expect(adopted).toBe(3);
    expect(outbox.items().map((item) => JSON.parse(item.json).n)).toEqual([1, 2, 3]);
  });

  it('does not adopt an item whose requests went unanswered three times (its pages closed before an answer)', () => {
    const { outbox, dropped } = outboxAt(100_000);
    const store = memoryStore();
    storeQueue(store, APP, 'gone', 0, entries([{ n: 1, at: 5, unanswered: 2 }, { n: 2, at: 6, unanswered: 3 }]));
    outbox.use(store);
    outbox.adopt(() => {});
    expect(outbox.items().map((item) => [JSON.parse(item.json).n, item.unanswered])).toEqual([[1, 2]]);
    expect(dropped).toEqual(['never answered']);
  });

  it('adopts an entry whose date or count storage damaged as queued now and never unanswered, and writes it back readable', () => {
    const { outbox } = outboxAt(100_000);
    const store = memoryStore();
    // What JSON can hold of a damaged value: text ("Infinity" reads as a number JSON cannot write).
    storeQueue(store, APP, 'gone', 0, [
      { at: 'Infinity', kind: 'actions', unanswered: 'twice', json: { n: 1 } },
      { at: 'yesterday', kind: 'actions', unanswered: 2, json: { n: 2 } },
    ]);
    outbox.use(store);
    outbox.adopt(() => {});
    expect(outbox.items().map((item) => [JSON.parse(item.json).n, item.at, item.unanswered])).toEqual([[1, 100_000, 0], [2, 100_000, 2]]);
    // Written back, the queue is one the next page can read.
    outbox.close();
    outbox.save();
    expect(queueValues(store).map((value) => JSON.parse(value))).toEqual([entries([{ n: 1, at: 100_000 }, { n: 2, at: 100_000, unanswered: 2 }])]);
  });

  it('writes heartbeat 0 once its page is closed, so the next page adopts at once; a request in flight counts as unanswered', () => {
    const { outbox, clock } = outboxAt(50_000);
    const store = memoryStore();
    outbox.use(store);
    outbox.add({ kind: 'actions', json: '{"n":1}', at: clock.time, bytes: 7, sending: true });
    outbox.close();
    outbox.save();
    const [queue] = queueValues(store);
    expect(JSON.parse(store.get(store.keys().find((key) => key.startsWith(LEASES))!)!)).toEqual([0, queue.length]);
    expect(JSON.parse(queue)).toEqual([{ at: 50_000, kind: 'actions', unanswered: 1, json: { n: 1 } }]);
  });

  it('drops the oldest items past the byte limit, and items past the age limit by its clock', () => {
    const { outbox, clock, dropped } = outboxAt(0, 310);
    outbox.use(memoryStore());
    for (let n = 0; n < 5; n++) outbox.add({ kind: 'actions', json: `{"n":${n}}`, at: n, bytes: 7 });
    outbox.save();
    // 20 + 5 * (7 + 64) = 375 bytes is over 310; without the oldest, 304 is not.
    expect(outbox.items().map((item) => item.at)).toEqual([1, 2, 3, 4]);
    clock.time = 86_400_000 + 2.5;
    outbox.save();
    expect(outbox.items().map((item) => item.at)).toEqual([3, 4]);
    expect(dropped).toEqual(['over the outbox limits', 'over the outbox limits', 'over the outbox limits']);
  });
});
