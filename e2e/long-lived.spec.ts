import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

/**
 * A single-page app left open all day (bench/soak.mjs measures one through 20,000 operations): what the
 * SDK keeps on the page must not grow with the work. Counts, not sizes: the listeners on window and
 * document, and the keys in localStorage, once everything queued has been delivered.
 */

/**
 * The app: `work(count)` makes `count` client-side navigations, each followed by one API call of the
 * app's (fetch or XMLHttpRequest; answered, failing with 500, failing without an answer, or aborted),
 * one after the other. Every navigation is one page view and every call one captured event. Every
 * 100th navigation also comes after a log-out and log-in (one users call), a stop() and start() of
 * capture, and the tab hidden and shown (headless Chromium never hides a page: the page says so and
 * tells its listeners, as the browser would).
 */
const APP = `
  moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, trackPageViews: true });
  moesif.start();
  // Logged in from the start, so that the first count includes the user's id in storage.
  moesif.identifyUser('user-0');
  let route = 0;
  let hidden = false;
  Object.defineProperty(document, 'hidden', { get: () => hidden, configurable: true });
  const setHidden = (next) => {
    hidden = next;
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  };
  const xhr = (url, abort) => new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open('GET', url);
    request.onloadend = resolve;
    request.send();
    if (abort) request.abort();
  });
  const calls = [
    () => fetch('/api/echo?n=' + route).then((response) => response.json()),
    () => fetch('/api/echo?status=500').then((response) => response.text()),
    () => fetch('/api/close').catch(() => {}),
    () => { const controller = new AbortController(); const call = fetch('/api/text', { signal: controller.signal }).catch(() => {}); controller.abort(); return call; },
    () => xhr('/api/echo?n=' + route),
    () => xhr('/api/echo?status=500'),
    () => xhr('/api/text', true),
  ];
  window.work = async (count) => {
    for (let i = 0; i < count; i++) {
      route++;
      if (route % 100 == 0) {
        moesif.reset();
        moesif.identifyUser('user-' + route);
        moesif.stop();
        moesif.start();
        setHidden(true);
        setHidden(false);
      }
      if (route % 3) history.pushState({ route }, '', '/app/' + route);
      else location.hash = '#' + route;
      document.title = 'Route ' + route;
      await calls[route % calls.length]();
    }
  };
`;

/** What the SDK keeps on the page: the types of the listeners on window and on document (DevTools' view), and the localStorage keys. */
async function kept(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  const listenerTypes = async (expression: string): Promise<string[]> => {
    const { result } = await cdp.send('Runtime.evaluate', { expression });
    const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: result.objectId! });
    return listeners.map((listener) => listener.type).sort();
  };
  const state = { window: await listenerTypes('window'), document: await listenerTypes('document'), storage: await page.evaluate(() => Object.keys(localStorage).sort()) };
  await cdp.detach();
  return state;
}

/**
 * Runs `count` navigations and calls, then waits until their page views and events are queued and
 * delivered, and the emptied outbox is written (a change is written up to a second later: until then
 * storage still holds the queue as it was, with its lease).
 */
async function work({ page, collector }: { page: Page; collector: Recorder }, count: number, queuedAfter: number): Promise<void> {
  await page.evaluate((n) => (window as unknown as { work(n: number): Promise<void> }).work(n), count);
  await expect.poll(() => page.evaluate(() => window.moesif.getStats()?.queued), { message: 'every page view and captured call queued' }).toBe(queuedAfter);
  await collector.settled(page);
  await expect
    .poll(() => page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('usertrail:v4:')).length), { message: 'the empty outbox written' })
    .toBe(0);
}

test('after 500 route changes and 500 captured calls, some aborted or failing, the SDK keeps the listeners and storage keys it had after 10', async ({ page, collector }) => {
  collector.page('/app/start', umdPage(APP));
  await page.goto(collector.url + '/app/start');
  // The first page view and log-in, then 10 navigations and calls (a view and an event each).
  await work({ page, collector }, 10, 2 + 2 * 10);
  const early = await kept(page);
  // What is counted is there: delivery's, page views' and capture's listeners, and the ids in storage.
  expect(early.window).toEqual(expect.arrayContaining(['hashchange', 'pagehide', 'popstate']));
  expect(early.document).toContain('visibilitychange');
  expect(early.storage).toEqual(expect.arrayContaining(['moesif_anonymous_id', 'moesif_stored_user_id']));

  // 5 log-ins among them.
  await work({ page, collector }, 490, 2 + 2 * 500 + 5);
  expect(await kept(page)).toEqual(early);
  expect(collector.items('events')).toHaveLength(500);
  expect(collector.items('actions')).toHaveLength(501);
  expect(collector.items('users')).toHaveLength(6);
});
