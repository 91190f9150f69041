import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { startRecorder, umdPage, type Recorder } from './support/recorder';

const APP_ID = 'test-app-id';
let collector: Recorder;

test.beforeAll(async () => {
  collector = await startRecorder();
});
test.afterAll(async () => {
  await collector.close();
});
test.beforeEach(() => {
  collector.received.length = 0;
});

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const initScript = (extra = '') =>
  `moesif.init({ applicationId: '${APP_ID}', host: location.protocol + '//127.0.0.1:' + location.port, batchMaxTime: 50 ${extra} });`;

test('the UMD build from a script tag sends Moesif-format actions, users and companies', async ({ page }) => {
  collector.page('/umd', umdPage(`${initScript()}
    moesif.identifySession('session-1');
    moesif.track('Viewed Pricing', { plan: 'pro' });
    moesif.identifyUser('user-1', { email: 'a@example.com' });
    moesif.identifyCompany('company-1', { plan: 'team' }, 'acme.com');
    moesif.track('Signed Up');`));
  await page.goto(collector.at('app.example.test') + '/umd?utm_source=newsletter&utm_campaign=launch');
  await expect.poll(() => collector.items('actions').length).toBe(2);
  await expect.poll(() => collector.items('companies').length).toBe(1);

  const request = collector.received.find((r) => r.path === '/v1/actions/batch')!;
  expect(request.headers['content-type']).toBe('application/json');
  expect(request.headers['x-moesif-application-id']).toBe(APP_ID);
  expect(request.headers['x-moesif-sdk']).toMatch(/^usertrail\/\d+\.\d+\.\d+/);

  const [anonymousAction, userAction] = collector.items('actions');
  expect(anonymousAction).toMatchObject({
    action_name: 'Viewed Pricing',
    session_token: 'session-1',
    metadata: { plan: 'pro' },
    request: { verb: 'GET', uri: expect.stringContaining('/umd?utm_source=newsletter') },
  });
  expect(anonymousAction.anonymous_id).toMatch(UUID_V4);
  expect(anonymousAction.user_id).toBeUndefined();
  expect(anonymousAction.transaction_id).toMatch(UUID_V4);
  expect(new Date((anonymousAction.request as { time: string }).time).getTime()).toBeGreaterThan(Date.now() - 60_000);
  expect(userAction).toMatchObject({ action_name: 'Signed Up', user_id: 'user-1', company_id: 'company-1' });
  expect(userAction.anonymous_id).toBeUndefined();

  const users = collector.items('users');
  const identified = users.find((u) => u.user_id === 'user-1')!;
  expect(identified).toMatchObject({
    anonymous_id: anonymousAction.anonymous_id,
    session_token: 'session-1',
    metadata: { email: 'a@example.com' },
    campaign: { utm_source: 'newsletter', utm_campaign: 'launch' },
  });
  expect(collector.items('companies')[0]).toMatchObject({ company_id: 'company-1', company_domain: 'acme.com', metadata: { plan: 'team' } });
});

test('loading the script tag only defines moesif: no encoder, no cookie or storage read until init()', async ({ page }) => {
  // What the page pays for the <script> tag is parsing it: the first TextEncoder a page makes costs it about
  // 0.5 ms (bench/README.md, "Capture, tenth session"), and storage is read when init() says how.
  const watch = `<script>
    window.made = [];
    for (const name of ['TextEncoder', 'TextDecoder']) {
      const Original = window[name];
      window[name] = class extends Original { constructor(...args) { super(...args); window.made.push(name); } };
    }
    const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
    Object.defineProperty(Document.prototype, 'cookie', { ...cookie, get() { window.made.push('document.cookie'); return cookie.get.call(this); } });
    const getItem = Storage.prototype.getItem;
    Storage.prototype.getItem = function (key) { window.made.push('getItem'); return getItem.call(this, key); };
  </script>`;
  collector.page('/load-only', umdPage(`window.atLoad = [...window.made]; ${initScript()} moesif.track('Loaded');`, watch));
  await page.goto(collector.at('app.example.test') + '/load-only');
  await expect.poll(() => collector.items('actions').length).toBe(1);
  expect(await page.evaluate(() => (window as unknown as { atLoad: string[] }).atLoad)).toEqual([]);
  // The watch works: init() reads the cookie jar and storage.
  expect(await page.evaluate(() => (window as unknown as { made: string[] }).made)).toEqual(expect.arrayContaining(['document.cookie', 'getItem']));
});

test('on a page with an AMD loader (RequireJS), the script tag still defines the global moesif', async ({ page }) => {
  // RequireJS rejects an anonymous define() from a plain <script> tag; the build must not call it.
  await page.addInitScript(() => {
    const define = () => {
      throw new Error('Mismatched anonymous define() module');
    };
    define.amd = {};
    Object.assign(window, { define });
  });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  collector.page('/umd-amd', umdPage(`${initScript()} moesif.track('Under AMD');`));
  await page.goto(collector.at('app.example.test') + '/umd-amd');
  await expect.poll(() => collector.items('actions').map((action) => action.action_name)).toEqual(['Under AMD']);
  expect(errors).toEqual([]);
});

test('the ESM build imported by a page delivers the same payloads', async ({ page }) => {
  collector.page(
    '/esm',
    // The ESM build leaves its dependencies to the app's bundler; a page without one maps them itself.
    `<!doctype html><script type="importmap">${JSON.stringify({
      imports: { uuid: '/node_modules/uuid/dist/index.js', 'js-cookie': '/node_modules/js-cookie/dist/js.cookie.mjs' },
    })}</script><script type="module">
       import moesif, { track, identifyUser } from '/dist/usertrail.mjs';
       moesif.init({ applicationId: '${APP_ID}', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50 });
       track('From ESM', { n: 1 });
       identifyUser(42);
     </script>`,
  );
  await page.goto(collector.at('app.example.test') + '/esm');
  await expect.poll(() => collector.items('actions').length).toBe(1);
  await expect.poll(() => collector.items('users').length).toBe(1);
  expect(collector.items('actions')[0]).toMatchObject({ action_name: 'From ESM', metadata: { n: 1 } });
  expect(collector.items('users')[0]).toMatchObject({ user_id: '42' });
});

test('docs and app subdomains share one anonymous id, and reset() on one is seen by the other', async ({ page }) => {
  collector.page('/docs', umdPage(initScript()));
  collector.page('/app', umdPage(initScript()));
  const anonymousIdAt = async (host: string, path: string) => {
    await page.goto(collector.at(host) + path);
    return page.evaluate(() => window.moesif.getAnonymousId() as string);
  };
  const onDocs = await anonymousIdAt('docs.example.test', '/docs');
  expect(onDocs).toMatch(UUID_V4);
  expect(await anonymousIdAt('app.example.test', '/app')).toBe(onDocs);

  await page.evaluate(() => {
    window.moesif.identifyUser('user-7');
    window.moesif.reset();
  });
  const afterReset = await page.evaluate(() => window.moesif.getAnonymousId() as string);
  expect(afterReset).not.toBe(onDocs);

  // docs still holds the old id in its own localStorage; the newer cookie must win.
  await page.goto(collector.at('docs.example.test') + '/docs');
  expect(await page.evaluate(() => localStorage.getItem('moesif_anonymous_id'))).toBe(onDocs);
  expect(await page.evaluate(() => window.moesif.getAnonymousId())).toBe(afterReset);
  expect(await page.evaluate(() => localStorage.getItem('moesif_anonymous_id'))).toBe(afterReset);
  expect(await page.evaluate(() => window.moesif.getUserId())).toBeUndefined();
});

test('after reset() and a reload the old user does not come back', async ({ page, context }) => {
  collector.page('/app', umdPage(initScript()));
  await page.goto(collector.at('app.example.test') + '/app');
  await page.evaluate(() => window.moesif.identifyUser('user-9'));
  const cookieNames = (await context.cookies()).map((c) => `${c.name}@${c.domain}`);
  expect(cookieNames).toContain('moesif_stored_user_id@.example.test');
  await page.evaluate(() => window.moesif.reset());
  await page.reload();
  expect(await page.evaluate(() => window.moesif.getUserId())).toBeUndefined();
  const cookies = await context.cookies();
  expect(cookies.find((c) => c.name === 'moesif_stored_user_id')).toBeUndefined();
  for (const cookie of cookies) expect(cookie.sameSite).toBe('Lax');
});

test("persistence: 'none' writes no cookie and no localStorage, and still delivers", async ({ page, context }) => {
  collector.page('/none', umdPage(`${initScript(", persistence: 'none'")} moesif.identifyUser('u-none'); moesif.track('Nothing Stored');`));
  await page.goto(collector.at('app.example.test') + '/none');
  await expect.poll(() => collector.items('actions').length).toBe(1);
  expect(await context.cookies()).toEqual([]);
  expect(await page.evaluate(() => Object.keys(localStorage))).toEqual([]);
});

/** The loader snippet of the README, loading the built UMD, its init() given `options` on top of the test's application id and collector. */
const loaderSnippet = (options = '') => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const snippet = /<!-- loader-snippet -->\s*```html\s*([\s\S]*?)```/.exec(readme)?.[1];
  expect(snippet, 'README has the loader snippet').toBeTruthy();
  return snippet!
    .replace('https://unpkg.com/usertrail/dist/moesif.min.js', '/dist/moesif.min.js')
    .replace("applicationId: 'YOUR_APPLICATION_ID'", `applicationId: '${APP_ID}', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50${options}`);
};

test('the async loader snippet from the README queues calls until the script arrives, then replays them in order', async ({ page }) => {
  const html = loaderSnippet();
  collector.page('/snippet', `<!doctype html><html><head>${html}<script>moesif.track('First');</script></head><body><script>moesif.track('Second'); moesif.identifyUser('snippet-user');</script></body></html>`);
  await page.goto(collector.at('app.example.test') + '/snippet');
  await expect.poll(() => collector.items('actions').length).toBe(2);
  expect(collector.items('actions').map((a) => a.action_name)).toEqual(['First', 'Second']);
  await expect.poll(() => collector.items('users').length).toBe(1);
});

test('stop() queued by the loader before init() keeps automatic page views and link decoration off until start()', async ({ page }) => {
  const html = loaderSnippet(", trackPageViews: true, enableCrossDomainTracking: true, crossDomainTargets: ['acme-cloud.test']").replace('moesif.init(', 'moesif.stop(); moesif.init(');
  const link = 'http://app.acme-cloud.test/pricing';
  collector.page('/stopped', `<!doctype html><html><head><title>stopped</title>${html}</head><body><a id="target" href="${link}">pricing</a></body></html>`);
  await page.goto(collector.at('app.example.test') + '/stopped');
  await page.waitForFunction(() => typeof (window as any).moesif.getStats == 'function');
  const viewedPaths = () => collector.items('actions').filter((a) => a.action_name === 'Page View').map((a) => (a.metadata as { pathname: string }).pathname);
  // A router's navigation, then a view the app announces itself, which sends any automatic view still waiting first.
  await page.evaluate(async () => {
    history.pushState(null, '', '/stopped/next');
    (window as any).moesif.trackPageView();
    await (window as any).moesif.flush();
  });
  await expect.poll(viewedPaths).toEqual(['/stopped/next']);
  await page.locator('#target').dispatchEvent('mousedown');
  expect(await page.locator('#target').getAttribute('href')).toBe(link);

  // start() turns back on what stop() turned off: navigations are viewed, and the link carries the id.
  await page.evaluate(async () => {
    (window as any).moesif.start();
    history.pushState(null, '', '/stopped/again');
    (window as any).moesif.trackPageView();
    await (window as any).moesif.flush();
  });
  await expect.poll(viewedPaths).toEqual(['/stopped/next', '/stopped/again', '/stopped/again']);
  await page.locator('#target').dispatchEvent('mousedown');
  const id = await page.evaluate(() => (window as any).moesif.getAnonymousId());
  expect(await page.locator('#target').getAttribute('href')).toBe(`${link}?__mt=${id}`);
});
