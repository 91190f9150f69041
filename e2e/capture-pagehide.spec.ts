import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

/**
 * A call the app ends in its own pagehide listener, as the page is closed or left, in Debian's
 * Chromium: it fires pagehide before visibilitychange, and document.hidden is still false at pagehide,
 * so capture records the call at the visibilitychange that follows, after delivery's pagehide closed
 * the outbox. Nothing is lost on page close: the event reaches the collector, from the closing page
 * (keepalive) or from the next page load of the same site (the saved outbox).
 */

type Event = { transaction_id: string; request: { uri: string }; response: { status: number }; metadata?: Record<string, unknown> };

const init = (port: number) =>
  // Nothing leaves before the page closes: only the close (or the next page) can deliver the event.
  `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:${port}', batchSize: 1000, batchMaxTime: 600000 }); moesif.start();`;

/** How the page is left. */
type How = 'close' | 'close after beforeunload' | 'navigate';

/**
 * The app's calls: `start` runs as the page loads (after the SDK's start()), `end` in the app's pagehide
 * listener, which ends the call there. `error` is what capture records the call ended with: a fetch
 * ends with what the app saw, which in Chromium depends on how the page goes (closed at once, the app's
 * abort ends it; navigated away, or closed after its beforeunload, Chromium has failed the page's
 * fetches already). A synchronous XMLHttpRequest, the one call that completes within the listener,
 * Chromium refuses in page dismissal: it ends (NetworkError) inside send().
 */
const calls = {
  XMLHttpRequest: {
    path: '/api/slow',
    start: `const xhr = new XMLHttpRequest(); xhr.open('GET', '/api/slow?via=xhr'); xhr.send();`,
    end: `xhr.abort();`,
    error: () => 'abort',
  },
  fetch: {
    path: '/api/slow',
    start: `const controller = new AbortController(); fetch('/api/slow?via=fetch', { signal: controller.signal }).catch(() => {});`,
    end: `controller.abort();`,
    error: (how: How) => expect.stringMatching(how === 'close' ? /^AbortError/ : /^(AbortError|TypeError: Failed to fetch)/),
  },
  'synchronous XMLHttpRequest': {
    path: '/api/text',
    start: '',
    end: `const sync = new XMLHttpRequest(); sync.open('GET', '/api/text?via=sync', false); try { sync.send(); } catch {}`,
    error: () => 'error',
  },
};

const eventsFor = (collector: Recorder, path: string): Event[] =>
  (collector.items('events') as unknown as Event[]).filter((event) => new URL(event.request.uri).pathname === path);

/** Leaves `page` as `how` says; the next page load of the site (with the SDK) adopts what it saved. */
async function leave(page: Page, collector: Recorder, how: How): Promise<void> {
  if (how === 'navigate') {
    await page.evaluate(() => {
      location.href = '/next';
    });
    await page.waitForURL('**/next');
  } else {
    await page.close({ runBeforeUnload: how === 'close after beforeunload' });
    await expect.poll(() => page.isClosed()).toBe(true);
    await page.context().newPage().then((next) => next.goto(collector.url + '/next'));
  }
}

for (const via of ['XMLHttpRequest', 'fetch', 'synchronous XMLHttpRequest'] as const) {
  for (const order of ['before', 'after'] as const) {
    for (const how of ['close', 'close after beforeunload', 'navigate'] as const) {
      test(`${via} ended in the app's pagehide listener (added ${order} the SDK's), page left (${how}): the event arrives`, async ({ page, collector }) => {
        const { path, start, end, error } = calls[via];
        const listener = `addEventListener('pagehide', () => { ${end} });`;
        // The SDK's pagehide listeners are added by init() (delivery) and start() (capture); a call is
        // captured only if it starts after start().
        const script = order === 'before' ? `${listener} ${init(collector.port)} ${start}` : `${init(collector.port)} ${start} ${listener}`;
        collector.page('/p', umdPage(script));
        collector.page('/next', umdPage(init(collector.port)));
        await page.goto(collector.url + '/p');
        if (start) await expect.poll(() => collector.api.filter((request) => request.path === path).length).toBe(1);
        await leave(page, collector, how);
        // Counted by transaction id: an item sent as the page closed may be sent again by the next page (at least once).
        const recorded = () => [...new Map(eventsFor(collector, path).map((event) => [event.transaction_id, [event.response.status, event.metadata?.error]])).values()];
        await expect.poll(recorded, { timeout: 10_000 }).toEqual([[0, error(how)]]);
      });
    }
  }
}
