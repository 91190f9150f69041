import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import { listenLocally } from './support/listen';
import type { Recorder } from './support/recorder';

/**
 * The SDK on pages as real sites make them, in Debian's Chromium: a strict Content-Security-Policy with
 * Trusted Types, built-ins changed by old libraries (Prototype.js, MooTools) or polluted, frozen
 * built-ins (SES lockdown(), as wallets run it), and other things sites do (a <base href>, an APM agent's
 * Proxy around fetch). On each, the SDK throws nothing into the page, loses nothing, and every payload
 * the collector (the recording one, on its own origin) receives fits the wire contract.
 */

const ROOT = normalize(join(import.meta.dirname, '..'));
const NONCE = 'r4nd0m-n0nce';

/** A page of the site: its HTML and the response headers it is served with. */
interface SitePage {
  html: string;
  headers?: Record<string, string>;
}

/**
 * The site under test, on an origin of its own (the collector is another): its pages, the built SDK
 * (/dist), SES (/node_modules/ses), a small API (/api/list answers JSON with arrays; /api/echo echoes
 * the body it got) and a CSP report endpoint, whose reports it keeps.
 */
async function startSite() {
  const pages = new Map<string, SitePage>();
  const reports: unknown[] = [];
  const apiCalls: string[] = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://site');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const page = pages.get(url.pathname);
    if (page) return void res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...page.headers }).end(page.html);
    if (url.pathname == '/favicon.ico') return void res.writeHead(204).end();
    if (url.pathname == '/csp-report') {
      reports.push(JSON.parse(body));
      return void res.writeHead(204).end();
    }
    if (url.pathname.startsWith('/api/')) apiCalls.push(`${req.method} ${url.pathname}`);
    const json = (value: unknown) => res.writeHead(200, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' }).end(JSON.stringify(value));
    if (url.pathname == '/api/list') return void json({ items: [1, 2], nested: [['a']] });
    if (url.pathname == '/api/echo') return void json({ method: req.method, body });
    if (url.pathname.startsWith('/dist/') || url.pathname.startsWith('/node_modules/ses/')) {
      const file = normalize(join(ROOT, url.pathname));
      if (file.startsWith(ROOT)) {
        try {
          // Read before the head is written, so that a missing file still gets its 404.
          const content = await readFile(file);
          // With its charset: SES's bundle is not ASCII.
          return void res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(content);
        } catch {
          /* 404 below */
        }
      }
    }
    res.writeHead(404).end();
  });
  const { url, close } = await listenLocally(server);
  return {
    url,
    reports,
    apiCalls,
    page(path: string, page: SitePage): void {
      pages.set(path, page);
    },
    close,
  };
}

type Site = Awaited<ReturnType<typeof startSite>>;

/**
 * HTML that runs `before` (classic scripts: inline code, or `{ src }`), then loads the UMD build, then
 * runs `script`; every script carries the nonce, for the pages served with a CSP.
 */
function html(script: string, before: Array<string | { src: string }> = []): string {
  const tag = (item: string | { src: string }) =>
    typeof item == 'string' ? `<script nonce="${NONCE}">${item}</script>` : `<script nonce="${NONCE}" charset="utf-8" src="${item.src}"></script>`;
  return `<!doctype html><html><head><title>hostile page</title>${before.map(tag).join('')}${tag({ src: '/dist/moesif.min.js' })}</head><body>${tag(script)}</body></html>`;
}

/** What the page said on the console and threw: usertrail's own lines, the browser's errors, uncaught errors. */
function watch(page: Page) {
  const seen = { usertrail: [] as string[], browserErrors: [] as string[], uncaught: [] as string[] };
  page.on('console', (message) => {
    if (message.text().startsWith('[usertrail]')) seen.usertrail.push(message.text());
    else if (message.type() == 'error') seen.browserErrors.push(message.text());
  });
  page.on('pageerror', (error) => seen.uncaught.push(error.message));
  return seen;
}

const init = (collector: Recorder, extra = '') => `moesif.init({ applicationId: 'hostile', host: '${collector.url}', batchMaxTime: 50${extra} });`;

/**
 * What the app does on the hostile pages: identifies, tracks with arrays in its metadata, starts
 * capture, and calls its API with fetch and XMLHttpRequest (whose bodies have arrays too).
 */
const ACTIVITY = `
  window.activity = async () => {
    moesif.identifyUser('u-1', { plan: 'pro', roles: ['admin', 'dev'], nested: { list: [1, [2, 3]] } });
    moesif.identifyCompany('co-1', { seats: [5] });
    moesif.track('Clicked', { tags: ['a', 'b'], empty: [] });
    window.started = moesif.start();
    const response = await fetch('/api/list', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"sent":[1,2]}' });
    const fetched = await response.json();
    const xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/list');
    xhr.responseType = 'json';
    const loaded = new Promise((resolve) => xhr.addEventListener('loadend', resolve));
    xhr.send();
    await loaded;
    return { fetched, xhr: xhr.response };
  };
`;

/** The app's API answers, as the app sees them. */
const API_ANSWER = { items: [1, 2], nested: [['a']] };

/** Waits until the collector has everything ACTIVITY made (the two calls captured, when `captured`), and checks each item exactly. */
async function expectActivity(collector: Recorder, { captured = true } = {}) {
  await expect.poll(() => collector.items('actions').filter((action) => action.action_name == 'Clicked').length).toBe(1);
  expect(collector.items('users').find((user) => user.user_id == 'u-1')?.metadata).toEqual({ plan: 'pro', roles: ['admin', 'dev'], nested: { list: [1, [2, 3]] } });
  expect(collector.items('companies').find((company) => company.company_id == 'co-1')?.metadata).toEqual({ seats: [5] });
  expect(collector.items('actions').find((action) => action.action_name == 'Clicked')?.metadata).toEqual({ tags: ['a', 'b'], empty: [] });
  if (!captured) return;
  await expect.poll(() => collector.items('events').length).toBe(2);
  const byVerb = Object.fromEntries(collector.items('events').map((event) => [event.request.verb, event]));
  expect(byVerb.POST.request.body).toEqual({ sent: [1, 2] });
  expect(byVerb.POST.response.body).toEqual(API_ANSWER);
  expect(byVerb.GET.response.body).toEqual(API_ANSWER);
  expect(collector.items('events').every((event) => event.user_id == 'u-1' && event.company_id == 'co-1')).toBe(true);
}

let site: Site;
test.beforeEach(async () => {
  site = await startSite();
});
test.afterEach(async () => {
  await site.close();
});

test.describe('prototype pollution and the built-ins old libraries change', () => {
  const changes: Record<string, string> = {
    // Prototype.js 1.6's Array#toJSON: JSON.stringify([1]) gives '"[1]"', which broke many analytics batches.
    'Array.prototype.toJSON as Prototype.js 1.6 defines it': `
      Array.prototype.toJSON = function () {
        var results = [];
        for (var i = 0; i < this.length; i++) { var value = JSON.stringify(this[i]); if (value !== undefined) results.push(value); }
        return '[' + results.join(', ') + ']';
      };`,
    'Object.prototype given enumerable properties': `Object.prototype.polluted = 'yes'; Object.prototype.extend = function () { return this; };`,
    // MooTools 1.2 added its Array methods by assignment: enumerable, so for...in over an array finds them.
    'Array.prototype given enumerable methods (MooTools)': `
      Array.prototype.each = function (fn) { for (var i = 0; i < this.length; i++) fn(this[i], i); };
      Array.prototype.contains = function (item) { return this.indexOf(item) != -1; };
      Array.prototype.erase = function (item) { return this; };`,
    'JSON.stringify replaced by a wrapper': `
      window.stringified = 0;
      var nativeStringify = JSON.stringify;
      JSON.stringify = function (value, replacer, space) { window.stringified++; return nativeStringify.call(JSON, value, replacer, space); };`,
    // Old polyfills, assigned (so enumerable), each a little off the standard.
    'String.prototype.trim and Array.prototype.includes replaced': `
      String.prototype.trim = function () { return String(this).replace(/^\\s+|\\s+$/g, ''); };
      Array.prototype.includes = function (item) { return this.indexOf(item) != -1; };`,
  };
  for (const [name, change] of Object.entries(changes)) {
    test(`${name}: every item arrives exactly as the wire format says, nothing is thrown or warned`, async ({ page, collector }) => {
      site.page('/', { html: html(`${init(collector)} ${ACTIVITY}`, [change]) });
      const seen = watch(page);
      await page.goto(site.url + '/');
      const seenByApp = await page.evaluate(() => (window as unknown as { activity(): Promise<unknown> }).activity());
      // What the app gets from its calls is JSON.parse's, which no change here touches.
      expect(seenByApp).toEqual({ fetched: API_ANSWER, xhr: API_ANSWER });
      await expectActivity(collector);
      // The ids' cookies are written: js-cookie reads its attributes with for...in.
      expect((await page.context().cookies()).find((cookie) => cookie.name == 'moesif_stored_user_id')?.value).toBe('u-1');
      await collector.settled(page);
      expect(seen).toEqual({ usertrail: [], browserErrors: [], uncaught: [] });
    });
  }

  test("Array.prototype.toJSON as Prototype.js 1.6 defines it: a queue left by a closed page is sent by the next with its arrays intact", async ({ page, collector }) => {
    site.page('/', { html: html(init(collector), [changes['Array.prototype.toJSON as Prototype.js 1.6 defines it']]) });
    const seen = watch(page);
    collector.refuse(true);
    await page.goto(site.url + '/');
    await page.evaluate(() => window.moesif.track('Queued while down', { tags: ['a', 'b'] }));
    // The reload saves the queue (pagehide) for the next page, which adopts it.
    await page.reload();
    collector.refuse(false);
    await page.evaluate(() => window.moesif.flush());
    await expect.poll(() => collector.items('actions').find((action) => action.action_name == 'Queued while down')?.metadata).toEqual({ tags: ['a', 'b'] });
    await collector.settled(page);
    expect(seen.usertrail).toEqual([]);
    expect(seen.uncaught).toEqual([]);
  });
});

test.describe('frozen built-ins', () => {
  const LOCKDOWN = { src: '/node_modules/ses/dist/lockdown.umd.js' };

  test("SES's lockdown() (as MetaMask Snaps run it) freezes JavaScript's own built-ins: everything works, with nothing thrown or warned", async ({ page, collector }) => {
    site.page('/', { html: html(`${init(collector)} ${ACTIVITY}`, [LOCKDOWN, 'lockdown(); window.lockedDown = Object.isFrozen(Array.prototype) && Object.isFrozen(Function.prototype);']) });
    const seen = watch(page);
    await page.goto(site.url + '/');
    expect(await page.evaluate(() => (window as unknown as { lockedDown: boolean }).lockedDown)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { activity(): Promise<unknown> }).activity())).toEqual({ fetched: API_ANSWER, xhr: API_ANSWER });
    await expectActivity(collector);
    await collector.settled(page);
    expect(seen).toEqual({ usertrail: [], browserErrors: [], uncaught: [] });
  });

  test('lockdown() and the browser prototypes hardened too (XMLHttpRequest, Response): capture says once that it cannot, and consent, tracking and delivery go on', async ({ page, collector }) => {
    // lockdown() alone leaves the browser's own prototypes writable; a wallet's page may harden() them too.
    const harden = 'lockdown(); harden(XMLHttpRequest.prototype); harden(Response.prototype);';
    site.page('/', { html: html(`${init(collector, ', requirePublishingConsent: true')} ${ACTIVITY}`, [LOCKDOWN, harden]) });
    const seen = watch(page);
    await page.goto(site.url + '/');
    // start() (in the activity) while consent is pending, then the grant, which starts capture: that threw, and
    // left consent pending, so that every later call failed in its turn.
    expect(await page.evaluate(() => (window as unknown as { activity(): Promise<unknown> }).activity())).toEqual({ fetched: API_ANSWER, xhr: API_ANSWER });
    await page.evaluate(() => {
      window.moesif.grantPublishingConsent();
      window.moesif.track('After the grant');
      window.moesif.stop();
      window.moesif.start();
    });
    expect(await page.evaluate(() => window.moesif.isPublishingConsentGranted())).toBe(true);
    await expectActivity(collector, { captured: false });
    await expect.poll(() => collector.items('actions').some((action) => action.action_name == 'After the grant')).toBe(true);
    await collector.settled(page);
    expect(collector.items('events')).toEqual([]);
    expect(seen).toEqual({ usertrail: ['[usertrail] start(): cannot capture XMLHttpRequest or fetch: frozen by the page'], browserErrors: [], uncaught: [] });
  });

  test('a page that made window.fetch read-only before init(): XMLHttpRequest is captured, fetch is not, and one warning says so', async ({ page, collector }) => {
    const freeze = "Object.defineProperty(window, 'fetch', { writable: false, configurable: false });";
    site.page('/', { html: html(`${init(collector)} ${ACTIVITY}`, [freeze]) });
    const seen = watch(page);
    await page.goto(site.url + '/');
    expect(await page.evaluate(() => (window as unknown as { activity(): Promise<unknown> }).activity())).toEqual({ fetched: API_ANSWER, xhr: API_ANSWER });
    expect(await page.evaluate(() => (window as unknown as { started: unknown }).started)).toBe(true);
    await expectActivity(collector, { captured: false });
    await expect.poll(() => collector.items('events').map((event) => `${event.request.verb} ${new URL(event.request.uri).pathname}`)).toEqual(['GET /api/list']);
    expect(collector.items('events')[0].response.body).toEqual(API_ANSWER);
    await collector.settled(page);
    expect(seen).toEqual({ usertrail: ['[usertrail] start(): cannot capture fetch: frozen by the page'], browserErrors: [], uncaught: [] });
  });
});

test.describe('frozen History.prototype', () => {
  test("lockdown() with History.prototype hardened: page views say once that pushState cannot be seen, and popstate, hashchange and trackPageView() still record", async ({ page, collector }) => {
    const harden = { src: '/node_modules/ses/dist/lockdown.umd.js' };
    site.page('/', { html: html(init(collector, ', trackPageViews: true'), [harden, 'lockdown(); harden(History.prototype);']) });
    const seen = watch(page);
    await page.goto(site.url + '/');
    await page.evaluate(() => {
      history.pushState({}, '', '/pushed');
      location.hash = '#hashed';
    });
    await page.evaluate(() => window.moesif.trackPageView());
    const views = () => collector.items('actions').filter((action) => action.action_name == 'Page View').map((action) => new URL(action.request.uri).pathname + new URL(action.request.uri).hash);
    await expect.poll(views).toEqual(['/', '/pushed#hashed', '/pushed#hashed']);
    await collector.settled(page);
    expect(seen).toEqual({
      usertrail: ['[usertrail] trackPageViews: cannot see history.pushState (frozen by the page): call trackPageView() on each navigation'],
      browserErrors: [],
      uncaught: [],
    });
  });
});

test.describe('a strict Content-Security-Policy, with Trusted Types enforced', () => {
  /** The policy, sent as a response header: scripts by nonce only (no unsafe-eval, no unsafe-inline), connections to `connect` only. */
  const csp = (connect: string) =>
    [`script-src 'nonce-${NONCE}'`, `connect-src ${connect}`, "object-src 'none'", "base-uri 'none'", "require-trusted-types-for 'script'", 'report-uri /csp-report'].join('; ');
  /** The violations the page sees, in order (the listener runs before the SDK loads). */
  const LISTEN = "window.violations = []; document.addEventListener('securitypolicyviolation', (e) => violations.push(e.effectiveDirective + ' ' + e.blockedURI));";
  /**
   * Breaks the policy on purpose, twice: a connection to an origin it does not list, and HTML written
   * without Trusted Types. Proof that the policy is enforced and reported, and the last reports to wait for.
   */
  const CANARY = "fetch('http://127.0.0.1:9/canary').catch(() => {}); try { document.body.innerHTML = '<b>canary</b>'; } catch {}";
  const CANARIES = ['connect-src http://127.0.0.1:9/canary', 'require-trusted-types-for trusted-types-sink'];
  const violations = (page: Page) => page.evaluate(() => (window as unknown as { violations: string[] }).violations);
  /** The reports the site received, as `directive blocked-uri`. */
  const reported = () =>
    site.reports.map((report) => {
      const { 'effective-directive': directive, 'blocked-uri': blocked } = (report as { 'csp-report': Record<string, string> })['csp-report'];
      return `${directive} ${blocked}`;
    });

  test('init, identify, track, capture, page views, delivery and page close all work with no violation', async ({ page, context, collector }) => {
    const headers = { 'Content-Security-Policy': csp(`'self' ${collector.url}`) };
    site.page('/', { html: html(`${init(collector, ', trackPageViews: true')} ${ACTIVITY}`, [LISTEN]), headers });
    const seen = watch(page);
    await page.goto(site.url + '/');
    expect(await page.evaluate(() => (window as unknown as { activity(): Promise<unknown> }).activity())).toEqual({ fetched: API_ANSWER, xhr: API_ANSWER });
    await page.evaluate(() => history.pushState({}, '', '/step-2'));
    await expectActivity(collector);
    await expect.poll(() => collector.items('actions').filter((action) => action.action_name == 'Page View').map((view) => new URL(view.request.uri).pathname)).toEqual(['/', '/step-2']);
    await collector.settled(page);
    expect(seen).toEqual({ usertrail: [], browserErrors: [], uncaught: [] });
    await page.evaluate(CANARY);
    await expect.poll(() => violations(page)).toEqual(CANARIES);
    await expect.poll(reported).toEqual(CANARIES);

    // A page closed with an item waiting (batchMaxTime far off): it leaves as the page closes.
    site.page('/closing', { html: html(`${init(collector, ', batchMaxTime: 60000')} moesif.track('Before close', { tags: ['x'] });`, [LISTEN]), headers });
    const closing = await context.newPage();
    const closingSeen = watch(closing);
    await closing.goto(site.url + '/closing');
    expect(await closing.evaluate(() => window.moesif.getStats()?.inOutbox)).toBe(1);
    expect(await violations(closing)).toEqual([]);
    await closing.close({ runBeforeUnload: true });
    await expect.poll(() => collector.items('actions').find((action) => action.action_name == 'Before close')?.metadata).toEqual({ tags: ['x'] });
    expect(closingSeen).toEqual({ usertrail: [], browserErrors: [], uncaught: [] });

    // Reports of anything the closing page broke would come before these.
    site.page('/canary', { html: html(CANARY), headers });
    await (await context.newPage()).goto(site.url + '/canary');
    await expect.poll(reported).toEqual([...CANARIES, ...CANARIES]);
  });

  test("a site whose policy forgot the collector: the SDK says so once, tries again every 5 minutes only, and the page is unharmed", async ({ page, collector }) => {
    site.page('/', { html: html(`${init(collector)} ${ACTIVITY}`, [LISTEN]), headers: { 'Content-Security-Policy': csp("'self'") } });
    const seen = watch(page);
    // The page's timers on a clock the test moves: minutes pass in an instant.
    await page.clock.install();
    await page.goto(site.url + '/');
    expect(await page.evaluate(() => (window as unknown as { activity(): Promise<unknown> }).activity())).toEqual({ fetched: API_ANSWER, xhr: API_ANSWER });
    const blocked = '[usertrail] collector unreachable (blocked?): tried again in 5 minutes, and by the next page';
    await expect
      .poll(async () => {
        await page.clock.runFor(1000);
        return seen.usertrail;
      })
      .toEqual([blocked]);
    const requests = () => page.evaluate(() => window.moesif.getStats()!.requests);
    // Three requests refused in a row are taken for a blocker.
    expect(await requests()).toBe(3);
    await page.clock.runFor(10 * 60_000);
    expect(await requests()).toBe(5);
    expect(seen.usertrail).toEqual([blocked]);
    // The browser's own two lines for each refused request, and nothing more.
    expect(seen.browserErrors).toHaveLength(2 * 5);
    // The oldest item leads each try: the users call.
    expect(await violations(page)).toEqual(Array(5).fill(`connect-src ${collector.url}/v1/users/batch`));
    expect(seen.uncaught).toEqual([]);
    expect(collector.received).toEqual([]);
    // The app's own calls go on.
    expect(await page.evaluate(async () => (await fetch('/api/list')).json())).toEqual(API_ANSWER);
  });
});

test.describe('other things sites do', () => {
  test('a <base href> to another origin: captured calls are recorded at the address they went to', async ({ page, collector }) => {
    // The collector's server answers /api/* too (e2e/support/recorder.ts); the page is the site's.
    const script = `${init(collector)} moesif.start();
      window.calls = async () => {
        await (await fetch('api/text')).text();
        const xhr = new XMLHttpRequest();
        xhr.open('GET', 'api/echo?via=xhr');
        const loaded = new Promise((resolve) => xhr.addEventListener('loadend', resolve));
        xhr.send();
        await loaded;
      };`;
    site.page('/', { html: html(script).replace('<head>', `<head><base href="${collector.url}/">`) });
    const seen = watch(page);
    await page.goto(site.url + '/');
    await page.evaluate(() => (window as unknown as { calls(): Promise<void> }).calls());
    await expect.poll(() => collector.items('events').map((event) => event.request.uri).sort()).toEqual([`${collector.url}/api/echo?via=xhr`, `${collector.url}/api/text`]);
    expect(collector.api.map((call) => call.path).sort()).toEqual(['/api/echo', '/api/text']);
    await collector.settled(page);
    expect(seen).toEqual({ usertrail: [], browserErrors: [], uncaught: [] });
  });

  test('localStorage replaced by a polyfill object that keeps its data over reloads: ids kept there, and a queue left by a closed page is sent by the next', async ({ page, collector }) => {
    // As polyfills for browsers that refuse localStorage (private modes) define it: a plain object with the
    // Storage methods, whose data outlives the page (in cookies or window.name; in sessionStorage here).
    const polyfill = `(function () {
      var data = JSON.parse(sessionStorage.getItem('polyfill') || '{}');
      var save = function () { sessionStorage.setItem('polyfill', JSON.stringify(data)); };
      var storage = {
        getItem: function (key) { return Object.prototype.hasOwnProperty.call(data, key) ? data[key] : null; },
        setItem: function (key, value) { data[key] = String(value); save(); },
        removeItem: function (key) { delete data[key]; save(); },
        clear: function () { data = {}; save(); },
        key: function (index) { var keys = Object.keys(data); return index < keys.length ? keys[index] : null; },
        get length() { return Object.keys(data).length; }
      };
      Object.defineProperty(window, 'localStorage', { value: storage, configurable: true });
    })();`;
    site.page('/', { html: html(`${init(collector)} ${ACTIVITY}`, [polyfill]) });
    const seen = watch(page);
    await page.goto(site.url + '/');
    expect(await page.evaluate(() => (window as unknown as { activity(): Promise<unknown> }).activity())).toEqual({ fetched: API_ANSWER, xhr: API_ANSWER });
    await expectActivity(collector);
    const kept = await page.evaluate(() => JSON.parse(sessionStorage.getItem('polyfill')!));
    expect(kept.moesif_stored_user_id).toBe('u-1');
    expect(kept.moesif_anonymous_id).toBe(await page.evaluate(() => window.moesif.getAnonymousId()));
    await collector.settled(page);

    collector.refuse(true);
    await page.evaluate(() => window.moesif.track('Queued while down'));
    // The reload saves the queue (pagehide) for the next page, which must find it among the polyfill's keys.
    await page.reload();
    collector.refuse(false);
    await page.evaluate(() => window.moesif.flush());
    await expect.poll(() => collector.items('actions').filter((action) => action.action_name == 'Queued while down').length).toBe(1);
    await collector.settled(page);
    // The browser's errors are the outage's own (a request the collector dropped): not checked.
    expect(seen.usertrail).toEqual([]);
    expect(seen.uncaught).toEqual([]);
  });

  test("an APM agent's Proxy around fetch, put after start(): both record while both are on; after stop() the agent's goes on alone, and a new start() records each call once", async ({ page, collector }) => {
    const script = `${init(collector)} moesif.start();
      // As Datadog's or New Relic's browser agent wraps fetch once it loads, after the SDK.
      window.apmSeen = [];
      window.apmFetch = window.fetch = new Proxy(window.fetch, {
        apply: function (target, self, args) { apmSeen.push(String(args[0])); return Reflect.apply(target, self, args); }
      });
      window.call = async (n) => (await fetch('/api/list?n=' + n)).json();`;
    site.page('/', { html: html(script) });
    const seen = watch(page);
    await page.goto(site.url + '/');
    const state = await page.evaluate(async () => {
      const w = window as unknown as { call(n: number): Promise<unknown>; apmFetch: unknown; apmSeen: string[] };
      const answers = [await w.call(1)];
      window.moesif.stop();
      answers.push(await w.call(2));
      const agentKept = window.fetch === w.apmFetch;
      window.moesif.start();
      answers.push(await w.call(3));
      return { answers, agentKept, agentStill: window.fetch === w.apmFetch, apmSeen: w.apmSeen };
    });
    expect(state).toEqual({ answers: [API_ANSWER, API_ANSWER, API_ANSWER], agentKept: true, agentStill: true, apmSeen: ['/api/list?n=1', '/api/list?n=2', '/api/list?n=3'] });
    // Deferred work runs in order: once the third call is recorded, the second would have been.
    await expect.poll(() => collector.items('events').map((event) => new URL(event.request.uri).search)).toEqual(['?n=1', '?n=3']);
    expect(site.apiCalls).toEqual(['GET /api/list', 'GET /api/list', 'GET /api/list']);
    await collector.settled(page);
    expect(seen).toEqual({ usertrail: [], browserErrors: [], uncaught: [] });
  });

  test('a page that set document.domain (with Origin-Agent-Cluster: ?0, which lets it): the ids live on the site, and everything arrives', async ({ page, context, collector }) => {
    const app = site.url.replace('127.0.0.1', 'app.example.test');
    site.page('/', { html: html(`${init(collector)} ${ACTIVITY}`, ["document.domain = 'example.test';"]), headers: { 'Origin-Agent-Cluster': '?0' } });
    const seen = watch(page);
    await page.goto(app + '/');
    expect(await page.evaluate(() => document.domain)).toBe('example.test');
    expect(await page.evaluate(() => (window as unknown as { activity(): Promise<unknown> }).activity())).toEqual({ fetched: API_ANSWER, xhr: API_ANSWER });
    await expectActivity(collector);
    expect((await context.cookies()).find((cookie) => cookie.name == 'moesif_anonymous_id')?.domain).toBe('.example.test');
    await collector.settled(page);
    expect(seen).toEqual({ usertrail: [], browserErrors: [], uncaught: [] });
  });
});
