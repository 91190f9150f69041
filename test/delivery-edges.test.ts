/**
 * The delivery engine at its edges, with fake timers and a fake fetch: page close with a large item,
 * offline, a backoff when the tab hides, storage that refuses writes and the back/forward cache.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDelivery, type Delivery } from '../src/delivery';
import { BLOCKED_RETRY_MS } from '../src/delivery/classify';
import { SAVE_DELAY_MS } from '../src/delivery/outbox';
import { resolveOptions, type Options } from '../src/options';
import { fakeFetch, isQueueKey, memoryStore, queueValues, quietLog, storeQueue, type Answer, type Call } from './support/delivery';

/**
 * A resumed engine against a fetch that answers each request with the next of `answers` (then 200);
 * 0 fails, 'never' hangs.
 */
/** Every engine a test made, disposed after it: none stays subscribed to the page's events. */
const engines: Delivery[] = [];

function engine(answers: Answer[] = [], extra: Partial<Options> = {}, store = memoryStore()) {
  const log = quietLog();
  const { calls, fetchImpl } = fakeFetch(answers);
  const options = resolveOptions({ applicationId: APP, host: 'http://collector.test', ...extra }, 'http:', log)!;
  const delivery = createDelivery({ options, log, fetch: fetchImpl });
  engines.push(delivery);
  delivery.resume(store);
  const actions = (count: number) => {
    for (let n = 0; n < count; n++) delivery.push('actions', JSON.stringify({ n }));
  };
  return { delivery, store, calls, actions };
}

const APP = 'edges-app';
/** Where an earlier version (v3) kept a tab's queue, with its heartbeat in the same value. */
const LEGACY_PREFIX = `usertrail:v3:outbox:${APP}:`;
/** How many queues (not leases) the store holds. */
const queueCount = (store: ReturnType<typeof memoryStore>) => store.keys().filter(isQueueKey).length;
const run = (ms = 0) => vi.advanceTimersByTimeAsync(ms);
const setHidden = (hidden: boolean) => {
  Object.defineProperty(document, 'hidden', { value: hidden, configurable: true });
  document.dispatchEvent(new Event('visibilitychange'));
};
const setOnline = (online: boolean) => {
  Object.defineProperty(navigator, 'onLine', { value: online, configurable: true });
  if (online) dispatchEvent(new Event('online'));
};
const pagehide = (persisted = false) => dispatchEvent(new PageTransitionEvent('pagehide', { persisted }));
/** A captured call whose response body was cut at the default maxBodyBytes: over 64 KB on its own. */
const bigEvent = (size = 65_536) => JSON.stringify({ response: { body: 'x'.repeat(size) } });
const to = (kind: string) => (call: Call) => call.url.endsWith(`/v1/${kind}/batch`);

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2025-01-01T00:00:00Z') });
});
afterEach(() => {
  for (const delivery of engines.splice(0)) delivery.dispose();
  setHidden(false);
  setOnline(true);
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('page close', () => {
  it('an item over the keepalive quota goes without keepalive, and the items behind it still leave with keepalive', async () => {
    const { delivery, calls, actions } = engine();
    delivery.push('events', bigEvent());
    actions(5);
    pagehide();
    await run();
    expect(calls.filter(to('events')).map((call) => call.keepalive)).toEqual([false]);
    expect(calls.filter(to('actions')).map((call) => [call.keepalive, JSON.parse(call.text).length])).toEqual([[true, 5]]);
  });

  it('a large request in flight without keepalive does not use the quota of the keepalive requests at close', async () => {
    const { delivery, calls, actions } = engine(['never']);
    delivery.push('events', bigEvent(70_000));
    await run(2600);
    expect(calls.map((call) => call.keepalive)).toEqual([false]);
    actions(5);
    pagehide();
    expect(calls.map((call) => call.keepalive)).toEqual([false, true]);
  });
});

describe('offline', () => {
  it('flush() settles at once while the engine waits for the online event', async () => {
    setOnline(false);
    const { delivery } = engine([0]);
    delivery.push('actions', '{"n":1}');
    await run(3000); // the first attempt fails: the engine now waits for `online`
    let settled = false;
    void delivery.flush().then(() => (settled = true));
    await run();
    expect(settled).toBe(true);
    expect(delivery.stats().inOutbox).toBe(1);
  });

  it('hiding the tab while offline, with three kinds queued, does not stop delivery for the page view', async () => {
    const { delivery, calls } = engine();
    delivery.push('actions', '{"n":1}');
    delivery.push('users', '{"n":2}');
    delivery.push('events', '{"n":3}');
    setOnline(false);
    setHidden(true);
    await run();
    expect(calls).toHaveLength(0); // offline, a request could only fail
    setHidden(false);
    setOnline(true);
    await run(60_000);
    expect(delivery.stats()).toMatchObject({ inOutbox: 0, sent: 3 });
  });

  it('the online event clears the count of unanswered requests (failures before the browser noticed)', async () => {
    // Backoff waits of half their range (500 ms, then 1 s): with full jitter a wait can be near 0, and
    // then a third failure, taken for a blocker, could come within one step of the loop below.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { delivery, calls, actions } = engine([0, 0, 0]);
    actions(1);
    while (calls.length < 2) await run(100); // two unanswered: one more would be taken for a blocker
    setOnline(true);
    await run(60_000);
    expect(calls).toHaveLength(4);
    expect(delivery.stats().inOutbox).toBe(0);
  });
  it('a page taken for blocked by three quick failures sends again when the browser says it is back online', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0); // no backoff wait: the three failures come at once
    const { delivery, calls, actions } = engine([0, 0, 0]);
    actions(2);
    await run(60_000);
    expect(calls).toHaveLength(3);
    expect(delivery.stats().inOutbox).toBe(2);
    setOnline(false);
    setOnline(true);
    await run(0);
    expect(calls).toHaveLength(4);
    expect(delivery.stats()).toMatchObject({ inOutbox: 0, sent: 2 });
  });

  it('a page taken for blocked tries one request again after 5 minutes (a collector down for a moment looks the same), and sends all once it is answered', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0); // no backoff wait: the three failures come at once
    const { delivery, calls, actions } = engine([0, 0, 0, 0]);
    actions(2);
    while (calls.length < 3) await run(100);
    // Each wait counts from the failure that took the collector for blocked, within the last 100 ms.
    await run(BLOCKED_RETRY_MS - 1000);
    expect(calls).toHaveLength(3); // nothing before the wait is over
    await run(1000);
    expect(calls).toHaveLength(4); // one request, unanswered again: taken for blocked again at once
    await run(BLOCKED_RETRY_MS - 1000);
    expect(calls).toHaveLength(4);
    await run(1000);
    expect(calls).toHaveLength(5); // answered: everything waiting goes
    expect(delivery.stats()).toMatchObject({ inOutbox: 0, sent: 2 });
  });

  it('the online event does not restart a delivery paused for consent', async () => {
    const { delivery, calls, actions } = engine([0, 0, 0]);
    actions(1);
    await run(60_000);
    delivery.pause(undefined); // revoked, after the page was taken for blocked
    actions(1);
    setOnline(true);
    await run(60_000);
    expect(calls).toHaveLength(3);
    await run(BLOCKED_RETRY_MS); // nor does the try a blocked page makes later
    expect(calls).toHaveLength(3);
  });
});

describe('quick navigations', () => {
  it('an answer that comes while the page is hidden is written at once, not after the usual spacing', async () => {
    const { store, actions } = engine();
    actions(2);
    await run(); // written, not yet sent (batchMaxTime)
    setHidden(true); // sends both with keepalive and writes them: they stay until answered
    expect(queueCount(store)).toBe(1);
    await run(); // the answer: nothing is left for the next page to send again
    expect(store.keys()).toHaveLength(0);
  });

  it("a closed page's queue is sent at once by the next page, not after batchMaxTime", async () => {
    const store = memoryStore();
    const item = { kind: 'actions', json: { n: 1 }, at: Date.now() - 50 };
    storeQueue(store, APP, 'closed', 0, [item]);
    const { calls, delivery } = engine([], { batchMaxTime: 10_000 }, store);
    await run();
    expect(calls.map((call) => call.text)).toEqual(['[{"n":1}]']);
    expect(delivery.stats()).toMatchObject({ adopted: 1, sent: 1, inOutbox: 0 });
  });
});

describe('stored queues', () => {
  /** An event full of what JSON escapes. */
  const quoted = (n: number) => JSON.stringify({ n, body: '{"said":"he said \\"no\\"","path":"C:\\\\x"}'.repeat(20) });

  it('what a page leaves with the collector down, the next page sends with it up: each item once, as it was pushed', async () => {
    const store = memoryStore();
    const first = engine([0, 0, 0], { batchMaxTime: 10 }, store);
    const events = Array.from({ length: 30 }, (_, n) => quoted(n));
    for (const json of events) first.delivery.push('events', json);
    await run(30_000); // three requests unanswered: kept for the next page
    pagehide();
    first.delivery.dispose();
    const next = engine([], { batchMaxTime: 10 }, store);
    await run(1000);
    expect(next.calls.map((call) => call.text)).toEqual([`[${events}]`]);
    expect(next.delivery.stats()).toMatchObject({ adopted: 30, sent: 30, inOutbox: 0 });
    expect(store.map.size).toBe(0);
  });

  it('damaged queues (as an earlier version stored them) never throw, and never block the good items beside them', async () => {
    const store = memoryStore();
    const good = `{"at":${Date.now()},"kind":"actions","json":{"n":1}}`;
    const damaged = {
      text: '{not json',
      number: '5',
      nothing: 'null',
      object: '{"json":{"n":2}}',
      short: '[0]',
      items: '[0,{"json":{"n":3}}]',
      // Not objects, no event, events that are not JSON of an object (a string of JSON among them), one that went unanswered too often, and a good one.
      entries: `[0,[null,7,"x",[],{"json":null},{"json":5},{"json":"{\\"n\\":5}"},{"kind":"actions","json":{"n":4},"unanswered":3},${good}]]`,
      // A flag no version writes: taken at its word, the item would wait for an answer for ever.
      flagged: `[0,[{"at":${Date.now()},"kind":"actions","json":{"n":6},"sending":true}]]`,
    };
    for (const [name, value] of Object.entries(damaged)) store.set(LEGACY_PREFIX + name, value);
    const { calls, delivery } = engine([], { batchMaxTime: 10 }, store);
    await run(1000);
    expect(calls.map((call) => call.text)).toEqual(['[{"n":1},{"n":6}]']);
    expect(delivery.stats()).toMatchObject({ adopted: 2, sent: 2, dropped: 1 });
    expect(store.map.size).toBe(0);
  });
});

describe('storage full', () => {
  it('a back/forward cache restore keeps the items that storage never held', async () => {
    const store = memoryStore();
    store.full = true;
    const { delivery, actions } = engine([0, 0, 0], {}, store);
    actions(3);
    await run(30_000); // three requests unanswered: kept for the next page
    expect(delivery.stats().inOutbox).toBe(3);
    pagehide(true);
    dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
    expect(delivery.stats().inOutbox).toBe(3);
  });

  it('a restore still drops the items another page adopted meanwhile', async () => {
    const { delivery, store, actions } = engine([0, 0, 0]);
    actions(3);
    await run(30_000);
    pagehide(true);
    store.map.clear(); // another page load adopted the queue
    dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
    expect(delivery.stats().inOutbox).toBe(0);
  });

  it('a failed write leaves no older copy of the queue, whose delivered items the next page would send again', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999); // backoff: just under 1 s, then 2 s
    const { delivery, store } = engine([503, 503, 200, 0, 0, 0], { batchMaxTime: 10 });
    const stored = () => queueValues(store).flatMap((saved) => (JSON.parse(saved) as Array<{ json: unknown }>).map((item) => JSON.stringify(item.json)));
    delivery.push('actions', '{"n":0}');
    await run(SAVE_DELAY_MS); // sent, refused with 503, written while it waits to be sent again
    expect(stored()).toEqual(['{"n":0}']);
    store.full = true; // the app's own data, or another tab, fills storage
    delivery.push('users', '{"n":1}');
    await run(60_000); // the action is delivered; the user goes unanswered
    expect(delivery.stats()).toMatchObject({ sent: 1, inOutbox: 1 });
    pagehide();
    expect(stored()).toEqual([]); // the user could not be written either: it was only ever in memory
  });

  it('after storage refused a write, the queue is tried again a minute later, not at every change', async () => {
    const store = memoryStore();
    const set = store.set;
    let tries = 0;
    store.set = (key, value) => (tries++, set(key, value));
    store.full = true;
    const { delivery } = engine([0, 0, 0], {}, store); // the collector down: the items stay queued
    delivery.push('actions', '{"n":0}');
    await run(SAVE_DELAY_MS);
    expect(tries).toBe(1); // the lease, refused: nothing more is tried
    for (let n = 1; n <= 30; n++) {
      delivery.push('actions', `{"n":${n}}`);
      await run(1000);
    }
    expect(tries).toBe(1);
    store.full = false; // the app freed some space
    await run(30_000);
    expect(queueCount(store)).toBe(1);
  });
});

describe('backoff', () => {
  it('hiding the tab during a Retry-After wait writes the queue but sends nothing before the wait ends', async () => {
    const { store, calls, actions } = engine([[429, { 'Retry-After': '30' }]]);
    actions(1);
    await run(2600);
    expect(calls).toHaveLength(1);
    await run(1000);
    setHidden(true); // the visitor switches tabs 1 s into the 30 s asked for
    await run();
    expect(calls).toHaveLength(1);
    expect(queueCount(store)).toBe(1);
    await run(28_000);
    expect(calls).toHaveLength(1);
    await run(2000);
    expect(calls).toHaveLength(2);
    expect(store.map.size).toBe(0);
  });
});

describe('a page that took the collector for blocked', () => {
  it("leaves a closed tab's queue to the next page, instead of holding it until it closes", async () => {
    const store = memoryStore();
    const { delivery } = engine([0, 0, 0], { batchMaxTime: 10 }, store);
    delivery.push('actions', '{"n":0}');
    await run(30_000); // three requests unanswered: taken for blocked, nothing more sent on this page
    storeQueue(store, APP, 'closed', 0, [{ at: Date.now(), kind: 'actions', json: { n: 1 } }]);
    setHidden(true);
    setHidden(false); // the visitor comes back to this tab
    await run();
    expect(delivery.stats()).toMatchObject({ adopted: 0, inOutbox: 1 });
    // The next page load, in this tab or another, sends it.
    const next = engine([], { batchMaxTime: 10 }, store);
    await run(1000);
    expect(next.calls.flatMap((call) => call.items.map((item) => item.n))).toEqual([1]);
  });
  it('is not left paused for good when a request of the same burst is answered after it', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0); // no backoff wait
    // Without batching each item is a request of its own: hiding the tab sends all four at once. The
    // first three go unanswered (the page takes the collector for blocked), the fourth is answered.
    const { delivery, calls, actions } = engine([0, 0, 0, 200], { batchEnabled: false });
    actions(4);
    setHidden(true);
    expect(calls).toHaveLength(4);
    setHidden(false);
    await run(BLOCKED_RETRY_MS + 60_000);
    expect(delivery.stats()).toMatchObject({ inOutbox: 0, sent: 4 });
  });

  it('sends again as soon as consent, revoked, is granted again', async () => {
    const { delivery, store, calls, actions } = engine([0, 0, 0], { batchMaxTime: 10 });
    actions(1);
    await run(30_000); // three requests unanswered: taken for blocked
    expect(calls).toHaveLength(3);
    delivery.pause(store);
    delivery.resume(store);
    actions(1);
    await run(1000);
    expect(calls).toHaveLength(4);
    expect(delivery.stats()).toMatchObject({ sent: 1, inOutbox: 0 });
  });
});

describe('another tab that only looked closed', () => {
  it("a tab whose timers the browser slowed writes its queue again when it wakes: adopting it again takes only what is new", async () => {
    const store = memoryStore();
    // A hidden tab's heartbeat, once a minute under Chromium's intensive throttling: silent for longer than the lease.
    const silent = (ns: number[]) => storeQueue(store, APP, 'throttled', Date.now() - 60_000, ns.map((n) => ({ at: Date.now(), kind: 'actions', json: { n } })));
    silent([1, 2]);
    const { delivery } = engine([[503, { 'Retry-After': '300' }]], { batchMaxTime: 10 }, store);
    await run(1000); // the collector is down, and asks for 5 minutes: the items wait here
    expect(delivery.stats()).toMatchObject({ adopted: 2, inOutbox: 2 });
    silent([1, 2, 3]); // it woke, queued one more, and wrote what it holds
    setHidden(true);
    setHidden(false); // this tab is seen again, and adopts what looks abandoned
    await run();
    expect(delivery.stats()).toMatchObject({ adopted: 3, inOutbox: 3 });
    pagehide();
    const saved = JSON.parse(queueValues(store)[0]) as Array<{ json: { n: number } }>;
    expect(saved.map((item) => item.json.n)).toEqual([1, 2, 3]);
  });
});

describe('the clock', () => {
  it('set back an hour while storage is full: the queue is tried again a minute later, not an hour later', async () => {
    const store = memoryStore();
    store.full = true;
    const { actions } = engine([0, 0, 0], {}, store);
    actions(1);
    await run(SAVE_DELAY_MS); // refused: tried again in a minute
    store.full = false;
    vi.setSystemTime(Date.now() - 3_600_000);
    actions(1);
    await run(60_000 + SAVE_DELAY_MS);
    expect(queueCount(store)).toBe(1);
  });

  it('set back an hour while an item waits: its retry leaves after the backoff, not an hour later', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // backoff: 500 ms
    const { calls, actions } = engine([503]);
    actions(1);
    vi.setSystemTime(Date.now() - 3_600_000); // the visitor's clock is corrected while the batch waits
    await run(2500);
    expect(calls).toHaveLength(1);
    await run(10_000);
    expect(calls).toHaveLength(2);
  });

  it('set back an hour after a request: the next full batch leaves after the usual gap, not an hour later', async () => {
    const { calls, actions } = engine([], { batchSize: 2 });
    actions(2);
    await run();
    expect(calls).toHaveLength(1);
    vi.setSystemTime(Date.now() - 3_600_000);
    actions(2);
    await run(1000);
    expect(calls).toHaveLength(2);
  });

  it("set back an hour after another tab crashed: its queue is adopted at once, not an hour later", async () => {
    const store = memoryStore();
    // Its last heartbeat, written on the clock before it was set back: an hour ahead of the clock now.
    storeQueue(store, APP, 'crashed', Date.now() + 3_600_000, [{ at: Date.now(), kind: 'actions', json: { n: 1 } }]);
    const { delivery, calls } = engine([], {}, store);
    await run(1000);
    expect(delivery.stats()).toMatchObject({ adopted: 1, sent: 1 });
    expect(calls.flatMap((call) => call.items.map((item) => item.n))).toEqual([1]);
  });

  it('set back an hour after a write: the next change is written after SAVE_DELAY_MS, not an hour later', async () => {
    const { store, actions } = engine([0, 0, 0]);
    actions(1);
    await run(30_000); // three requests unanswered: the item waits for the next page, written
    expect(queueCount(store)).toBe(1);
    vi.setSystemTime(Date.now() - 3_600_000);
    const writes = store.writes;
    actions(1);
    await run(SAVE_DELAY_MS);
    expect(store.writes).toBeGreaterThan(writes);
  });
});

describe('pages that close before any answer', () => {
  /** One page load: adopts what is stored, sends, and closes with its request unanswered. */
  const pageLoad = async (store: ReturnType<typeof memoryStore>, track?: string) => {
    const { delivery, calls } = engine(['never'], { batchMaxTime: 10_000 }, store);
    if (track) delivery.push('actions', track);
    await run();
    pagehide();
    // Gone: its listeners must not answer the next pages' events.
    delivery.dispose();
    return calls;
  };

  it('an item is sent by at most 3 pages whose answers never came, then dropped', async () => {
    const store = memoryStore();
    const sends: string[] = [];
    for (let n = 0; n < 5; n++) {
      sends.push(...(await pageLoad(store, n ? undefined : '{"n":0}')).map((call) => call.text));
    }
    expect(sends).toEqual(['[{"n":0}]', '[{"n":0}]', '[{"n":0}]']);
    expect(store.map.size).toBe(0);
  });

  it('requests that fail while the page lives are not counted: the collector down across page loads loses nothing', async () => {
    const store = memoryStore();
    for (let n = 0; n < 5; n++) {
      const { delivery } = engine([0, 0, 0], { batchMaxTime: 10 }, store);
      if (!n) delivery.push('actions', '{"n":0}');
      await run(30_000);
      pagehide();
      delivery.dispose();
    }
    const { delivery, calls } = engine([], { batchMaxTime: 10 }, store);
    await run();
    expect(calls.map((call) => call.text).at(-1)).toBe('[{"n":0}]');
    expect(delivery.stats()).toMatchObject({ sent: 1, dropped: 0 });
  });
});

describe('dispose()', () => {
  it("removes the engine's page listeners: a page close after it sends nothing and saves nothing", async () => {
    const store = memoryStore();
    const { delivery, calls, actions } = engine([], {}, store);
    actions(3);
    await run(500);
    const writes = store.writes;
    delivery.dispose();
    pagehide();
    setHidden(true);
    await run(10_000);
    expect(calls).toEqual([]);
    expect(store.writes).toBe(writes);
  });
});
