import { readFileSync } from 'node:fs';
import type { Route } from '@playwright/test';
import { expect, test } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

/**
 * Durability at the edges: queues in storage that another version (or damage) wrote, items queued
 * after the page is gone, and what another tab does to this tab's queue. Each test gets its own
 * collector, since several refuse on purpose.
 */
const PREFIX = 'usertrail:v3:outbox:app:';
const init = (extra = '') => `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 200 ${extra} });`;
const actionNames = (collector: Recorder) => collector.items('actions').map((action) => action.action_name);
/** Runs `script` once per tab (sessionStorage), so that a reload only adopts and sends. */
const once = (script: string) => `if (!sessionStorage.done) { sessionStorage.done = 1; ${script} }`;

test('a stored item with a damaged date or kind never spoils the queue that adopts it: the good items beside it arrive', async ({ page, collector }) => {
  collector.refuse(true);
  const action = (name: string) => ({ action_name: name, transaction_id: `id-${name}`, request: { time: new Date().toISOString(), uri: 'http://127.0.0.1/', verb: 'GET', user_agent_string: 'test' } });
  // A queue another version (or damage) wrote, with a good item between items whose date or kind is not what we write.
  const damaged = JSON.stringify([
    0,
    [
      { at: 'yesterday', kind: 'actions', json: action('Dated in words') },
      { at: Date.now(), kind: 'actions', json: action('Good') },
      { at: Date.now(), kind: 'act"ions', json: action('Quoted kind') },
      { at: 'Infinity', kind: 'actions', unanswered: '-Infinity', json: action('Infinite') },
    ],
  ]);
  collector.page('/p', umdPage(`localStorage.setItem('${PREFIX}old', ${JSON.stringify(damaged)}); ${init()} ${once("moesif.track('Mine')")}`));
  await page.goto(collector.url + '/p');
  // The page adopts the damaged queue, tries to send, and writes what it holds while the collector is down.
  await expect.poll(() => collector.refused, { timeout: 15_000 }).toBeGreaterThanOrEqual(3);
  await expect.poll(() => page.evaluate(() => Object.keys(localStorage).filter((key) => key.includes(':outbox:')).length)).toBe(1);
  collector.refuse(false);
  collector.page('/p', umdPage(`${init()}`));
  await page.reload();
  await expect.poll(() => actionNames(collector), { timeout: 15_000 }).toEqual(expect.arrayContaining(['Mine', 'Good', 'Dated in words', 'Infinite']));
  await collector.settled(page);
  expect(actionNames(collector).sort()).toEqual(['Dated in words', 'Good', 'Infinite', 'Mine']);
});

test("an action the app tracks in its own pagehide listener, on a page already hidden (a background tab closing), arrives", async ({ page, collector }) => {
  collector.page('/bye', '<!doctype html><title>bye</title>');
  collector.page(
    '/p',
    umdPage(`${init(', batchMaxTime: 10000')}
      // A background tab: hidden before it goes, so the browser fires no visibilitychange as it closes.
      // Headless Chromium's pages are always visible, so the page plays both.
      Object.defineProperty(document, 'hidden', { value: true, configurable: true });
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
      addEventListener('visibilitychange', (event) => event.stopImmediatePropagation(), true);
      // The app's listener, added after init(): it runs after the SDK's own.
      addEventListener('pagehide', () => moesif.track('Left'));`),
  );
  await page.goto(collector.url + '/p');
  await page.evaluate(() => {
    location.href = '/bye';
  });
  await page.waitForURL('**/bye');
  await expect.poll(() => actionNames(collector)).toContain('Left');
});

test('flush() settles when consent is revoked while its request is under way', async ({ page, collector }) => {
  // The answer's body comes 3 s after its headers: the request stays under way until then.
  collector.bodiesLate(3000);
  collector.page('/p', umdPage(init()));
  await page.goto(collector.url + '/p');
  await page.evaluate(() => {
    const flags = window as unknown as { flushed: boolean };
    flags.flushed = false;
    window.moesif.track('Logging out');
    void window.moesif.flush().then(() => {
      flags.flushed = true;
    });
  });
  await expect.poll(() => collector.received.length).toBe(1);
  await page.evaluate(() => window.moesif.revokePublishingConsent());
  // The request is answered, or not: either way nothing more will be sent, and an app awaiting flush() goes on.
  await expect.poll(() => page.evaluate(() => (window as unknown as { flushed: boolean }).flushed), { timeout: 10_000 }).toBe(true);
});

test('an action tracked offline survives pages read offline (an offline app), and arrives once the browser is online', async ({ page, context, collector }) => {
  // Pages come from the app's cache (here, Playwright's routes, which answer offline too); the network is gone.
  const sdk = readFileSync('dist/moesif.min.js', 'utf8');
  await context.route('**/dist/moesif.min.js', (route) => route.fulfill({ contentType: 'text/javascript', body: sdk }));
  const pageAt = (html: string) => (route: Route) => route.fulfill({ contentType: 'text/html', body: html });
  for (let n = 0; n < 4; n++) {
    const next = n < 3 ? `/read-${n + 1}` : '/end';
    // The visitor reads each page for 1.5 s, long enough for a first retry's backoff to pass: time is the scenario.
    const script = `${init()} ${n ? '' : "moesif.track('Read offline');"} setTimeout(() => { location.href = '${next}'; }, 1500);`;
    await context.route(`**/read-${n}`, pageAt(umdPage(script)));
  }
  await context.route('**/end', pageAt('<!doctype html><title>end</title>'));
  await context.route('**/online', pageAt(umdPage(init())));
  // Playwright's offline mode sets navigator.onLine, but lets keepalive requests sent as a page closes
  // through: the collector refuses them.
  await context.setOffline(true);
  collector.refuse(true);
  // What each page told the console (a drop says why), for the failure message: this test failed once
  // in a full run under load (the cause not found), and passed in every run since, 17 of them.
  const warnings: string[] = [];
  page.on('console', (message) => {
    if (message.type() == 'warning') warnings.push(`${page.url()}: ${message.text()}`);
  });
  await page.goto(collector.url + '/read-0');
  await page.waitForURL('**/end', { timeout: 15_000 });
  await context.setOffline(false);
  collector.refuse(false);
  await page.goto(collector.url + '/online');
  await expect
    .poll(() => actionNames(collector))
    .toContain('Read offline')
    .catch(async (error: Error) => {
      const stats = await page.evaluate(() => window.moesif.getStats());
      throw new Error(`${error.message}\nthe online page's stats: ${JSON.stringify(stats)}\nwarnings: ${JSON.stringify(warnings)}`);
    });
});
