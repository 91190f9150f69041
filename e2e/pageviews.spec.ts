import { chromium } from '@playwright/test';
import { chromiumLaunchOptions } from './support/browser';
import { expect, test } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

const init = `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50, trackPageViews: true });`;
// A page that closes with a request in flight cannot learn whether it arrived, so the next page may
// send it again under the same transaction id, which the collector drops; count each id once.
const views = (collector: Recorder) =>
  [...new Map(collector.items('actions').map((a) => [a.transaction_id, a])).values()]
    .filter((a) => a.action_name === 'Page View')
    .map((a) => a.metadata as { pathname: string; title: string; hash: string; host: string; search: string; referrer: string });

test('an SPA with pushState routing sends exactly the page views a person would count', async ({ page, collector }) => {
  // A tiny router: every navigation sets the title a tick later, as frameworks do.
  const router = `const titles = {};
    // A router sets the title a task after navigating (time is the scenario).
    window.go = (path, title) => { titles[path.split('#')[0]] = title; history.pushState({ path }, '', path); setTimeout(() => { document.title = title; }); };
    addEventListener('popstate', () => setTimeout(() => { document.title = titles[location.pathname] || 'Home'; }));`;
  collector.page('/spa', umdPage(`document.title = 'Home'; ${router} ${init}`));
  await page.goto(collector.url + '/spa');
  await expect.poll(() => views(collector).length).toBe(1);
  // A person spends more than a moment on each page; each step waits for its view to be recorded.
  const step = async (count: number, navigate: () => Promise<unknown>) => {
    await navigate();
    await expect.poll(() => views(collector).length).toBe(count);
  };
  let count = 1;
  for (const [path, title] of [['/spa/pricing', 'Pricing'], ['/spa/docs', 'Docs'], ['/spa/signup', 'Sign up']]) {
    await step(++count, () => page.evaluate(([p, t]) => window.go(p, t), [path, title]));
  }
  await step(++count, () => page.goBack());
  await step(++count, () => page.goForward());
  await step(++count, () =>
    page.evaluate(() => {
      location.hash = '#faq';
    }),
  );
  await page.evaluate(() => window.go('/spa/signup#faq', 'Sign up')); // the same URL again: not a new view
  // A view made for it would leave before the next navigation's: waiting for that one is enough.
  await step(++count, () => page.evaluate(() => window.go('/spa/thanks', 'Thanks')));
  expect(views(collector).map((v) => [v.pathname + v.hash, v.title])).toEqual([
    ['/spa', 'Home'],
    ['/spa/pricing', 'Pricing'],
    ['/spa/docs', 'Docs'],
    ['/spa/signup', 'Sign up'],
    ['/spa/docs', 'Docs'],
    ['/spa/signup', 'Sign up'],
    ['/spa/signup#faq', 'Sign up'],
    ['/spa/thanks', 'Thanks'],
  ]);
  expect(views(collector)[1]).toMatchObject({ host: `127.0.0.1:${collector.port}`, referrer: `${collector.url}/spa` });
  // Each view's referrer is the page viewed before it.
  const urls = views(collector).slice(0, 7).map((v) => `${collector.url}${v.pathname}${v.search}${v.hash}`);
  expect(views(collector).slice(1, 7).map((v) => v.referrer)).toEqual(urls.slice(0, -1));
});

test('a route that sets its title after rendering, as React Router does, is viewed with that title', async ({ page, collector }) => {
  // Each route renders after its data arrives (a loader, a lazy chunk) and sets document.title in an
  // effect after paint: later than a fixed short wait. A route left before it rendered never sets its title.
  const router = `let current = 0;
    window.go = (path, title, loadMs) => {
      const route = ++current;
      history.pushState({}, '', path);
      setTimeout(() => requestAnimationFrame(() => setTimeout(() => { if (route === current) document.title = title; })), loadMs);
    };`;
  collector.page('/app', umdPage(`document.title = 'Home'; ${router} ${init}`));
  await page.goto(collector.url + '/app');
  await expect.poll(() => views(collector).length).toBe(1);
  const go = (path: string, title: string, loadMs: number) =>
    page.evaluate(([p, t, ms]) => (window as any).go(p, t, ms), [path, title, loadMs] as const);

  // The visitor acts on the new page before its title is set: the view, sent later, still comes first
  // in time, and carries its own address.
  await go('/app/reports', 'Reports', 400);
  await page.evaluate(() => (window as any).moesif.track('Clicked Export'));
  await expect.poll(() => views(collector).length).toBe(2);
  expect(views(collector)[1]).toMatchObject({ pathname: '/app/reports', title: 'Reports' });
  const actions = collector.items('actions') as Array<{ action_name: string; request: { time: string; uri: string } }>;
  const [reportsView, click] = ['Page View', 'Clicked Export'].map((name) => actions.filter((a) => a.action_name === name).at(-1)!);
  expect(reportsView.request.uri).toBe(`${collector.url}/app/reports`);
  expect(reportsView.request.time < click.request.time).toBe(true);

  // A route whose title is the one the page already has: sent once the bound passes, with that title.
  await go('/app/reports/2024', 'Reports', 0);
  await expect.poll(() => views(collector).length).toBe(3);
  expect(views(collector)[2]).toMatchObject({ pathname: '/app/reports/2024', title: 'Reports' });

  // A redirect before the first route had its title: both views arrive, in order; the first with the
  // title the page had when the next navigation came, the second with its own.
  await page.evaluate(() => {
    (window as any).go('/app/login', 'Log in', 400);
    (window as any).go('/app/dashboard', 'Dashboard', 400);
  });
  await expect.poll(() => views(collector).length).toBe(5);
  expect(views(collector).slice(3).map((v) => [v.pathname, v.title])).toEqual([
    ['/app/login', 'Reports'],
    ['/app/dashboard', 'Dashboard'],
  ]);
  // No other view comes: a marker view would arrive after it.
  await page.evaluate(() => (window as any).moesif.trackPageView({ marker: true }));
  await expect.poll(() => views(collector).length).toBe(6);
  expect(views(collector)[5]).toMatchObject({ pathname: '/app/dashboard', marker: true });
});

test('history.state, return values and arguments pass through unchanged', async ({ page, collector }) => {
  collector.page('/state', umdPage(init));
  await page.goto(collector.url + '/state');
  const result = await page.evaluate(() => {
    const state = { nested: { list: [1, 2, 3] }, when: 'now' };
    const returned = history.pushState(state, '', '/state/next');
    history.pushState({ second: true }, '', '/state/later');
    history.replaceState({ replaced: true }, '', '/state/later?x=1');
    return { returned: String(returned), state: history.state, path: location.pathname + location.search };
  });
  expect(result).toEqual({ returned: 'undefined', state: { replaced: true }, path: '/state/later?x=1' });
  await page.goBack();
  await expect.poll(() => page.evaluate(() => history.state)).toEqual({ nested: { list: [1, 2, 3] }, when: 'now' });
});

test("a router's own pushState wrapper keeps working, and keeps its place after the SDK stops", async ({ page, collector }) => {
  collector.page(
    '/router',
    umdPage(`window.routerCalls = 0;
      const original = history.pushState;
      history.pushState = function (...args) { window.routerCalls++; return original.apply(this, args); };
      window.routerWrapper = history.pushState;
      ${init}`),
  );
  await page.goto(collector.url + '/router');
  await page.evaluate(() => history.pushState({}, '', '/router/a'));
  await expect.poll(() => views(collector).length).toBe(2);
  await page.evaluate(() => window.moesif.stop());
  const after = await page.evaluate(() => {
    history.pushState({}, '', '/router/b');
    return { calls: window.routerCalls, restored: history.pushState === window.routerWrapper };
  });
  // The router's own pushState is back: nothing of ours is left to see the navigation.
  expect(after).toEqual({ calls: 2, restored: true });
  // trackPageView() sends any automatic view still waiting first: none may come for /router/b.
  await page.evaluate(() => window.moesif.trackPageView({ marker: true }));
  await expect.poll(() => views(collector).length).toBe(3);
  expect(views(collector)[2]).toMatchObject({ pathname: '/router/b', marker: true });
});

test('a hash-routed page counts hash changes', async ({ page, collector }) => {
  collector.page('/hash', umdPage(init));
  await page.goto(collector.url + '/hash#/home');
  await page.evaluate(() => {
    location.hash = '#/settings';
  });
  await expect.poll(() => views(collector).map((v) => v.hash)).toEqual(['#/home', '#/settings']);
});

test('a page restored from the back/forward cache counts once, with the title it has after the restore', async ({ collector }) => {
  // Playwright starts Chromium with the back/forward cache disabled (goBack would reload the page), and
  // the recorder serves pages with Cache-Control: no-store, which keeps them out of it.
  const browser = await chromium.launch({ ...chromiumLaunchOptions, ignoreDefaultArgs: ['--disable-back-forward-cache'] });
  try {
    const page = await browser.newPage();
    await page.route('**/bf-*', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ status: 200, headers: { 'content-type': 'text/html' }, body: await response.text() });
    });
    const script = `${init} addEventListener('pageshow', (event) => { window.persisted = event.persisted; if (event.persisted) document.title = 'Restored'; });`;
    collector.page('/bf-a', umdPage(script));
    collector.page('/bf-b', umdPage(script));
    await page.goto(collector.url + '/bf-a');
    await expect.poll(() => views(collector).length).toBe(1);
    await page.goto(collector.url + '/bf-b');
    await expect.poll(() => views(collector).length).toBe(2);
    await page.goBack({ waitUntil: 'commit' });
    await expect.poll(() => views(collector).length).toBe(3);
    // Restored, not reloaded: the page kept its state and saw pageshow with persisted set.
    expect(await page.evaluate(() => (window as unknown as { persisted: boolean }).persisted)).toBe(true);
    // A marker view: any other automatic view, still waiting for a title, would leave before it.
    await page.evaluate(() => window.moesif.trackPageView({ marker: true }));
    await expect.poll(() => views(collector).length).toBe(4);
    expect(views(collector).map((v) => [v.pathname, v.title])).toEqual([
      ['/bf-a', 'test page'],
      ['/bf-b', 'test page'],
      ['/bf-a', 'Restored'],
      ['/bf-a', 'Restored'],
    ]);
  } finally {
    await browser.close();
  }
});

test('trackPageView() works with the option off, and after a router navigation', async ({ page, collector }) => {
  collector.page('/manual', umdPage(`moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50 }); moesif.trackPageView({ section: 'docs' });`));
  await page.goto(collector.url + '/manual');
  await expect.poll(() => views(collector).length).toBe(1);
  expect(views(collector)[0]).toMatchObject({ pathname: '/manual', section: 'docs' });
  // A router announcing its navigations: the referrer is the page viewed before.
  await page.evaluate(() => {
    history.pushState({}, '', '/manual/next');
    (window as unknown as { moesif: { trackPageView(): void } }).moesif.trackPageView();
  });
  await expect.poll(() => views(collector).length).toBe(2);
  expect(views(collector)[1]).toMatchObject({ pathname: '/manual/next', referrer: `${collector.url}/manual` });
});

test("a page view that fails inside the app's pushState warns once and never throws into the app", async ({ page, collector }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const warnings: string[] = [];
  page.on('console', (message) => message.type() === 'warning' && message.text().startsWith('[usertrail]') && warnings.push(message.text()));
  collector.page('/spa', umdPage(init));
  await page.goto(collector.at('app.example.test') + '/spa');
  await expect.poll(() => views(collector).length).toBe(1);
  const navigation = await page.evaluate(() => {
    // A script of the page broke a built-in the view uses when it begins (its time): the view fails.
    Object.assign(window, { toISOString: Date.prototype.toISOString });
    Date.prototype.toISOString = () => {
      throw new RangeError('broken by the page');
    };
    const result = history.pushState({ step: 1 }, '', '/spa/next');
    // The app's own mistake still reaches it unchanged: a state that cannot be cloned.
    let appError = '';
    try {
      history.pushState({ handler: () => {} }, '', '/spa/never');
    } catch (error) {
      appError = (error as Error).name;
    }
    return { result, state: history.state, path: location.pathname, appError };
  });
  expect(navigation).toEqual({ result: undefined, state: { step: 1 }, path: '/spa/next', appError: 'DataCloneError' });
  expect(errors).toEqual([]);
  expect(warnings).toHaveLength(1);

  expect(warnings).toEqual(['[usertrail] page view left out: RangeError: broken by the page']);

  // The SDK carries on: once the built-in is back, navigations are viewed again.
  await page.evaluate(() => {
    Date.prototype.toISOString = (window as unknown as { toISOString: () => string }).toISOString;
    history.pushState(null, '', '/spa/later');
    window.moesif.trackPageView({ marker: true });
  });
  await expect.poll(() => views(collector).map((v) => v.pathname)).toEqual(['/spa', '/spa/later', '/spa/later']);
  expect(errors).toEqual([]);
});

test("another tab's revoke, found by a page view inside the app's pushState where the page made fetch read-only: taken, nothing thrown, nothing said", async ({ context, collector }) => {
  const initGranted = `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50, trackPageViews: true });`;
  collector.page('/docs', umdPage(`${initGranted} moesif.start();`));
  collector.page('/app', umdPage(initGranted));
  const docs = await context.newPage();
  const errors: string[] = [];
  docs.on('pageerror', (error) => errors.push(error.message));
  const warnings: string[] = [];
  docs.on('console', (message) => message.type() === 'warning' && message.text().startsWith('[usertrail]') && warnings.push(message.text()));
  await docs.goto(collector.at('docs.example.test') + '/docs');
  await expect.poll(() => views(collector).length).toBe(1);
  // A hardening script locks window.fetch (capture's wrapper, by now) in place: stopping capture, which a
  // refusal does, cannot put the original back. It threw there, and the page view carried the TypeError
  // into the app's pushState; capture's wrapper now stays in place, off.
  await docs.evaluate(() => Object.defineProperty(window, 'fetch', { value: window.fetch, writable: false, configurable: true }));
  const app = await context.newPage();
  await app.goto(collector.at('app.example.test') + '/app');
  await app.evaluate(() => window.moesif.revokePublishingConsent());

  // Back on docs (a tab switch, dispatched as in consent.spec), its router navigates: the view reads the refusal there.
  await docs.bringToFront();
  await docs.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  const navigation = await docs.evaluate(() => {
    const result = history.pushState({ step: 1 }, '', '/docs/next');
    return { result, state: history.state, path: location.pathname };
  });
  expect(navigation).toEqual({ result: undefined, state: { step: 1 }, path: '/docs/next' });
  expect(errors).toEqual([]);
  expect(warnings).toEqual([]);
  expect(await docs.evaluate(() => window.moesif.isPublishingConsentGranted())).toBe(false);
  await collector.settled(docs);
  expect(views(collector)).toHaveLength(1);
});
