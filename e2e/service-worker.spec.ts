import { build } from 'esbuild';
import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

/**
 * Pages a service worker controls (progressive web apps), in Debian's Chromium. Each service worker is
 * bundled here as an app builds its own: from Workbox (workbox-routing, workbox-strategies) or written
 * by hand. It is registered on the collector's origin with the whole origin as its scope, so it sees the
 * SDK's own batch requests (/v1/*) as well as the app's API calls.
 *
 * What Chromium does, as measured here: the SDK's keepalive fetch and its sendBeacon both go through the
 * page's service worker (a fetch event whose request has `keepalive`), and a request the service worker
 * re-issues (`respondWith(fetch(event.request))`, Workbox's NetworkOnly) still arrives after the page
 * closed, since the worker outlives the page. Unless the worker was stopped (Chromium stops an idle one
 * after 30 s): then the batch sent as the tab closes waits for a worker that starts too late, and most
 * often (not always: a race) dies with the page; the outbox sends it on the next page load. A worker that routes the collector's
 * requests to the network with the static routing API (`event.addRoutes()` at install) is not started
 * for them, and nothing waits.
 */

/** What every test service worker starts with: it takes the page at once, and lists the collector requests it saw. */
const SW_PRELUDE = `
  const seen = [];
  self.addEventListener('install', () => self.skipWaiting());
  self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
  self.addEventListener('message', (event) => event.source.postMessage(seen));
  self.addEventListener('fetch', (event) => {
    const { pathname } = new URL(event.request.url);
    if (pathname.startsWith('/v1/')) seen.push(event.request.method + ' ' + pathname + (event.request.keepalive ? ' keepalive' : ''));
  });
`;

const WORKBOX_ROUTES = `
  import { registerRoute, setCatchHandler, setDefaultHandler } from 'workbox-routing';
  import { CacheFirst, NetworkFirst, NetworkOnly } from 'workbox-strategies';
  registerRoute(({ url }) => url.pathname == '/api/text', new CacheFirst({ cacheName: 'static-api' }));
  registerRoute(({ url }) => url.pathname == '/api/echo', new NetworkFirst({ cacheName: 'api' }));
  registerRoute(({ url }) => url.pathname == '/api/none', new NetworkOnly());
  // The catch-all: POSTs too, the SDK's batches among them.
  registerRoute(() => true, new NetworkOnly(), 'POST');
  setDefaultHandler(new NetworkOnly());
  // The offline fallback: an answer the worker makes itself when the network fails.
  setCatchHandler(async () => Response.json({ offline: true }, { status: 503 }));
`;

const SW_SOURCES = {
  /** Workbox as apps use it: a strategy per API route, and a catch-all that also takes POSTs. */
  workbox: `${SW_PRELUDE} ${WORKBOX_ROUTES}`,
  /** The hand-written pass-through many apps have. */
  handwritten: `${SW_PRELUDE} self.addEventListener('fetch', (event) => event.respondWith(fetch(event.request)));`,
  /** Workbox, and the collector's requests routed to the network before the worker is asked (Chromium 123+). */
  routed: `
    // As README (How it behaves, Service workers) shows it.
    self.addEventListener('install', (event) => event.addRoutes?.({ condition: { urlPattern: new URLPattern({ pathname: '/v1/*/batch' }) }, source: 'network' }));
    ${SW_PRELUDE} ${WORKBOX_ROUTES}`,
};
type Worker = keyof typeof SW_SOURCES;
const bundles = {} as Record<Worker, string>;

test.beforeAll(async () => {
  for (const [name, contents] of Object.entries(SW_SOURCES)) {
    const { outputFiles } = await build({ stdin: { contents, resolveDir: process.cwd(), loader: 'js' }, bundle: true, format: 'iife', write: false, define: { 'process.env.NODE_ENV': '"production"' } });
    bundles[name as Worker] = outputFiles[0].text;
  }
});

const init = (extra = '') => `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 100 ${extra} });`;

/** Registers `worker` at /sw.js (its scope: the whole origin, /v1/ included) and waits until it controls the page. */
async function installWorker(page: Page, collector: Recorder, worker: Worker | 'none', origin = collector.url): Promise<void> {
  if (worker == 'none') return;
  collector.page('/sw.js', bundles[worker], { contentType: 'text/javascript' });
  collector.page('/install', `<!doctype html><title>install</title><script>navigator.serviceWorker.register('/sw.js')</script>`);
  await page.goto(origin + '/install');
  await page.waitForFunction(() => navigator.serviceWorker.controller != null);
}

/** The collector requests the page's service worker saw. */
const seenByWorker = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<string[]>((resolve) => {
        navigator.serviceWorker.addEventListener('message', (event) => resolve(event.data as string[]), { once: true });
        navigator.serviceWorker.controller!.postMessage('seen?');
      }),
  );

const actionNames = (collector: Recorder) => collector.items('actions').map((action) => action.action_name as string);
/** Each action once: a repeat (a request whose page closed before its answer, sent again) has the same transaction_id. */
const distinctActions = (collector: Recorder) => [...new Map(collector.items('actions').map((action) => [action.transaction_id as string, action.action_name as string])).values()];

/** The app's calls, each giving back what the app got (in plain JSON): by fetch or by XMLHttpRequest. */
const CALLS = `
  const viaFetch = async (url, init = {}) => {
    const response = await fetch(url, init);
    return { api: 'fetch', method: init.method ?? 'GET', url, status: response.status, body: await response.text() };
  };
  const viaXhr = (url, method = 'GET', body = null) => new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    request.onloadend = () => resolve({ api: 'xhr', method, url, status: request.status, body: request.responseText });
    request.send(body);
  });
  const inTurn = async (...calls) => { const got = []; for (const call of calls) got.push(await call()); return got; };
  // Answered by the network through the worker (Workbox: NetworkOnly, the POST catch-all, the default handler).
  window.networkCalls = () => inTurn(
    () => viaFetch('/api/echo', { method: 'POST', body: 'by fetch' }),
    () => viaXhr('/api/echo', 'POST', 'by xhr'),
    () => viaFetch('/api/echo?status=503'),
    () => viaXhr('/api/none'),
  );
  // Answered from the worker's cache once warmed (Workbox's CacheFirst), and offline (NetworkFirst);
  // offline, /api/none by Workbox's catch handler.
  window.cachedCalls = () => inTurn(
    () => viaFetch('/api/text'),
    () => viaXhr('/api/text'),
    () => viaFetch('/api/echo'),
    () => viaXhr('/api/echo'),
    () => viaFetch('/api/none'),
    () => viaXhr('/api/none'),
  );
`;
type Call = { api: string; method: string; url: string; status: number; body: string };
declare global {
  interface Window {
    networkCalls(): Promise<Call[]>;
    cachedCalls(): Promise<Call[]>;
  }
}

for (const worker of ['workbox', 'handwritten'] as const) {
  test(`${worker}: calls the worker answers from the network and from its cache are recorded once each, as the app got them`, async ({ page, context, collector }) => {
    const errors: string[] = [];
    page.on('console', (message) => void (message.type() == 'error' && errors.push(message.text())));
    page.on('pageerror', (error) => errors.push(String(error)));
    await installWorker(page, collector, worker);
    collector.page('/p', umdPage(`${init()} ${CALLS}`));
    await page.goto(collector.url + '/p');
    // Warms the worker's caches, before capture starts.
    await page.evaluate(() => window.cachedCalls());

    /**
     * Every call, the cached ones offline where the worker has a cache; how many reached the server; and
     * what the console said meanwhile (the browser's own line for each answer of 404 or 503).
     */
    const run = async () => {
      const atServer = collector.api.length;
      const errorsBefore = errors.length;
      const got = await page.evaluate(() => window.networkCalls());
      if (worker == 'workbox') {
        await context.setOffline(true);
        got.push(...(await page.evaluate(() => window.cachedCalls())));
        await context.setOffline(false);
      }
      return { got, atServer: collector.api.length - atServer, console: errors.slice(errorsBefore) };
    };
    const without = await run();
    await page.evaluate(() => window.moesif.start());
    const captured = await run();
    // The app gets the same with capture (and the console says the same), and the cached calls never reached the server.
    expect(captured).toEqual(without);
    if (worker == 'workbox') expect(captured.got.slice(-2).map((call) => call.body)).toEqual(['{"offline":true}', '{"offline":true}']);
    expect(captured.atServer).toBe(4);

    await expect.poll(() => collector.items('events').length).toBe(captured.got.length);
    await collector.settled(page);
    const recorded = collector.items('events').map(({ request, response }) => ({ uri: request.uri, verb: request.verb, status: response.status, body: response.body }));
    const asRecorded = (body: string) => {
      try {
        return JSON.parse(body);
      } catch {
        return body;
      }
    };
    expect(recorded).toEqual(captured.got.map((call) => ({ uri: collector.url + call.url, verb: call.method, status: call.status, body: asRecorded(call.body) })));
    expect(errors.filter((error) => !error.startsWith('Failed to load resource'))).toEqual([]);
  });
}

for (const worker of ['none', 'workbox', 'handwritten'] as const) {
  for (const useBeacon of [false, true]) {
    const transport = useBeacon ? 'sendBeacon' : 'keepalive fetch';
    const batches = worker == 'none' ? 'no service worker' : `${worker}: the batches go through the worker`;
    test(`${batches}, by ${transport}; what is tracked just before a navigation or a close arrives, once`, async ({ page, collector }) => {
      await installWorker(page, collector, worker);
      collector.page('/p', umdPage(init(`, batchMaxTime: 10000, useBeacon: ${useBeacon}`)));
      collector.page('/bye', '<!doctype html><title>bye</title>');
      await page.goto(collector.url + '/p');
      await page.evaluate(() => window.moesif.track('Before navigating'));
      await page.evaluate(() => window.moesif.flush());
      await expect.poll(() => actionNames(collector)).toEqual(['Before navigating']);
      if (worker != 'none') expect(await seenByWorker(page)).toEqual(['POST /v1/actions/batch keepalive']);

      await page.evaluate(() => {
        window.moesif.track('Navigating');
        location.href = '/bye';
      });
      await page.waitForURL('**/bye');
      await expect.poll(() => actionNames(collector)).toEqual(['Before navigating', 'Navigating']);

      // This page may send 'Navigating' again, with its transaction_id: its request had no answer before
      // its page was gone (README, Delivery), with or without a worker.
      await page.goto(collector.url + '/p');
      await page.evaluate(() => window.moesif.track('Closing'));
      await page.close({ runBeforeUnload: true });
      await expect.poll(() => distinctActions(collector)).toEqual(['Before navigating', 'Navigating', 'Closing']);
    });
  }
}

// Chromium stops a worker idle for 30 s. The batch a closing page sends must then wait for the worker to
// start, and most often dies with the page (it arrived in 1 of 6 runs of these two tests): the page wrote it to the outbox as it closed, and the next page load
// sends it. A worker that routes the collector's requests to the network (`routed`) is not asked.
for (const worker of ['none', 'routed', 'workbox', 'handwritten'] as const) {
  const waits = worker == 'none' || worker == 'routed' ? 'arrives as the page closes' : 'arrives with the next page load';
  test(`${worker}, the worker stopped (idle): what is tracked just before the tab closes ${waits}`, async ({ page, context, collector }) => {
    await installWorker(page, collector, worker);
    collector.page('/p', umdPage(init(', batchMaxTime: 10000')));
    await page.goto(collector.url + '/p');
    const cdp = await context.newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    await page.evaluate(() => window.moesif.track('Closing'));
    await page.close({ runBeforeUnload: true });
    if (worker == 'none' || worker == 'routed') await expect.poll(() => actionNames(collector)).toEqual(['Closing']);
    const next = await context.newPage();
    await next.goto(collector.url + '/p');
    await expect.poll(() => distinctActions(collector)).toEqual(['Closing']);
    await collector.settled(next);
  });
}

for (const worker of ['none', 'workbox', 'handwritten'] as const) {
  test(`${worker}: what a page tracked while the collector was down is sent through the worker after a reload, once`, async ({ page, collector }) => {
    await installWorker(page, collector, worker);
    collector.page('/p', umdPage(init()));
    await page.goto(collector.url + '/p');
    collector.refuse(true);
    await page.evaluate(() => window.moesif.track('While down'));
    await expect.poll(() => collector.refused).toBeGreaterThan(0);
    collector.refuse(false);
    await page.reload();
    await expect.poll(() => actionNames(collector)).toContain('While down');
    await collector.settled(page);
    expect(distinctActions(collector)).toEqual(['While down']);
  });
}

// Moesif's collector is on another origin than the app: the page's worker still gets its requests, and
// passes them on with their CORS preflight, which the worker's fetch makes.
for (const worker of ['none', 'workbox', 'handwritten'] as const) {
  test(`${worker}: a collector on another origin gets, through the preflight, what is tracked just before the tab closes`, async ({ page, collector }) => {
    // localhost: another origin, and a secure context (app.example.test on http would not be one, and has no service worker).
    const app = collector.url.replace('127.0.0.1', 'localhost');
    await installWorker(page, collector, worker, app);
    collector.page('/p', umdPage(`moesif.init({ applicationId: 'app', host: '${collector.url}', batchMaxTime: 10000 });`));
    await page.goto(app + '/p');
    await page.evaluate(() => window.moesif.track('Before closing'));
    await page.evaluate(() => window.moesif.flush());
    await expect.poll(() => actionNames(collector)).toEqual(['Before closing']);
    if (worker != 'none') expect(await seenByWorker(page)).toEqual(['POST /v1/actions/batch keepalive']);
    await page.evaluate(() => window.moesif.track('Closing'));
    await page.close({ runBeforeUnload: true });
    await expect.poll(() => actionNames(collector)).toEqual(['Before closing', 'Closing']);
    expect(collector.preflights).toBeGreaterThan(0);
  });
}
