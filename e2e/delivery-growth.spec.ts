import type { BrowserContext, Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

/**
 * What a long-lived page costs as its queue grows: an SPA left open offline for hours, a tab switched
 * to and from, several tabs through an outage. Counted in the page (every localStorage write and read,
 * by wrapping Storage.prototype), on a clock of Playwright's (one per context), so a minute passes at once.
 */
/** Counts every localStorage write and read, and the characters they carry, before the SDK loads. */
const COUNT_STORAGE = `<script>
  window.storageCounts = { writes: 0, written: 0, largest: 0, reads: 0, read: 0, leaseWrites: 0 };
  const { setItem, getItem } = Storage.prototype;
  Storage.prototype.setItem = function (key, value) {
    storageCounts.writes++;
    if (String(key).includes(':lease:')) storageCounts.leaseWrites++;
    storageCounts.written += String(value).length;
    storageCounts.largest = Math.max(storageCounts.largest, String(value).length);
    return setItem.call(this, key, value);
  };
  Storage.prototype.getItem = function (key) {
    const value = getItem.call(this, key);
    storageCounts.reads++;
    storageCounts.read += value ? value.length : 0;
    return value;
  };
</script>`;

interface StorageCounts {
  writes: number;
  written: number;
  /** Characters of the largest value written. */
  largest: number;
  reads: number;
  read: number;
  /** Writes of the SDK's leases: one per try to write a queue (see src/delivery/saved-queue.ts). */
  leaseWrites: number;
}
const counts = (page: Page): Promise<StorageCounts> => page.evaluate(() => (window as unknown as { storageCounts: StorageCounts }).storageCounts);
const resetCounts = (page: Page) => page.evaluate(() => Object.assign((window as unknown as { storageCounts: StorageCounts }).storageCounts, { writes: 0, written: 0, largest: 0, reads: 0, read: 0, leaseWrites: 0 }));
/** Characters of this application's queues in storage (leases aside). */
const queueChars = (page: Page) =>
  page.evaluate(() => Object.keys(localStorage).filter((key) => key.includes(':outbox:')).reduce((sum, key) => sum + localStorage.getItem(key)!.length, 0));

/** Pages (tabs of one site) on the context's clock, with the SDK and storage counted, gone offline holding `items` actions of about 300 bytes each. */
async function offlinePages({ context, collector }: { context: BrowserContext; collector: Recorder }, items: number, tabs = 1): Promise<Page[]> {
  collector.page('/long-lived', umdPage(`moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port });`, COUNT_STORAGE));
  const pages: Page[] = [];
  for (let tab = 0; tab < tabs; tab++) {
    const page = await context.newPage();
    await page.clock.install();
    await page.goto(collector.url + '/long-lived');
    pages.push(page);
  }
  await context.setOffline(true);
  for (const page of pages) {
    await page.evaluate((count) => {
      for (let n = 0; n < count; n++) window.moesif.track('Offline', { n, note: 'x'.repeat(200) });
    }, items);
    // Written once (the change waits SAVE_DELAY_MS, then 200 ms and 1 ms per item after the last write).
    await page.clock.runFor(5_000);
    // The first batch left as the clock ran, and fails: the SDK learns it is offline from a failed
    // request. That failure comes in real time, not on the page's clock, so it is waited for, and what
    // it changed written, before a test counts (else its writes fell in the counted minute, or not).
    await expect.poll(() => page.evaluate(() => window.moesif.getStats()!.retried)).toBeGreaterThan(0);
    await page.clock.runFor(5_000);
  }
  expect(await queueChars(pages[0])).toBeGreaterThan(tabs * items * 300);
  return pages;
}

const setHidden = (page: Page, hidden: boolean) =>
  page.evaluate((value) => {
    Object.defineProperty(document, 'hidden', { value, configurable: true });
    Object.defineProperty(document, 'visibilityState', { value: value ? 'hidden' : 'visible', configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);

test('an idle page offline with 1,000 items queued writes a few bytes a minute (its lease), not its queue every 5 s', async ({ context, collector }) => {
  const [page] = await offlinePages({ context, collector }, 1000);
  const stored = await queueChars(page);
  await resetCounts(page);
  await page.clock.runFor(60_000);
  const { writes, written } = await counts(page);
  // The heartbeat still runs while items wait (other tabs must see this tab alive), 12 times a minute.
  expect(writes).toBe(12);
  // Each a lease of about 20 characters; before, each rewrote the queue (about 300 KB here, 3.6 MB a minute).
  expect(written).toBeLessThan(12 * 40);
  expect(await queueChars(page)).toBe(stored);
  expect(await page.evaluate(() => window.moesif.getStats()!.inOutbox)).toBe(1000);
});

test('a busy page offline with its outbox at the byte limit writes the parts of the queue that changed, not the whole queue', async ({ context, collector }) => {
  // About 1.2 MB of items for a 1 MB outbox: it holds what fits, and each write drops the oldest.
  const [page] = await offlinePages({ context, collector }, 3000);
  await resetCounts(page);
  for (let second = 0; second < 60; second++) {
    await page.evaluate(() => window.moesif.track('Still offline', { note: 'x'.repeat(200) }));
    await page.clock.runFor(1_000);
  }
  const { writes, written, largest } = await counts(page);
  expect(writes).toBeGreaterThan(0);
  // No value written is larger than a part (32 KB of items) with an item and its brackets; before, each
  // write was the whole queue (about 1 MB here), some 20 MB a minute.
  expect(largest).toBeLessThan(34_000);
  // Per write of the queue: the lease, the part the new items went to, and the part the oldest were dropped from.
  expect(written).toBeLessThan(writes * 34_000);
  expect(await page.evaluate(() => window.moesif.getStats()!.dropped)).toBeGreaterThan(0);
});

test('switching away from and back to a tab offline with 1,000 items queued writes no queue', async ({ context, collector }) => {
  const [page] = await offlinePages({ context, collector }, 1000);
  await resetCounts(page);
  for (let round = 0; round < 10; round++) {
    await setHidden(page, true);
    await setHidden(page, false);
    await page.clock.runFor(100);
  }
  const { writes, written } = await counts(page);
  // Each hide, and each adoption check when shown, renews the lease (and the heartbeat may fall in the
  // second): it is all that changed. Before, each wrote the whole queue, about 300 KB here.
  expect(writes).toBeGreaterThanOrEqual(20);
  expect(written).toBeLessThan(writes * 40);
});

test("a tab weighs the other tabs' queues against the byte limit by their leases, without reading the queues", async ({ context, collector }) => {
  const [first, second] = await offlinePages({ context, collector }, 1000, 2);
  for (const page of [first, second]) await resetCounts(page);
  // One clock for the context's pages: a minute for both tabs.
  await first.clock.runFor(60_000);
  for (const page of [first, second]) {
    const { reads, read } = await counts(page);
    // A heartbeat every 5 s, each weighing the other tab's lease (about 20 characters), not its 300 KB queue.
    expect(reads).toBe(12);
    expect(read).toBeLessThan(reads * 40);
  }
});

/** A page offline whose localStorage the app filled, holding 1,000 items that storage refused. */
async function offlineWithStorageFull({ page, context, collector }: { page: Page; context: BrowserContext; collector: Recorder }): Promise<void> {
  const fillStorage = `try { for (let i = 0; i < 20; i++) localStorage.setItem('filler' + i, 'x'.repeat(1024 * 1024)); } catch {}
    try { for (let i = 0; i < 2000; i++) localStorage.setItem('small' + i, 'y'.repeat(1000)); } catch {}`;
  collector.page('/full', umdPage(`${fillStorage} moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port });`, COUNT_STORAGE));
  await page.clock.install();
  await page.goto(collector.url + '/full');
  await context.setOffline(true);
  await page.evaluate(() => {
    for (let n = 0; n < 1000; n++) window.moesif.track('Offline', { n, note: 'x'.repeat(200) });
  });
  await page.clock.runFor(5_000); // the first request (offline, it fails) and the first write, which fails
  // The failed request settles in real time, after the clock ran: its items, no longer in flight, are a change.
  await expect.poll(() => page.evaluate(() => window.moesif.getStats()!.retried)).toBeGreaterThan(0);
  await page.clock.runFor(5_000);
  expect(await queueChars(page)).toBe(0);
}

/** The items of this application's queues in storage. */
const storedItems = (page: Page) =>
  page.evaluate(() =>
    Object.keys(localStorage)
      .filter((key) => key.includes(':outbox:'))
      .flatMap((key) => JSON.parse(localStorage.getItem(key)!) as unknown[]),
  );
const freeSpace = (page: Page) =>
  page.evaluate(() => {
    for (let i = 0; i < 20; i++) localStorage.removeItem('filler' + i);
  });

test('a page offline with localStorage full tries its queue again once a minute, however often it changes, and saves it once space is freed', async ({ page, context, collector }) => {
  await offlineWithStorageFull({ page, context, collector });
  // A change every second for two minutes: each try writes the lease, then the queue's parts until one
  // is refused. Before, each change was tried (after SAVE_DELAY_MS and 1 ms per item): 80 tries here.
  await resetCounts(page);
  for (let second = 0; second < 120; second++) {
    await page.evaluate(() => window.moesif.track('Still offline'));
    await page.clock.runFor(1_000);
  }
  const { leaseWrites } = await counts(page);
  expect(leaseWrites).toBeGreaterThanOrEqual(1);
  expect(leaseWrites).toBeLessThanOrEqual(3);
  expect(await queueChars(page)).toBe(0);
  expect(await page.evaluate(() => window.moesif.getStats()!.inOutbox)).toBe(1120);

  // The app frees space: within the minute, with no change meanwhile, the queue is written whole.
  await freeSpace(page);
  await page.clock.runFor(60_000);
  expect(await storedItems(page)).toHaveLength(1120);
});

test('a page closing with localStorage full tries its queue once more, for the next page load', async ({ page, context, collector }) => {
  await offlineWithStorageFull({ page, context, collector });
  await freeSpace(page);
  // Within the minute after the refused write: only the page's close tries again.
  await page.evaluate(() => dispatchEvent(new PageTransitionEvent('pagehide', { persisted: false })));
  expect(await storedItems(page)).toHaveLength(1000);
});

test('items an earlier version (v3) left in storage are sent by the next page load, once, and its key removed', async ({ page, collector }) => {
  const action = (name: string) => ({ action_name: name, transaction_id: `id-${name}`, request: { time: new Date().toISOString(), uri: 'http://127.0.0.1/', verb: 'GET', user_agent_string: 'test' } });
  // What usertrail's earlier outbox (v3) left as its page closed: its heartbeat (0) and its queue, in one value.
  const v3 = JSON.stringify([0, [{ at: Date.now(), kind: 'actions', unanswered: 0, json: action('Queued by v3') }]]);
  collector.page('/upgraded', umdPage(`localStorage.setItem('usertrail:v3:outbox:app:old-tab', ${JSON.stringify(v3)}); moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 200 });`));
  await page.goto(collector.url + '/upgraded');
  await expect.poll(() => collector.items('actions').map((item) => item.action_name)).toEqual(['Queued by v3']);
  await collector.settled(page);
  expect(await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('usertrail:v3:')))).toEqual([]);
  expect(collector.items('actions')).toHaveLength(1);
});
