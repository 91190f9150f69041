import type { Page, Request } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-ignore: plain ESM JavaScript with JSDoc types, no declaration file
import { startCollector, DEFAULT_APP_ID } from '../demo/collector/server.js';
import { chromiumArgs } from '../scripts/chromium.mjs';
import { chromiumLaunchOptions } from './support/browser';
import { moesif1102 } from './support/moesif-1.10.2';
import { expect, test, type PageAndCollector } from './support/fixtures';
import type { Recorder } from './support/recorder';

/**
 * Cross-domain tracking (issue 20) in Chromium: two sites of different registrable domains, which
 * share no cookie and no storage, both on loopback through the resolver rules below.
 * www.acme-docs.test is site A, app.acme-cloud.test site B; www.notacme-cloud.test only looks like B.
 */
test.use({
  launchOptions: {
    ...chromiumLaunchOptions,
    args: [...chromiumArgs, '--host-resolver-rules=MAP *.acme-docs.test 127.0.0.1,MAP *.acme-cloud.test 127.0.0.1,MAP *.notacme-cloud.test 127.0.0.1'],
  },
});

const ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** An id as moesif-browser-js makes them: hex groups of other lengths, not a UUID. */
const MOESIF_STYLE_ID = '18f3b5c1a2e-0d4c1b2e3a4f5-4c1d2e3f-1fa400-18f3b5c1a2e';

const siteA = (collector: Recorder) => collector.at('www.acme-docs.test');
const siteB = (collector: Recorder) => collector.at('app.acme-cloud.test');

interface SitePage {
  /** init() options on top of the application id, the collector and a short batch time. */
  options?: Record<string, unknown>;
  body?: string;
  /** Script run after init(). */
  script?: string;
  /** Script run before the SDK loads (a router setting its history.state, say). */
  before?: string;
  /** Where the SDK sends: the recording server by default. */
  host?: string;
}

/** A page that loads the built UMD in <head> and calls init() with cross-domain tracking on, targeting acme-cloud.test. */
const sitePage = (collector: Recorder, { options = {}, body = '', script = '', before = '', host }: SitePage): string => {
  const init = { applicationId: 'cdt-app', host: host ?? collector.url, batchMaxTime: 50, enableCrossDomainTracking: true, crossDomainTargets: ['acme-cloud.test'], ...options };
  return `<!doctype html><html><head><title>cross-domain</title><script>${before}</script><script src="/dist/moesif.min.js"></script>
<script>moesif.init(${JSON.stringify(init)}); ${script}</script></head><body>${body}</body></html>`;
};

/** Collects uncaught errors of a page: the SDK must never throw into it. */
const watchErrors = (page: Page): string[] => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
};

const anonymousId = (page: Page): Promise<string> => page.evaluate(() => (window as any).moesif.getAnonymousId());
const hrefOf = (page: Page, selector: string): Promise<string | null> => page.locator(selector).getAttribute('href');
/** The parameter a URL carries, or null. */
const carried = (url: string | null, name = '__mt'): string | null => new URL(url ?? '', 'http://x').searchParams.get(name);

/** Right-click: a real mousedown and contextmenu, and no navigation. */
const rightClick = (page: Page, selector: string) => page.locator(selector).click({ button: 'right' });

test('a visitor who follows a link from site A to site B is one visitor: both sites send the same anonymous id, and identifyUser() on B takes in the visit to A', async ({ page, collector }) => {
  const dir = mkdtempSync(join(tmpdir(), 'usertrail-cdt-'));
  const demoCollector = await startCollector({ port: 0, db: join(dir, 'collector.db'), applicationId: DEFAULT_APP_ID });
  try {
    const options = { applicationId: DEFAULT_APP_ID };
    collector.page(
      '/docs',
      sitePage(collector, { host: demoCollector.url, options, script: `moesif.track('Read Docs');`, body: `<a id="to-b" href="${siteB(collector)}/pricing?plan=pro#compare"><span>See pricing</span></a>` }),
    );
    collector.page(
      '/pricing',
      sitePage(collector, {
        host: demoCollector.url,
        options,
        script: `moesif.track('Viewed Pricing');`,
        body: `<button onclick="moesif.identifyUser('user-42'); moesif.track('Signed Up'); moesif.flush()">Sign up</button>`,
      }),
    );
    await page.goto(`${siteA(collector)}/docs`);
    const idOnA = await anonymousId(page);
    expect(idOnA).toMatch(ID_PATTERN);
    await page.evaluate(() => (window as any).moesif.flush());

    const arrival = page.waitForRequest((request) => request.url().includes('/pricing'));
    // On the link's text: the enclosing <a> is what gets decorated.
    await page.locator('#to-b span').click();
    expect(carried((await arrival).url())).toBe(idOnA);
    // B adopted the id and took it out of the address bar.
    await expect(page).toHaveURL(`${siteB(collector)}/pricing?plan=pro#compare`);
    expect(await anonymousId(page)).toBe(idOnA);
    await page.getByRole('button', { name: 'Sign up' }).click();

    const get = async (path: string) => (await fetch(demoCollector.url + path)).json();
    await expect
      .poll(async () => ((await get('/api/events?user_id=user-42&kind=action')).events as any[]).map((item) => item.action_name).sort(), { timeout: 15_000 })
      .toEqual(['Read Docs', 'Signed Up', 'Viewed Pricing']);
    const actions = (await get('/api/events?user_id=user-42&kind=action')).events as any[];
    const byName = Object.fromEntries(actions.map((item) => [item.action_name, item]));
    // Before identifyUser(), both sites sent the one anonymous id.
    expect(byName['Read Docs']).toMatchObject({ anonymous_id: idOnA, uri: expect.stringContaining('www.acme-docs.test') });
    expect(byName['Viewed Pricing']).toMatchObject({ anonymous_id: idOnA, uri: `${siteB(collector)}/pricing?plan=pro#compare` });
    const profile = await get('/api/users/user-42');
    expect(profile).toMatchObject({ user_id: 'user-42', identified_user_id: 'user-42', anonymous_ids: [idOnA] });
    expect(profile.action_count).toBe(3);
  } finally {
    await demoCollector.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.describe('which links carry the id', () => {
  const links = (collector: Recorder) => `
    <a id="target" href="${siteB(collector)}/x?a=1&next=/y#h">B</a>
    <a id="parent-domain" href="http://acme-cloud.test:${collector.port}/">B's parent domain</a>
    <a id="look-alike" href="http://www.notacme-cloud.test:${collector.port}/">look-alike</a>
    <a id="same-origin" href="/docs/next">same origin</a>
    <a id="other-site" href="http://elsewhere.acme-docs-partner.test/">another site</a>
    <a id="mailto" href="mailto:sales@acme-cloud.test">mail</a>
    <a id="tel" href="tel:+15555550100">call</a>
    <a id="javascript" href="javascript:void(document.title='ran')">script</a>
    <a id="ftp" href="ftp://files.acme-cloud.test/a">ftp</a>`;

  test('a target, its subdomains and its parent domain with any port, keeping the path, other parameters and hash; never a look-alike, the same origin, or another site', async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { body: links(collector) }));
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    for (const selector of ['#target', '#parent-domain', '#look-alike', '#same-origin', '#other-site']) await rightClick(page, selector);
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/x?a=1&next=/y&__mt=${id}#h`);
    expect(carried(await hrefOf(page, '#parent-domain'))).toBe(id);
    expect(await hrefOf(page, '#look-alike')).toBe(`http://www.notacme-cloud.test:${collector.port}/`);
    expect(await hrefOf(page, '#same-origin')).toBe('/docs/next');
    expect(await hrefOf(page, '#other-site')).toBe('http://elsewhere.acme-docs-partner.test/');
  });

  test('with crossDomainTargets null, every other origin over http(s); mailto:, tel:, javascript: and ftp: never, and a javascript: link still runs', async ({ page, collector }) => {
    const errors = watchErrors(page);
    collector.page('/docs', sitePage(collector, { options: { crossDomainTargets: null }, body: links(collector) }));
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    for (const selector of ['#target', '#look-alike', '#same-origin', '#other-site', '#mailto', '#tel', '#ftp']) await rightClick(page, selector);
    expect(carried(await hrefOf(page, '#target'))).toBe(id);
    expect(carried(await hrefOf(page, '#look-alike'))).toBe(id);
    expect(carried(await hrefOf(page, '#other-site'))).toBe(id);
    expect(await hrefOf(page, '#same-origin')).toBe('/docs/next');
    expect(await hrefOf(page, '#mailto')).toBe('mailto:sales@acme-cloud.test');
    expect(await hrefOf(page, '#tel')).toBe('tel:+15555550100');
    expect(await hrefOf(page, '#ftp')).toBe('ftp://files.acme-cloud.test/a');
    await page.locator('#javascript').click();
    await expect(page).toHaveTitle('ran');
    expect(await hrefOf(page, '#javascript')).toBe("javascript:void(document.title='ran')");
    expect(errors).toEqual([]);
  });

  test('an image map <area> and an SVG <a> (href or xlink:href) to a target carry the id, as an HTML <a> does', async ({ page, collector }) => {
    const b = siteB(collector);
    collector.page(
      '/docs',
      sitePage(collector, {
        body: `<img alt="map" width="100" height="100" usemap="#plans"><map name="plans"><area id="area" shape="rect" coords="0,0,100,100" href="${b}/area"></map>
          <svg width="100" height="50"><a id="svg" href="${b}/svg"><rect id="svg-shape" width="50" height="50"/></a><a id="xlink" xlink:href="${b}/xlink"><rect id="xlink-shape" x="50" width="50" height="50"/></a></svg>`,
      }),
    );
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    for (const selector of ['#area', '#svg-shape', '#xlink-shape']) await page.locator(selector).dispatchEvent('mousedown');
    expect(await hrefOf(page, '#area')).toBe(`${b}/area?__mt=${id}`);
    expect(await hrefOf(page, '#svg')).toBe(`${b}/svg?__mt=${id}`);
    // The browser follows href over xlink:href: where the link leads is what counts.
    expect(await page.evaluate(() => (document.querySelector('#xlink') as SVGAElement).href.baseVal)).toBe(`${b}/xlink?__mt=${id}`);
  });

  test('a target written as an international domain name, or with a leading dot as a cookie domain is, matches its links', async ({ page, collector }) => {
    const port = collector.port;
    collector.page(
      '/docs',
      sitePage(collector, {
        options: { crossDomainTargets: ['bücher.acme-cloud.test', '.shop.acme-cloud.test'] },
        body: `<a id="idn" href="http://www.bücher.acme-cloud.test:${port}/">books</a><a id="dot" href="http://shop.acme-cloud.test:${port}/">shop</a>`,
      }),
    );
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    for (const selector of ['#idn', '#dot']) await rightClick(page, selector);
    // The browser writes the host in its ASCII (punycode) form.
    expect(await hrefOf(page, '#idn')).toBe(`http://www.xn--bcher-kva.acme-cloud.test:${port}/?__mt=${id}`);
    expect(await hrefOf(page, '#dot')).toBe(`http://shop.acme-cloud.test:${port}/?__mt=${id}`);
  });

  test('with a <base href> on site B, a relative link leads there and carries the id; cdtUrlDecorator() resolves a relative URL as window.open would', async ({ page, collector }) => {
    const b = siteB(collector);
    collector.page('/docs', sitePage(collector, { before: `document.head.append(Object.assign(document.createElement('base'), { href: '${b}/' }));`, body: `<a id="relative" href="pricing">pricing</a>` }));
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    await rightClick(page, '#relative');
    expect(await hrefOf(page, '#relative')).toBe(`${b}/pricing?__mt=${id}`);
    expect(await page.evaluate(() => (window as any).moesif.cdtUrlDecorator('/sign-up'))).toBe(`${b}/sign-up?__mt=${id}`);
    // The page's own origin is still left alone, whatever the base.
    expect(await page.evaluate(() => (window as any).moesif.cdtUrlDecorator(location.origin + '/docs/next'))).toBe(`${siteA(collector)}/docs/next`);
  });

  for (const [name, targets] of [
    ['an empty list', []],
    ['no crossDomainTargets', undefined],
  ] as const) {
    test(`with ${name}, none`, async ({ page, collector }) => {
      collector.page('/docs', sitePage(collector, { options: { crossDomainTargets: targets }, body: links(collector) }));
      await page.goto(`${siteA(collector)}/docs`);
      await rightClick(page, '#target');
      expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/x?a=1&next=/y#h`);
    });
  }

  test('with enableCrossDomainTracking off, none, whatever the targets', async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { options: { enableCrossDomainTracking: false, crossDomainTargets: null }, body: links(collector) }));
    await page.goto(`${siteA(collector)}/docs`);
    await rightClick(page, '#target');
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/x?a=1&next=/y#h`);
  });

  test('an id the link carried already is replaced by the visitor current one', async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { body: `<a id="target" href="${siteB(collector)}/x?__mt=0ld-1d&a=1">B</a>` }));
    await page.goto(`${siteA(collector)}/docs`);
    const before = await anonymousId(page);
    await rightClick(page, '#target');
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/x?a=1&__mt=${before}`);
    // After reset() the next use carries the new id, not the one the link got before.
    const after = await page.evaluate(() => ((window as any).moesif.reset(), (window as any).moesif.getAnonymousId()));
    await rightClick(page, '#target');
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/x?a=1&__mt=${after}`);
  });
});

test.describe('when links are decorated', () => {
  const body = (collector: Recorder) => `<a id="target" href="${siteB(collector)}/pricing"><span id="text">pricing</span></a>`;

  for (const type of ['mousedown', 'click', 'auxclick', 'contextmenu']) {
    test(`on ${type} alone, in the capture phase: a page handler that stops the event does not prevent it`, async ({ page, collector }) => {
      // The page stops the event at the link, as some apps' routers do.
      collector.page('/docs', sitePage(collector, { body: body(collector), script: `addEventListener('DOMContentLoaded', () => document.querySelector('#target').addEventListener('${type}', (e) => { e.stopPropagation(); e.preventDefault(); }));` }));
      await page.goto(`${siteA(collector)}/docs`);
      const id = await anonymousId(page);
      await page.locator('#text').dispatchEvent(type);
      expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing?__mt=${id}`);
    });
  }

  test('a page listener on window in the capture phase, added before the SDK, that stops the event and prevents its default does not prevent it', async ({ page, collector }) => {
    // stopPropagation() there still lets the other listeners on window run (only stopImmediatePropagation() would not).
    collector.page('/docs', sitePage(collector, { before: `addEventListener('mousedown', (e) => { e.stopPropagation(); e.preventDefault(); }, true);`, body: body(collector) }));
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    await page.locator('#text').dispatchEvent('mousedown');
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing?__mt=${id}`);
  });

  test("a link whose href the page's click handler changes carries the id to where it then leads", async ({ page, collector }) => {
    const b = siteB(collector);
    // An outbound-link script or router that rewrites the address as the link is clicked, after the SDK's capture-phase listener.
    collector.page('/docs', sitePage(collector, { body: `<a id="target" href="${b}/first">go</a><script>document.querySelector('#target').addEventListener('click', function () { this.href = '${b}/second?from=docs'; });</script>` }));
    collector.page('/second', '<!doctype html><title>B</title>');
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    const navigation = page.waitForRequest((request) => request.url().includes('/second'));
    await page.locator('#target').click();
    expect((await navigation).url()).toBe(`${b}/second?from=docs&__mt=${id}`);
  });

  test('on touchstart alone (a finger on the link, before any click)', async ({ browser, collector }) => {
    const context = await browser.newContext({ hasTouch: true });
    const page = await context.newPage();
    collector.page('/docs', sitePage(collector, { body: body(collector) }));
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    const box = (await page.locator('#text').boundingBox())!;
    const cdp = await context.newCDPSession(page);
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: box.x + 2, y: box.y + 2 }] });
    await expect.poll(() => hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing?__mt=${id}`);
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchCancel', touchPoints: [] });
    await context.close();
  });

  test('on a middle click: the new tab opens the decorated URL', async ({ page, context, collector }) => {
    collector.page('/docs', sitePage(collector, { body: body(collector) }));
    collector.page('/pricing', '<!doctype html><title>B</title>');
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    const opened = context.waitForEvent('page');
    await page.locator('#text').click({ button: 'middle' });
    const tab = await opened;
    await tab.waitForLoadState();
    expect(tab.url()).toBe(`${siteB(collector)}/pricing?__mt=${id}`);
  });

  test('on keyboard activation: Enter on the focused link follows the decorated URL', async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { body: body(collector) }));
    collector.page('/pricing', '<!doctype html><title>B</title>');
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    await page.locator('#target').focus();
    const navigation = page.waitForRequest((request: Request) => request.url().includes('/pricing'));
    await page.keyboard.press('Enter');
    expect((await navigation).url()).toBe(`${siteB(collector)}/pricing?__mt=${id}`);
  });

  test('from init(), without start(); stop() removes the listeners and start() puts them back', async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { body: body(collector) }));
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    await page.evaluate(() => (window as any).moesif.stop());
    await rightClick(page, '#target');
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing`);
    await page.evaluate(() => (window as any).moesif.start());
    await rightClick(page, '#target');
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing?__mt=${id}`);
  });

  test('an event dispatched on the document, the window or a text node never throws', async ({ page, collector }) => {
    const errors = watchErrors(page);
    collector.page('/docs', sitePage(collector, { body: body(collector) }));
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    await page.evaluate(() => {
      for (const type of ['mousedown', 'click', 'touchstart', 'submit']) {
        document.dispatchEvent(new Event(type, { bubbles: true }));
        window.dispatchEvent(new Event(type));
      }
    });
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing`);
    // A text node inside the link: its enclosing <a> is decorated.
    await page.evaluate(() => document.querySelector('#text')!.firstChild!.dispatchEvent(new MouseEvent('mousedown', { bubbles: true, composed: true })));
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing?__mt=${id}`);
    expect(errors).toEqual([]);
  });

  test('a link inside a shadow root is decorated too', async ({ page, collector }) => {
    collector.page(
      '/docs',
      sitePage(collector, {
        body: `<div id="host"></div><script>document.querySelector('#host').attachShadow({ mode: 'open' }).innerHTML = '<a id="inner" href="${siteB(collector)}/pricing">pricing</a>';</script>`,
      }),
    );
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    await page.locator('#inner').click({ button: 'right' });
    expect(await page.locator('#inner').getAttribute('href')).toBe(`${siteB(collector)}/pricing?__mt=${id}`);
  });
});

test.describe('forms', () => {
  const forms = (b: string) => `
    <form id="get" action="${b}/search?ignored=1" method="get"><input name="q" value="cloud"><button id="get-go">Search</button></form>
    <form id="post" action="${b}/signup" method="post"><input name="email" value="a@b.test"><button id="post-go">Sign up</button></form>
    <form id="same" action="/docs/search" method="get"><input name="q" value="docs"><button id="same-go">Search docs</button></form>`;

  test('a GET form to a target carries the id in a hidden field', async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { body: forms(siteB(collector)) }));
    collector.page('/search', '<!doctype html><title>B</title>');
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    const navigation = page.waitForRequest((request) => request.url().includes('/search'));
    await page.locator('#get-go').click();
    expect((await navigation).url()).toBe(`${siteB(collector)}/search?q=cloud&__mt=${id}`);
  });

  test('a GET form to a target with fields named "action", "method" and "elements" carries the id (those names hide the form\'s own properties)', async ({ page, collector }) => {
    const b = siteB(collector);
    collector.page(
      '/docs',
      sitePage(collector, {
        body: `<form action="${b}/search" method="get"><input type="hidden" name="action" value="search"><input type="hidden" name="method" value="full"><input type="hidden" name="elements" value="all"><button id="go">Search</button></form>`,
      }),
    );
    collector.page('/search', '<!doctype html><title>B</title>');
    await page.goto(`${siteA(collector)}/docs`);
    const id = await anonymousId(page);
    const navigation = page.waitForRequest((request) => request.url().includes('/search'));
    await page.locator('#go').click();
    expect((await navigation).url()).toBe(`${b}/search?action=search&method=full&elements=all&__mt=${id}`);
  });

  for (const how of ['a click', 'requestSubmit(submitter)'] as const) {
    test(`the submitter's formaction and formmethod decide, on ${how}: a button that sends GET to a target carries the id, one that sends POST does not`, async ({ page, collector }) => {
      const b = siteB(collector);
      collector.page(
        '/docs',
        sitePage(collector, {
          body: `<form id="form" action="/docs/local" method="post"><input name="q" value="cloud">
            <button id="get-to-b" formaction="${b}/search" formmethod="get">Search B</button>
            <button id="post-to-b" formaction="${b}/signup">Sign up on B</button></form>`,
        }),
      );
      collector.page('/search', '<!doctype html><title>B</title>');
      collector.page('/signup', '<!doctype html><title>B</title>');
      const submit = (button: string) =>
        how == 'a click' ? page.locator(button).click() : page.evaluate((button) => (document.querySelector('#form') as HTMLFormElement).requestSubmit(document.querySelector(button) as HTMLButtonElement), button);
      await page.goto(`${siteA(collector)}/docs`);
      const id = await anonymousId(page);
      const search = page.waitForRequest((request) => request.url().includes('/search'));
      await submit('#get-to-b');
      expect((await search).url()).toBe(`${b}/search?q=cloud&__mt=${id}`);
      // B's page loaded: the navigation is over, and the next one cannot interrupt it.
      await expect(page).toHaveTitle('B');

      await page.goto(`${siteA(collector)}/docs`);
      const signup = page.waitForRequest((request) => request.url().includes('/signup'));
      await submit('#post-to-b');
      expect((await signup).postData()).toBe('q=cloud');
    });
  }

  test('a POST form and a same-origin form are left alone', async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { body: forms(siteB(collector)) }));
    collector.page('/signup', '<!doctype html><title>B</title>');
    collector.page('/docs/search', '<!doctype html><title>A</title>');
    await page.goto(`${siteA(collector)}/docs`);
    const post = page.waitForRequest((request) => request.url().includes('/signup'));
    await page.locator('#post-go').click();
    const request = await post;
    expect(request.url()).toBe(`${siteB(collector)}/signup`);
    expect(request.postData()).toBe('email=a%40b.test');
    // B's page loaded: the navigation is over, and the next one cannot interrupt it.
    await expect(page).toHaveTitle('B');
    await page.goto(`${siteA(collector)}/docs`);
    const same = page.waitForRequest((request) => request.url().includes('/docs/search'));
    await page.locator('#same-go').click();
    expect((await same).url()).toBe(`${siteA(collector)}/docs/search?q=docs`);
  });
});

test.describe('consent', () => {
  const body = (collector: Recorder) => `<a id="target" href="${siteB(collector)}/pricing">pricing</a>
    <form id="get" action="${siteB(collector)}/search" method="get"><input name="q" value="x"></form>`;
  const hiddenField = (page: Page) => page.locator('#get input[name="__mt"]');

  test('nothing is decorated while consent is pending; after grantPublishingConsent() links and forms are, with no other call', async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { options: { requirePublishingConsent: true }, body: body(collector) }));
    await page.goto(`${siteA(collector)}/docs`);
    await rightClick(page, '#target');
    await page.evaluate(() => document.querySelector('#get')!.dispatchEvent(new SubmitEvent('submit', { bubbles: true, cancelable: true })));
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing`);
    await expect(hiddenField(page)).toHaveCount(0);

    await page.evaluate(() => (window as any).moesif.grantPublishingConsent());
    const id = await anonymousId(page);
    await rightClick(page, '#target');
    await page.evaluate(() => document.querySelector('#get')!.dispatchEvent(new SubmitEvent('submit', { bubbles: true, cancelable: true })));
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing?__mt=${id}`);
    await expect(hiddenField(page)).toHaveValue(id);
  });

  test('after revokePublishingConsent() a link decorated before carries the id no more, nor a form', async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { body: body(collector) }));
    await page.goto(`${siteA(collector)}/docs`);
    await rightClick(page, '#target');
    await page.evaluate(() => document.querySelector('#get')!.dispatchEvent(new SubmitEvent('submit', { bubbles: true, cancelable: true })));
    expect(carried(await hrefOf(page, '#target'))).toBeTruthy();
    await expect(hiddenField(page)).toHaveCount(1);

    await page.evaluate(() => (window as any).moesif.revokePublishingConsent());
    await rightClick(page, '#target');
    await page.evaluate(() => document.querySelector('#get')!.dispatchEvent(new SubmitEvent('submit', { bubbles: true, cancelable: true })));
    expect(await hrefOf(page, '#target')).toBe(`${siteB(collector)}/pricing`);
    await expect(hiddenField(page)).toHaveCount(0);
  });
});

test.describe('an id arriving on site B', () => {
  const arrive = async ({ page, collector }: PageAndCollector, search: string, options: Record<string, unknown> = {}) => {
    // A router that keeps its state in history.state, set before the SDK runs.
    collector.page('/pricing', sitePage(collector, { options, before: `history.replaceState({ route: 'pricing', step: 2 }, '');` }));
    await page.goto(`${siteB(collector)}/pricing${search}#plans`);
  };
  // The browser's cookie store (context.cookies()) takes a cookie the page wrote a moment later than
  // document.cookie shows it: read after a write, it is polled.
  const storedIds = async (page: Page) => ({
    cookie: (await page.context().cookies()).find((cookie) => cookie.name == 'moesif_anonymous_id')?.value,
    local: await page.evaluate(() => localStorage.getItem('moesif_anonymous_id')),
  });

  test("becomes the anonymous id, also moesif-browser-js's own id shape, and leaves the address bar: path, other parameters as written, hash and history.state kept", async ({ page, collector }) => {
    await arrive({ page, collector }, `?next=/app&q=a%20b+c&__mt=${MOESIF_STYLE_ID}&utm_source=docs`);
    expect(await anonymousId(page)).toBe(MOESIF_STYLE_ID);
    await expect.poll(() => storedIds(page)).toEqual({ cookie: MOESIF_STYLE_ID, local: MOESIF_STYLE_ID });
    expect(page.url()).toBe(`${siteB(collector)}/pricing?next=/app&q=a%20b+c&utm_source=docs#plans`);
    expect(await page.evaluate(() => history.state)).toEqual({ route: 'pricing', step: 2 });
    // The first action's URI no longer carries the id; the visit's campaign is still recorded.
    await page.evaluate(() => (window as any).moesif.track('Viewed Pricing'));
    await expect.poll(() => collector.items('actions').length).toBe(1);
    expect(collector.items('actions')[0]).toMatchObject({ anonymous_id: MOESIF_STYLE_ID, request: { uri: `${siteB(collector)}/pricing?next=/app&q=a%20b+c&utm_source=docs#plans` } });
  });

  for (const [name, search] of [
    ['not hex and dashes', '?__mt=%3Cscript%3E-1&a=1'],
    ['without a dash', '?__mt=abcdef0123&a=1'],
    ['over 200 characters', `?__mt=${'a-'.repeat(100)}a&a=1`],
    ['given twice', `?__mt=${MOESIF_STYLE_ID}&a=1&__mt=0123-4567`],
  ] as const) {
    test(`is ignored when ${name}, and leaves the address bar all the same`, async ({ page, collector }) => {
      await arrive({ page, collector }, search);
      const id = await anonymousId(page);
      expect(id).toMatch(ID_PATTERN);
      expect(page.url()).toBe(`${siteB(collector)}/pricing?a=1#plans`);
    });
  }

  test('leaves the address bar also on a page whose <base href> is on another site', async ({ page, collector }) => {
    // history.replaceState resolves a relative URL against the base: elsewhere, it refuses it (SecurityError).
    collector.page('/pricing', sitePage(collector, { before: `document.head.append(Object.assign(document.createElement('base'), { href: '${siteA(collector)}/' }));` }));
    await page.goto(`${siteB(collector)}/pricing?a=1&__mt=${MOESIF_STYLE_ID}#plans`);
    expect(await anonymousId(page)).toBe(MOESIF_STYLE_ID);
    expect(page.url()).toBe(`${siteB(collector)}/pricing?a=1#plans`);
  });

  test("on a page whose history.replaceState throws, is adopted and stays in the address bar, and nothing is thrown into the page", async ({ page, collector }) => {
    const errors = watchErrors(page);
    collector.page('/pricing', sitePage(collector, { before: `history.replaceState = () => { throw new Error('replaceState is not yours'); }; Object.freeze(history);` }));
    await page.goto(`${siteB(collector)}/pricing?__mt=${MOESIF_STYLE_ID}`);
    expect(await anonymousId(page)).toBe(MOESIF_STYLE_ID);
    expect(page.url()).toBe(`${siteB(collector)}/pricing?__mt=${MOESIF_STYLE_ID}`);
    expect(errors).toEqual([]);
  });

  test('replaces the id site B had for this browser, as in moesif', async ({ page, collector }) => {
    collector.page('/home', sitePage(collector, {}));
    await page.goto(`${siteB(collector)}/home`);
    const before = await anonymousId(page);
    await arrive({ page, collector }, `?__mt=${MOESIF_STYLE_ID}`);
    expect(before).not.toBe(MOESIF_STYLE_ID);
    expect(await anonymousId(page)).toBe(MOESIF_STYLE_ID);
  });

  test('with requirePublishingConsent, is held in memory and stored only on grant', async ({ page, collector }) => {
    await arrive({ page, collector }, `?__mt=${MOESIF_STYLE_ID}`, { requirePublishingConsent: true });
    expect(await anonymousId(page)).toBe(MOESIF_STYLE_ID);
    expect(page.url()).toBe(`${siteB(collector)}/pricing#plans`);
    expect(await storedIds(page)).toEqual({ cookie: undefined, local: null });
    await page.evaluate(() => (window as any).moesif.grantPublishingConsent());
    await expect.poll(() => storedIds(page)).toEqual({ cookie: MOESIF_STYLE_ID, local: MOESIF_STYLE_ID });
  });

  test('with the option off, is neither adopted nor removed', async ({ page, collector }) => {
    await arrive({ page, collector }, `?__mt=${MOESIF_STYLE_ID}`, { enableCrossDomainTracking: false });
    expect(await anonymousId(page)).not.toBe(MOESIF_STYLE_ID);
    expect(page.url()).toBe(`${siteB(collector)}/pricing?__mt=${MOESIF_STYLE_ID}#plans`);
  });

  test('under another crossDomainTrackingParameterName, that parameter and not __mt', async ({ page, collector }) => {
    await arrive({ page, collector }, `?__mt=0123-4567&vid=${MOESIF_STYLE_ID}`, { crossDomainTrackingParameterName: 'vid' });
    expect(await anonymousId(page)).toBe(MOESIF_STYLE_ID);
    expect(page.url()).toBe(`${siteB(collector)}/pricing?__mt=0123-4567#plans`);
  });
});

test.describe('with moesif-browser-js 1.10.2 on the other side of the link', () => {
  test.skip(!moesif1102, 'no git mirror of moesif-browser-js holding its v1.10.2 tag');

  /** A page with moesif-browser-js 1.10.2 inline, started with cross-domain tracking to `targets`; it sends nowhere. */
  const moesifPage = (targets: string[], body = '') => `<!doctype html><html><head><title>moesif</title><script>${moesif1102}</script>
    <script>moesif.init({ applicationId: 'cdt-app', host: '127.0.0.1:9', enableCrossDomainTracking: true, crossDomainTargets: ${JSON.stringify(targets)} }); moesif.start();</script></head><body>${body}</body></html>`;
  const moesifStoredId = (page: Page) => page.evaluate(() => localStorage.getItem('moesif_anonymous_id'));

  test("moesif on site A, usertrail on site B: B adopts moesif's id from the link, and takes the parameter out", async ({ page, collector }) => {
    collector.page('/docs', moesifPage(['acme-cloud.test'], `<a id="to-b" href="${siteB(collector)}/pricing?plan=pro#compare">pricing</a>`));
    collector.page('/pricing', sitePage(collector, { options: { crossDomainTargets: ['acme-docs.test'] }, script: `moesif.track('Viewed Pricing');` }));
    await page.goto(`${siteA(collector)}/docs`);
    const idOnA = await moesifStoredId(page);
    expect(idOnA).toMatch(/^[0-9a-f-]+$/);
    await page.locator('#to-b').click();
    await expect(page).toHaveURL(`${siteB(collector)}/pricing?plan=pro#compare`);
    expect(await anonymousId(page)).toBe(idOnA);
    await expect.poll(() => collector.items('actions').map((action) => action.anonymous_id)).toEqual([idOnA]);
  });

  test("usertrail on site A, moesif on site B: B adopts usertrail's id from the link, and takes the parameter out", async ({ page, collector }) => {
    collector.page('/docs', sitePage(collector, { body: `<a id="to-b" href="${siteB(collector)}/pricing?plan=pro#compare">pricing</a>` }));
    collector.page('/pricing', moesifPage(['acme-docs.test']));
    await page.goto(`${siteA(collector)}/docs`);
    const idOnA = await anonymousId(page);
    await page.locator('#to-b').click();
    await expect(page).toHaveURL(`${siteB(collector)}/pricing?plan=pro#compare`);
    expect(await moesifStoredId(page)).toBe(idOnA);
  });
});
