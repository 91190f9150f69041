import { chromiumLaunchOptions } from './support/browser';
import { expect, test } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

/** Delivery across Chromium's back/forward cache, which Playwright turns off by default. */
test.use({ launchOptions: { ...chromiumLaunchOptions, ignoreDefaultArgs: ['--disable-back-forward-cache'] } });

const init = (extra = '') => `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 200 ${extra} });`;
const actionNames = (collector: Recorder) => collector.items('actions').map((action) => action.action_name);
/** Runs `script` once per tab (sessionStorage), so that going back to the page does not run it again. */
const once = (script: string) => `if (!sessionStorage.done) { sessionStorage.done = 1; ${script} }`;
test('a page back from the cache does not send again what another page sent meanwhile, and gives a collector it took for blocked another try', async ({ page, collector }) => {
  collector.refuse(true);
  const restoredFlag = `addEventListener('pageshow', (event) => { window.restored = event.persisted; });`;
  collector.page('/a', umdPage(`${init()} ${restoredFlag} ${once("for (let i = 0; i < 5; i++) moesif.track('Before ' + i)")}`), { cacheable: true });
  collector.page('/b', umdPage(init()), { cacheable: true });
  await page.goto(collector.url + '/a');
  // Three requests unanswered: the page takes the collector for blocked, and keeps its items for the next page.
  await expect.poll(() => collector.refused, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
  collector.refuse(false);
  await page.goto(collector.url + '/b');
  await collector.settled(page);
  expect(await page.evaluate(() => window.moesif.getStats())).toMatchObject({ adopted: 5, sent: 5 });
  await page.goBack({ waitUntil: 'commit' });
  await page.waitForFunction(() => (window as unknown as { restored?: boolean }).restored !== undefined);
  expect(await page.evaluate(() => (window as unknown as { restored: boolean }).restored)).toBe(true);
  await page.evaluate(() => window.moesif.track('Back'));
  await expect.poll(() => actionNames(collector)).toContain('Back');
  await collector.settled(page);
  const ids = collector.items('actions').map((action) => action.transaction_id);
  expect(ids).toHaveLength(6);
  expect(new Set(ids).size).toBe(6);
});
