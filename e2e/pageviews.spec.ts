import { chromium, expect, test } from '@playwright/test';
import { chromiumLaunchOptions } from './support/browser';
import { startRecorder, umdPage, type Recorder } from './support/recorder';

let collector: Recorder;
test.beforeEach(async () => {
  collector = await startRecorder();
});
test.afterEach(async () => {
  await collector.close();
});

const init = `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50, trackPageViews: true });`;
// A page that closes with a request in flight cannot learn whether it arrived, so the next page may
// send it again under the same transaction id, which the collector drops; count each id once.
const views = () =>
  [...new Map(collector.items('actions').map((a) => [a.transaction_id, a])).values()]
    .filter((a) => a.action_name === 'Page View')
    .map((a) => a.metadata as { pathname: string; title: string; hash: string; host: string; search: string; referrer: string });

test('an SPA with pushState routing sends exactly the page views a person would count', async ({ page }) => {
  // A tiny router: every navigation sets the title a tick later, as frameworks do.
  const router = `const titles = {};
    // A router sets the title a task after navigating (time is the scenario).
    window.go = (path, title) => { titles[path.split('#')[0]] = title; history.pushState({ path }, '', path); setTimeout(() => { document.title = title; }); };
    addEventListener('popstate', () => setTimeout(() => { document.title = titles[location.pathname] || 'Home'; }));`;
  collector.page('/spa', umdPage(`document.title = 'Home'; ${router} ${init}`));
  await page.goto(collector.url + '/spa');
  await expect.poll(() => views().length).toBe(1);
  // A person spends more than a moment on each page; each step waits for its view to be recorded.
  const step = async (count: number, navigate: () => Promise<unknown>) => {
    await navigate();
    await expect.poll(() => views().length).toBe(count);
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
  // A navigation that is a view, after it: views wait the same time for their title, so once this one
  // has arrived, a view for the same-URL call before it would have too.
  await page.evaluate(() => window.go('/spa/after', 'After'));
  await expect.poll(() => views().length, { timeout: 10_000 }).toBe(8);
  expect(views().pop()).toMatchObject({ pathname: '/spa/after', title: 'After' });
  expect(views().slice(0, 7).map((v) => [v.pathname + v.hash, v.title])).toEqual([
    ['/spa', 'Home'],
    ['/spa/pricing', 'Pricing'],
    ['/spa/docs', 'Docs'],
    ['/spa/signup', 'Sign up'],
    ['/spa/docs', 'Docs'],
    ['/spa/signup', 'Sign up'],
    ['/spa/signup#faq', 'Sign up'],
  ]);
  expect(views()[1]).toMatchObject({ host: `127.0.0.1:${collector.port}`, referrer: `${collector.url}/spa` });
  // Each view's referrer is the page viewed before it.
  const urls = views().slice(0, 7).map((v) => `${collector.url}${v.pathname}${v.search}${v.hash}`);
  expect(views().slice(1, 7).map((v) => v.referrer)).toEqual(urls.slice(0, -1));
});

test('history.state, return values and arguments pass through unchanged', async ({ page }) => {
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

test("a router's own pushState wrapper keeps working, and keeps its place after the SDK stops", async ({ page }) => {
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
  await expect.poll(() => views().length).toBe(2);
  await page.evaluate(() => window.moesif.stop());
  const after = await page.evaluate(() => {
    history.pushState({}, '', '/router/b');
    return { calls: window.routerCalls, restored: history.pushState === window.routerWrapper };
  });
  // The router's own pushState is back: nothing of ours is left to see the navigation.
  expect(after).toEqual({ calls: 2, restored: true });
  await collector.settled(page);
  expect(views().length).toBe(2);
});

test('a hash-routed page counts hash changes', async ({ page }) => {
  collector.page('/hash', umdPage(init));
  await page.goto(collector.url + '/hash#/home');
  await page.evaluate(() => {
    location.hash = '#/settings';
  });
  await expect.poll(() => views().map((v) => v.hash)).toEqual(['#/home', '#/settings']);
});

test('a page restored from the back/forward cache counts once, with the title it has after the restore', async () => {
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
    await expect.poll(() => views().length).toBe(1);
    await page.goto(collector.url + '/bf-b');
    await expect.poll(() => views().length).toBe(2);
    await page.goBack({ waitUntil: 'commit' });
    await expect.poll(() => views().length).toBe(3);
    // Restored, not reloaded: the page kept its state and saw pageshow with persisted set.
    expect(await page.evaluate(() => (window as unknown as { persisted: boolean }).persisted)).toBe(true);
    // A navigation after it, which is a view: once it has arrived, a second view for the restore would have too.
    await page.evaluate(() => history.pushState({}, '', '/bf-after'));
    await expect.poll(() => views().length).toBe(4);
    expect(views().map((v) => [v.pathname, v.title])).toEqual([
      ['/bf-a', 'test page'],
      ['/bf-b', 'test page'],
      ['/bf-a', 'Restored'],
      ['/bf-after', 'Restored'],
    ]);
  } finally {
    await browser.close();
  }
});

test('trackPageView() works with the option off, and after a router navigation', async ({ page }) => {
  collector.page('/manual', umdPage(`moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50 }); moesif.trackPageView({ section: 'docs' });`));
  await page.goto(collector.url + '/manual');
  await expect.poll(() => views().length).toBe(1);
  expect(views()[0]).toMatchObject({ pathname: '/manual', section: 'docs' });
  // A router announcing its navigations: the referrer is the page viewed before.
  await page.evaluate(() => {
    history.pushState({}, '', '/manual/next');
    (window as unknown as { moesif: { trackPageView(): void } }).moesif.trackPageView();
  });
  await expect.poll(() => views().length).toBe(2);
  expect(views()[1]).toMatchObject({ pathname: '/manual/next', referrer: `${collector.url}/manual` });
});
