/**
 * The outbox on its own, with the store and the clock it is given: no timers run, no fetch, no page.
 * How the engine sends what it holds is in delivery-engine.test.ts and delivery-edges.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createOutbox, queuePrefix, type Outbox } from '../src/delivery/outbox';
import { memoryStore, quietLog } from './support/delivery';

const APP = 'outbox-app';
const PREFIX = queuePrefix(APP);
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

/** A queue as another tab writes it: its heartbeat, and events `{ n }`. */
const queue = (heartbeat: number, entries: Array<{ n: number; at: number; unanswered?: number }>) =>
  JSON.stringify([heartbeat, entries.map(({ n, at, unanswered = 0 }) => ({ at, kind: 'actions', unanswered, json: { n } }))]);

describe('outbox', () => {
  it('adopts the queue of a tab silent for longer than the lease, by its own clock, and leaves a living tab its queue', () => {
    const { outbox } = outboxAt(1_000_000);
    const store = memoryStore();
    store.set(`${PREFIX}gone`, queue(1_000_000 - 15_000, [{ n: 1, at: 5 }, { n: 3, at: 7 }]));
    store.set(`${PREFIX}living`, queue(1_000_000 - 14_999, [{ n: 2, at: 6 }]));
    store.set(`${PREFIX}closed`, queue(0, [{ n: 0, at: 4 }]));
    outbox.use(store);
    let adopted = -1;
    outbox.adopt((count) => (adopted = count));
    expect(adopted).toBe(3);
    expect(outbox.items().map((item) => JSON.parse(item.json).n)).toEqual([0, 1, 3]);
    expect(store.keys().filter((key) => key != `${PREFIX}living`)).toHaveLength(1);
    // What it wrote is its own queue, with the heartbeat of its clock.
    const own = store.keys().find((key) => key != `${PREFIX}living`)!;
    expect(JSON.parse(store.get(own)!)[0]).toBe(1_000_000);
  });

  it('does not adopt an item whose requests went unanswered three times (its pages closed before an answer)', () => {
    const { outbox, dropped } = outboxAt(100_000);
    const store = memoryStore();
    store.set(`${PREFIX}gone`, queue(0, [{ n: 1, at: 5, unanswered: 2 }, { n: 2, at: 6, unanswered: 3 }]));
    outbox.use(store);
    outbox.adopt(() => {});
    expect(outbox.items().map((item) => [JSON.parse(item.json).n, item.unanswered])).toEqual([[1, 2]]);
    expect(dropped).toEqual(['never answered']);
  });

  it('writes heartbeat 0 once its page is closed, so the next page adopts at once; a request in flight counts as unanswered', () => {
    const { outbox, clock } = outboxAt(50_000);
    const store = memoryStore();
    outbox.use(store);
    outbox.add({ kind: 'actions', json: '{"n":1}', at: clock.time, bytes: 7, sending: true });
    outbox.close();
    outbox.save();
    const [heartbeat, entries] = JSON.parse(store.get(store.keys()[0])!);
    expect(heartbeat).toBe(0);
    expect(entries).toEqual([{ at: 50_000, kind: 'actions', unanswered: 1, json: { n: 1 } }]);
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
