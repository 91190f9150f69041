import type { Page } from '@playwright/test';
import { expect, test, type PageAndCollector } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

// Each test gets its own collector, since several fail or refuse on purpose.
const init = (extra = '') => `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 200 ${extra} });`;
const actionIds = (collector: Recorder) => collector.items('actions').map((a) => a.transaction_id as string);
const actionRequests = (collector: Recorder) => collector.received.filter((r) => r.path === '/v1/actions/batch' && r.status < 300);
const expectEachOnce = (ids: string[], count: number) => {
  expect(ids.length).toBe(count);
  expect(new Set(ids).size).toBe(count);
};
const open = async ({ page, collector }: PageAndCollector, script: string, path = '/p') => {
  collector.page(path, umdPage(script));
  await page.goto(collector.url + path);
};

test('1,000 track() calls reach the collector exactly once each, in at most 40 requests', async ({ page, collector }) => {
  await open({ page, collector }, `${init()} for (let i = 0; i < 1000; i++) moesif.track('Event ' + i, { i });`);
  await expect.poll(() => actionIds(collector), { timeout: 20_000 }).toHaveLength(1000);
  expectEachOnce(actionIds(collector), 1000);
  expect(actionRequests(collector).length).toBeLessThanOrEqual(40);
  const seen = collector.items('actions').map((a) => (a.metadata as { i: number }).i);
  expect(new Set(seen)).toEqual(new Set(Array.from({ length: 1000 }, (_, i) => i)));
});

test('full batches back to back: each leaves once the last answer arrived whole, so none fails on the keepalive quota', async ({ page, collector }) => {
  // Chromium counts a keepalive request against the page's 64 KB quota until its answer's body has
  // arrived; a full batch (60 KB) sent when only the last answer's headers had come failed with
  // "Failed to fetch", and three such failures in a row had the collector taken for blocked.
  collector.bodiesLate(300);
  await open({ page, collector }, `${init()} for (let i = 0; i < 1000; i++) moesif.track('Event ' + i, { i, pad: 'x'.repeat(200) });`);
  await expect.poll(() => actionIds(collector), { timeout: 30_000 }).toHaveLength(1000);
  expectEachOnce(actionIds(collector), 1000);
  const stats = await page.evaluate(() => (window as unknown as { moesif: { getStats(): { retried: number; requests: number } } }).moesif.getStats());
  expect(stats.retried).toBe(0);
  expect(stats.requests).toBe(actionRequests(collector).length);
});

test('a page that tracks and navigates away within 10 ms delivers, 50 pages in a row under 150 ms latency', async ({ page, context, collector }) => {
  test.setTimeout(120_000);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: -1, uploadThroughput: -1 });
  collector.page('/next', '<!doctype html><title>next</title>');
  for (let n = 0; n < 50; n++) {
    // Leaves 5 ms after tracking: time is the scenario.
    collector.page(`/close-${n}`, umdPage(`${init(", batchMaxTime: 10000")} moesif.track('Closing ${n}'); setTimeout(() => { location.href = '/next'; }, 5);`));
    await page.goto(`${collector.url}/close-${n}`);
    await page.waitForURL('**/next');
  }
  await expect.poll(() => new Set(collector.items('actions').map((a) => a.action_name)).size, { timeout: 30_000 }).toBe(50);
  // Each page sends its item as it closes and keeps it until answered, and the answer never reaches a
  // page that is gone: the next page sends it again (same transaction_id). Repeats stay bounded.
  // A pause, not a state: the pages that sent these are gone, so no SDK is left to ask whether their
  // keepalive requests are still on the way; what is counted after it is a bound, not an exact value.
  await page.waitForTimeout(1000);
  const received = collector.items('actions').length;
  console.log(`page close: ${received} items received for 50 distinct`);
  expect(received).toBeLessThanOrEqual(3 * 50); // at most 3 unanswered sends per item; measured 132; 522 without the limit
});

// An outage counted in requests, not seconds: the retries' random waits double after each failure, so
// a 20 s outage sometimes saw 7 or 8 failures, and the wait after the last one (up to 64 or 128 s) ran
// past the poll below. After five failures the waits add up to 31 s at most.
test('a collector answering 503 to five requests in a row gets every event once it recovers, none twice', async ({ page, collector }) => {
  test.setTimeout(120_000);
  collector.failWith({ status: 503, times: 5 });
  await open({ page, collector }, `${init()} for (let i = 0; i < 30; i++) moesif.track('Outage ' + i);`);
  await expect.poll(() => collector.received.length).toBeGreaterThan(0);
  await expect.poll(() => actionIds(collector), { timeout: 90_000, intervals: [1000] }).toHaveLength(30);
  await collector.settled(page);
  expectEachOnce(actionIds(collector), 30);
});

test('events queued while the collector is down survive two reloads and arrive after the next load', async ({ page, collector }) => {
  collector.refuse(true);
  collector.page('/p', umdPage(`${init()} if (!sessionStorage.done) { sessionStorage.done = 1; for (let i = 0; i < 10; i++) moesif.track('Offline ' + i); }`));
  // Each load tries to send (and is refused) before the next reload.
  await page.goto(collector.url + '/p');
  await expect.poll(() => collector.refused).toBeGreaterThan(0);
  for (let reload = 0; reload < 2; reload++) {
    const refused = collector.refused;
    await page.reload();
    await expect.poll(() => collector.refused).toBeGreaterThan(refused);
  }
  expect(actionIds(collector)).toHaveLength(0);
  collector.refuse(false);
  await page.reload();
  // The page closed by the reload may have sent its queue with keepalive as it went; that outcome is
  // unknowable to the next page, which sends the items again, with the same transaction ids.
  await expect.poll(() => new Set(actionIds(collector)).size, { timeout: 15_000 }).toBe(10);
});

test('two tabs tracking at once lose nothing and send nothing twice', async ({ context, collector }) => {
  const tabs = await Promise.all([context.newPage(), context.newPage()]);
  collector.page('/p', umdPage(`${init()} for (let i = 0; i < 200; i++) moesif.track('Tab ' + i);`));
  await Promise.all(tabs.map((tab) => tab.goto(collector.url + '/p')));
  await expect.poll(() => actionIds(collector), { timeout: 20_000 }).toHaveLength(400);
  for (const tab of tabs) await collector.settled(tab);
  expectEachOnce(actionIds(collector), 400);
});

test('a 413 splits the batch in halves until it fits', async ({ page, collector }) => {
  collector.failWith({ status: 413, itemsOver: 3 });
  await open({ page, collector }, `${init(', batchSize: 8, batchMaxTime: 50')} for (let i = 0; i < 8; i++) moesif.track('Split ' + i);`);
  await expect.poll(() => actionIds(collector), { timeout: 20_000 }).toHaveLength(8);
  expectEachOnce(actionIds(collector), 8);
  const sizes = actionRequests(collector).map((r) => (r.body as unknown[]).length);
  expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
});

test('a 400 drops only the poison batch; later events still arrive', async ({ page, collector }) => {
  collector.failWith({ status: 400 });
  const warnings: string[] = [];
  page.on('console', (message) => message.type() === 'warning' && warnings.push(message.text()));
  await open({ page, collector }, `${init(', batchMaxTime: 50')} moesif.track('Poison');`);
  await expect.poll(() => collector.received.length).toBe(1);
  collector.failWith(undefined);
  await page.evaluate(() => window.moesif.track('After'));
  await expect.poll(() => collector.items('actions').map((a) => a.action_name)).toEqual(['After']);
  expect(warnings.some((w) => w.includes('400'))).toBe(true);
});

test('Retry-After: 3 is honoured: no retry before 3 s', async ({ page, collector }) => {
  collector.failWith({ status: 429, retryAfter: '3', times: 1 });
  await open({ page, collector }, `${init(', batchMaxTime: 50')} moesif.track('Later');`);
  await expect.poll(() => actionIds(collector), { timeout: 15_000 }).toHaveLength(1);
  const [refused, accepted] = collector.received.filter((r) => r.path.startsWith('/v1/actions'));
  expect(accepted.at - refused.at).toBeGreaterThanOrEqual(2_900);
});

test('with localStorage full, events still arrive, with one warning', async ({ page, collector }) => {
  // The batch waits 3 s: past the outbox's first write (1 s), which fails.
  const warnings: string[] = [];
  page.on('console', (message) => message.type() === 'warning' && warnings.push(message.text()));
  await open(
    { page, collector },
    `try { const block = 'x'.repeat(1024 * 1024); for (let i = 0; i < 20; i++) localStorage.setItem('filler' + i, block); } catch {}
     try { for (let i = 0; i < 2000; i++) localStorage.setItem('small' + i, 'y'.repeat(1000)); } catch {}
     ${init(', batchSize: 100, batchMaxTime: 3000')} for (let i = 0; i < 50; i++) moesif.track('Full ' + i);`,
  );
  await expect.poll(() => actionIds(collector), { timeout: 15_000 }).toHaveLength(50);
  expectEachOnce(actionIds(collector), 50);
  expect(warnings.filter((w) => w.includes('usertrail'))).toHaveLength(1);
});

test('20 visibility changes and bfcache-style pagehide/pageshow do not multiply timers or requests', async ({ page, collector }) => {
  await open({ page, collector }, `${init(', batchMaxTime: 1000')} window.tick = () => moesif.track('Tick');`);
  const requestsFor = async (ms: number) => {
    const before = collector.received.length;
    const start = Date.now();
    while (Date.now() - start < ms) {
      await page.evaluate(() => window.tick());
      await page.waitForTimeout(100); // one tick every 100 ms for `ms`: time is the scenario
    }
    await collector.settled(page);
    return collector.received.length - before;
  };
  const baseline = await requestsFor(3000);
  // The SDK reads document.hidden: both are overridden, so that every other toggle really hides the page.
  const hiddenSeen = await page.evaluate(() => {
    const seen: boolean[] = [];
    document.addEventListener('visibilitychange', () => seen.push(document.hidden));
    const show = (visible: boolean) => {
      Object.defineProperty(document, 'visibilityState', { value: visible ? 'visible' : 'hidden', configurable: true });
      Object.defineProperty(document, 'hidden', { value: !visible, configurable: true });
    };
    for (let i = 0; i < 20; i++) {
      show(i % 2 == 1);
      document.dispatchEvent(new Event('visibilitychange'));
      dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
    }
    show(true);
    return seen;
  });
  expect(hiddenSeen).toEqual(Array.from({ length: 20 }, (_, i) => i % 2 == 0));
  const after = await requestsFor(3000);
  expect(after).toBeLessThanOrEqual(baseline + 2);
});

test('with useBeacon, batches leave as text/plain beacons carrying the application id in the query, each once', async ({ page, collector }) => {
  await open({ page, collector }, `${init(', useBeacon: true, batchMaxTime: 50')} for (let i = 0; i < 5; i++) moesif.track('Beacon ' + i);`);
  await expect.poll(() => actionIds(collector), { timeout: 15_000 }).toHaveLength(5);
  await collector.settled(page);
  expectEachOnce(actionIds(collector), 5);
  for (const request of actionRequests(collector)) {
    expect(request.query.get('X-Moesif-Application-Id')).toBe('app');
    expect(request.headers['content-type']).toMatch(/^text\/plain/);
  }
  expect(await page.evaluate(() => window.moesif.getStats())).toMatchObject({ queued: 5, sent: 5, inOutbox: 0 });
});

/**
 * An outage with events full of quotes (captured bodies that are JSON text, Windows paths): what the SDK
 * keeps in localStorage must stay near maxOutboxBytes, or tabs left open through a long outage fill the
 * origin's quota and the app's own writes fail. Each tab tracks 300 events of about 2 KB, twelve times
 * what the outbox may hold, once per tab (sessionStorage), so that a reload only adopts and sends.
 */
const MAX_OUTBOX = 50_000;
const quotedPage = () =>
  umdPage(`${init(`, maxOutboxBytes: ${MAX_OUTBOX}`)}
    if (!sessionStorage.tracked) {
      sessionStorage.tracked = 1;
      const body = JSON.stringify({ said: 'he said "no", then "yes"', path: 'C:\\\\Users\\\\x' }).repeat(20);
      for (let i = 0; i < 300; i++) moesif.track('Quoted ' + i, { i, body });
    }`);
/** Characters the SDK's outbox keys and values take in the page's localStorage: what the origin's quota counts. */
const outboxLength = (page: Page) =>
  page.evaluate(() =>
    Object.keys(localStorage)
      .filter((key) => key.includes(':outbox:'))
      .reduce((sum, key) => sum + key.length + localStorage.getItem(key)!.length, 0),
  );
const inOutbox = (page: Page): Promise<number> => page.evaluate(() => window.moesif.getStats()!.inOutbox);
/** UTF-8 bytes of the events received (as JSON, the way they were queued). */
const receivedBytes = (collector: Recorder) => collector.items('actions').reduce((sum, item) => sum + Buffer.byteLength(JSON.stringify(item)), 0);
/** The `i` of each action received, in order. */
const receivedIndexes = (collector: Recorder) => collector.items('actions').map((a) => (a.metadata as { i: number }).i);

test('with the collector down, events full of quotes fill localStorage only up to maxOutboxBytes; after it recovers and the page reloads, each kept one arrives once', async ({ page, collector }) => {
  collector.refuse(true);
  collector.page('/p', quotedPage());
  await page.goto(collector.url + '/p');
  // Three requests unanswered: the page takes the collector for blocked and sends nothing more, not even as it closes.
  await expect.poll(() => collector.refused, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
  // Every event tracked, and the outbox written up to its bound.
  await expect.poll(() => page.evaluate(() => window.moesif.getStats()!.queued)).toBe(300);
  await expect.poll(() => outboxLength(page)).toBeGreaterThan(MAX_OUTBOX - 2_500);
  const stored = await outboxLength(page);
  const kept = await inOutbox(page);
  expect(stored).toBeLessThanOrEqual(MAX_OUTBOX + 100); // the value, and its key
  expect(stored).toBeGreaterThan(MAX_OUTBOX - 2_500); // at most one event's room left
  collector.refuse(false);
  await page.reload();
  await expect.poll(() => collector.items('actions').length, { timeout: 15_000 }).toBe(kept);
  await collector.settled(page);
  expectEachOnce(actionIds(collector), kept);
  // The newest ones: the oldest are dropped first.
  expect(receivedIndexes(collector).sort((a, b) => a - b)).toEqual(Array.from({ length: kept }, (_, n) => 300 - kept + n));
  console.log(`outbox: ${stored} characters stored for ${receivedBytes(collector)} bytes of ${kept} events (${(stored / receivedBytes(collector)).toFixed(3)})`);
});

test("two tabs open through an outage hold maxOutboxBytes of localStorage together, not each; a later page sends both tabs' items once", async ({ context, collector }) => {
  collector.refuse(true);
  collector.page('/p', quotedPage());
  collector.page('/bye', '<!doctype html><title>bye</title>');
  const tabs = [await context.newPage(), await context.newPage()];
  for (const tab of tabs) await tab.goto(collector.url + '/p');
  await expect.poll(() => collector.refused, { timeout: 15_000 }).toBeGreaterThanOrEqual(6);
  // The first tab makes room for the second's share at its next write (its heartbeat, every 5 s).
  await expect.poll(() => outboxLength(tabs[0]), { timeout: 10_000 }).toBeLessThanOrEqual(MAX_OUTBOX + 200);
  const stored = await outboxLength(tabs[0]);
  expect(stored).toBeGreaterThan(MAX_OUTBOX - 5_000); // at most one event's room left in each
  const kept = (await inOutbox(tabs[0])) + (await inOutbox(tabs[1]));
  await tabs[1].goto(collector.url + '/bye');
  collector.refuse(false);
  await tabs[0].reload();
  await expect.poll(() => collector.items('actions').length, { timeout: 15_000 }).toBe(kept);
  await collector.settled(tabs[0]);
  expectEachOnce(actionIds(collector), kept);
  console.log(`two tabs: ${stored} characters stored for ${kept} events`);
});
