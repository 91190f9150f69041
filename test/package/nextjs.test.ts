// @vitest-environment node
/**
 * usertrail/server in a real Next.js 16 app, installed from the tarball (./packed.ts): route handlers
 * of the App Router wrapped as moesif's Next.js example wraps them with moesif-nodejs
 * (`isNextJsAppRouter`), side by side with moesif-nodejs 3.11 itself, and a Pages Router API route
 * wired as its older example wires the middleware; and the browser SDK in a client component, as
 * moesif's example sets up moesif-browser-js, with automatic page views across the App Router's
 * client navigation (<Link>, back and forward; titles from each page's metadata). The app (fixtures/next-app) is built with
 * `next build` and served by `next start` on 127.0.0.1; a recording collector gets the events.
 * test/server/route-handler.test.ts covers the wrapping case by case.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join, parse, sep } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { freePort, startNodeServer, startRecorder, waitFor, type Recorder, type RunningApp } from '../server/helpers';
import { packConsumer, ROOT, run, type PackedConsumer } from './packed';

let packed: PackedConsumer;
let collector: Recorder;
let upstream: RunningApp;
let next: ChildProcess | undefined;
let app: string;

/** The deepest folder holding both paths (Turbopack compiles nothing outside its root). */
function commonFolder(a: string, b: string): string {
  const [left, right] = [a.split(sep), b.split(sep)];
  let shared = 0;
  while (shared < left.length && left[shared] === right[shared]) shared++;
  return left.slice(0, shared).join(sep) || parse(a).root;
}

beforeAll(async () => {
  packed = await packConsumer({ alsoLink: ['next', 'react', 'react-dom', 'moesif-nodejs'] });
  cpSync(join(ROOT, 'test/package/fixtures/next-app'), packed.consumer, { recursive: true });
  collector = await startRecorder();
  upstream = await startNodeServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"upstream":true}'));
  const env = {
    ...process.env,
    NEXT_TELEMETRY_DISABLED: '1',
    TURBOPACK_ROOT: commonFolder(packed.consumer, ROOT),
    MOESIF_APPLICATION_ID: DEFAULT_APP_ID,
    COLLECTOR_URL: collector.url,
    // Written into the client bundle by next build, as NEXT_PUBLIC_ variables are.
    NEXT_PUBLIC_COLLECTOR_HOST: new URL(collector.url).host,
    UPSTREAM_URL: upstream.url,
  };
  const nextCli = join(packed.consumer, 'node_modules/next/dist/bin/next');
  await run(process.execPath, [nextCli, 'build'], { cwd: packed.consumer, env });
  const port = await freePort();
  // In a process group of its own, so that whatever it starts ends with it.
  next = spawn(process.execPath, [nextCli, 'start', '--port', String(port), '--hostname', '127.0.0.1'], { cwd: packed.consumer, env, stdio: 'ignore', detached: true });
  app = `http://127.0.0.1:${port}`;
  // vi.waitFor, not expect.poll: polls in a hook too.
  await vi.waitFor(async () => {
    if (!(await fetch(`${app}/api/chat-status`).then((res) => res.ok, () => false))) throw new Error('next start does not answer yet');
  }, { timeout: 30_000 });
}, 180_000);

afterAll(async () => {
  if (next?.pid) process.kill(-next.pid);
  await Promise.all([collector?.close(), upstream?.close()]);
  packed?.remove();
});

/** The events logged for `path` (of the app), whatever host they name (see the first test). */
const eventsFor = (path: string) => collector.events().filter((event) => new URL(event.request.uri).pathname === path);

/**
 * Runs `steps` in a page of a fresh Chromium, then checks that the page reported no uncaught error and
 * no console error.
 */
async function inChromium(steps: (page: Page) => Promise<void>): Promise<void> {
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
    await steps(page);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
}

it('App Router: a wrapped route answers as under moesif-nodejs, and its call is logged with the same user, bodies and status', async () => {
  const post = (sdk: string) =>
    fetch(`${app}/api/${sdk}/orders/42`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'user_7' }, body: '{"item":"book"}' });
  const answers = { usertrail: await post('usertrail'), moesif: await post('moesif') };
  for (const answer of Object.values(answers)) expect([answer.status, await answer.json()]).toEqual([201, { id: '42', item: 'book' }]);

  const [ours] = await waitFor(() => eventsFor('/api/usertrail/orders/42').length === 1 && eventsFor('/api/usertrail/orders/42'), 10_000);
  const [theirs] = await waitFor(() => eventsFor('/api/moesif/orders/42').length === 1 && eventsFor('/api/moesif/orders/42'), 10_000);
  for (const event of [ours, theirs]) {
    expect(event).toMatchObject({ user_id: 'user_7', request: { verb: 'POST', body: { item: 'book' } }, response: { status: 201, body: { id: '42', item: 'book' } } });
  }
  expect(ours!.transaction_id).toBe(answers.usertrail.headers.get('x-moesif-transaction-id'));
  // The host the client called, where Next.js's request.url names its own (localhost).
  expect([ours!.request.uri, theirs!.request.uri]).toEqual([`${app}/api/usertrail/orders/42`, `${app}/api/moesif/orders/42`]);
});

it("App Router: a client leaving a streamed answer stops the route's stream, and the call is logged as far as it went", async () => {
  const leave = new AbortController();
  const answer = await fetch(`${app}/api/usertrail/chat`, { signal: leave.signal });
  const reader = answer.body!.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toContain('data: {"text":"Hel"}');
  leave.abort();
  await expect.poll(async () => ((await (await fetch(`${app}/api/chat-status`)).json()) as { cancelled: boolean }).cancelled, { timeout: 10_000 }).toBe(true);
  const [event] = await waitFor(() => eventsFor('/api/usertrail/chat').length === 1 && eventsFor('/api/usertrail/chat'), 10_000);
  expect(event).toMatchObject({ metadata: { truncated: ['response'] }, response: { status: 200, headers: { 'content-type': 'text/event-stream' } } });
  expect(event!.response.body).toMatch(/^data: \{"text":"Hel"\}/);
});

it('App Router: a route that throws answers the 500 Next.js makes of it, and is logged as 500', async () => {
  const answer = await fetch(`${app}/api/usertrail/fail`);
  expect(answer.status).toBe(500);
  const [event] = await waitFor(() => eventsFor('/api/usertrail/fail').length === 1 && eventsFor('/api/usertrail/fail'), 10_000);
  expect(event!.response.status).toBe(500);
});

it('App Router: a route answering with a proxied fetch() or a redirect is logged (moesif-nodejs\'s wrapping answers the redirect 500)', async () => {
  const proxied = await fetch(`${app}/api/usertrail/proxy`);
  expect([proxied.status, await proxied.json()]).toEqual([200, { upstream: true }]);
  expect(proxied.headers.get('x-moesif-transaction-id')).toBeTruthy();
  // Response.redirect()'s headers cannot be changed: moesif-nodejs's headers.set() throws.
  const moved = await fetch(`${app}/api/usertrail/moved`, { redirect: 'manual' });
  expect([moved.status, new URL(moved.headers.get('location')!).pathname]).toEqual([308, '/api/chat-status']);
  expect((await fetch(`${app}/api/moesif/moved`, { redirect: 'manual' })).status).toBe(500);
  const [proxyEvent] = await waitFor(() => eventsFor('/api/usertrail/proxy').length === 1 && eventsFor('/api/usertrail/proxy'), 10_000);
  expect(proxyEvent).toMatchObject({ direction: 'Incoming', response: { status: 200, body: { upstream: true } } });
  // The route's own fetch() to the upstream, through Next.js's patched fetch: an outgoing call.
  const outgoing = () => collector.events().filter((event) => event.direction === 'Outgoing');
  const [fetched] = await waitFor(() => outgoing().length > 0 && outgoing(), 10_000);
  expect(fetched).toMatchObject({ request: { verb: 'GET', uri: `${upstream.url}/` }, response: { status: 200, body: { upstream: true } } });
  const [movedEvent] = await waitFor(() => eventsFor('/api/usertrail/moved').length === 1 && eventsFor('/api/usertrail/moved'), 10_000);
  expect(movedEvent!.response.status).toBe(308);
});

it("Pages Router: an API route wired as moesif's example wires the middleware is logged with the body Next.js parsed", async () => {
  const answer = await fetch(`${app}/api/pages-router`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'user_8' }, body: '{"q":1}' });
  expect([answer.status, await answer.json()]).toEqual([201, { name: 'Jack Buck', got: { q: 1 } }]);
  const [event] = await waitFor(() => eventsFor('/api/pages-router').length === 1 && eventsFor('/api/pages-router'), 10_000);
  expect(event).toMatchObject({ user_id: 'user_8', request: { verb: 'POST', body: { q: 1 } }, response: { status: 201, body: { name: 'Jack Buck', got: { q: 1 } } } });
  expect(event!.transaction_id).toBe(answer.headers.get('x-moesif-transaction-id'));
});

it('the browser SDK in a client component: the page renders on the server, and in Chromium its user, action and captured call reach the collector', async () => {
  // Rendered on the server first: the component's module, and usertrail with it, ran in Node.
  expect(await (await fetch(`${app}/`)).text()).toContain('<p id="status">loading</p>');
  await inChromium(async (page) => {
    await page.goto(`${app}/`);
    // The page's own call answered: then the SDK has its action, user and the captured call.
    await page.locator('#status', { hasText: '200' }).waitFor();
    await page.evaluate(() => (window as unknown as { moesif: { flush(): Promise<void> } }).moesif.flush());
    const sent = (path: string) => collector.requests.filter((request) => request.path === path).flatMap((request) => request.body as Array<Record<string, any>>);
    const ready = () => sent('/v1/actions/batch').filter((action) => action.action_name === 'page_ready');
    const [action] = await waitFor(() => ready().length > 0 && ready(), 10_000);
    expect(action).toMatchObject({ action_name: 'page_ready', user_id: 'user_9', metadata: { via: 'next' }, request: { uri: `${app}/` } });
    // The visitor's anonymous id, made in the browser, linked to the user.
    const [user] = sent('/v1/users/batch');
    expect(user).toMatchObject({ user_id: 'user_9', anonymous_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const [call] = await waitFor(() => eventsFor('/api/chat-status').length > 0 && eventsFor('/api/chat-status'), 10_000);
    expect(call).toMatchObject({ user_id: 'user_9', request: { verb: 'GET', uri: `${app}/api/chat-status` }, response: { status: 200 } });
  });
});

it("page views follow the App Router's client navigation: one per <Link> click, back and forward, each with the title Next.js sets from the page's metadata", async () => {
  await inChromium(async (page) => {
    // This test's views: those of navigations from now on (the first test's browser viewed / before).
    const since = new Date().toISOString();
    const views = () =>
      collector.requests
        .filter((request) => request.path === '/v1/actions/batch')
        .flatMap((request) => request.body as Array<Record<string, any>>)
        .filter((action) => action.action_name === 'Page View' && action.request.time >= since)
        .map((action) => [action.metadata.pathname, action.metadata.title, action.metadata.referrer]);
    await page.goto(`${app}/`);
    await page.locator('#status', { hasText: '200' }).waitFor();
    const shows = async (heading: string) => {
      await page.locator('h1', { hasText: heading }).waitFor();
      await expect.poll(() => page.title(), { timeout: 10_000 }).toBe(heading);
    };
    await page.getByRole('link', { name: 'About' }).click();
    await shows('About');
    await page.goBack();
    await shows('Home');
    await page.goForward();
    await shows('About');
    // A marker view: any automatic view still waiting for its title leaves before it.
    await page.evaluate(() => {
      const sdk = (window as unknown as { moesif: { trackPageView(metadata: object): void; flush(): Promise<void> } }).moesif;
      sdk.trackPageView({ marker: true });
      return sdk.flush();
    });
    await waitFor(() => views().length >= 5, 10_000);
    expect(views()).toEqual([
      ['/', 'Home', ''],
      ['/about', 'About', `${app}/`],
      ['/', 'Home', `${app}/about`],
      ['/about', 'About', `${app}/`],
      ['/about', 'About', `${app}/about`], // the marker
    ]);
  });
});
