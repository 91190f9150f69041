// @vitest-environment node
/**
 * The SDK in server-rendering apps of the meta-frameworks users build with besides Next.js
 * (./nextjs.test.ts), installed from the tarball (./packed.ts), each app written as its docs show
 * (fixtures/ssr-apps/):
 * - SvelteKit 2 (adapter-node) and React Router 7 in framework mode: the browser SDK imported by the
 *   root layout or root route, code that also runs while the server renders, and initialised once the
 *   page is hydrated (onMount, useEffect);
 * - Astro 5 (@astrojs/node in middleware mode) with its ClientRouter: the SDK in the layout's
 *   <script>, which Astro bundles for the browser only (the server never evaluates it).
 * Each app's Node server is Express with usertrail/server mounted first and the framework's handler
 * after it (adapter-node's `handler`, @react-router/express's `createRequestHandler` behind the
 * template's compression(), Astro's `handler`).
 *
 * The frameworks are not the repository's devDependencies: fixtures/ssr-apps/ has its own lockfile
 * (exact versions, the last majors that run on Node 20: SvelteKit 3, React Router 8 and Astro 6 need
 * Node 22), installed once by installLockedProject(). Each app is built once, its server started once
 * for the file, and one Chromium drives all three. Measured on the 2-core machine (December 2026, load
 * average 6 to 13 from other work): the install 55 s from the registry, 23 s from npm's cache (a CI
 * run's `npm ci` empties node_modules/.cache), nothing once made; the builds side by side 12 s
 * (SvelteKit 8, Astro 6, React Router 2 one after another); the whole file 33 to 65 s after install.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readdirSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { freePort, startRecorder, waitFor, type Json, type Recorder } from '../server/helpers';
import { FIXTURES, installLockedProject, packConsumer, run, type PackedConsumer } from './packed';

interface Framework {
  name: string;
  /** The app's folder in fixtures/ssr-apps/. */
  folder: string;
  /** Its build command, relative to the fixture project's node_modules, as its docs' `npm run build` runs it. */
  build: string[];
  /** The path of the request the framework's client router makes for a page's server data. */
  dataOf(page: string): string;
  /** What the router gets for /old, whose server code redirects to /about. */
  oldAnswer: string;
  /** The path its client router posts /contact's form to, and the body it sends (the message "hello there"). */
  formPost: string;
  formBody: RegExp;
  /** Whether that body is multipart, which usertrail/server does not record (README: uploads). */
  multipartForm: boolean;
  /** Where its built assets are served, which the app's server leaves out of the log (`skip`). */
  assets: string;
  /** Whether a client-side navigation shows the streamed page before its slow part comes. */
  streamsNavigations: boolean;
}

const FRAMEWORKS: Framework[] = [
  {
    name: 'SvelteKit 2',
    folder: 'sveltekit',
    assets: '/_app/',
    build: ['vite/bin/vite.js', 'build'],
    dataOf: (page) => `${page}/__data.json`,
    oldAnswer: '"location":"/about"',
    // use:enhance posts to the page itself.
    formPost: '/contact',
    formBody: /^message=hello\+there$/,
    multipartForm: false,
    streamsNavigations: true,
  },
  {
    name: 'React Router 7',
    folder: 'react-router',
    assets: '/assets/',
    build: ['@react-router/dev/bin.js', 'build'],
    dataOf: (page) => `${page}.data`,
    oldAnswer: '"redirect","/about"',
    // <Form> posts to the route's data URL.
    formPost: '/contact.data',
    formBody: /^message=hello\+there$/,
    multipartForm: false,
    streamsNavigations: true,
  },
  {
    name: 'Astro 5',
    folder: 'astro',
    assets: '/_astro/',
    build: ['astro/astro.js', 'build'],
    // ClientRouter fetches the next page's HTML, following a redirect, and swaps it in once whole.
    dataOf: (page) => page,
    oldAnswer: '<p id="message">from the server</p>',
    // The form's FormData as it is, multipart.
    formPost: '/contact',
    formBody: /^------WebKitFormBoundary\w+\r\nContent-Disposition: form-data; name="message"\r\n\r\nhello there\r\n/,
    multipartForm: true,
    streamsNavigations: false,
  },
];

interface RunningServer {
  url: string;
  process: ChildProcess;
  /** Everything the server printed, stdout and stderr. */
  output: string;
  /** Everything the app's build printed. */
  buildOutput: string;
}

let packed: PackedConsumer;
/** The collector of the servers' events (usertrail/server), and the one of the browsers' (usertrail). */
let serverCollector: Recorder;
let browserCollector: Recorder;
let browser: Browser;
const servers = new Map<string, RunningServer>();

async function startServer(app: string, env: NodeJS.ProcessEnv, buildOutput: string): Promise<RunningServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // ORIGIN: adapter-node's setting for the address the app is served at (the other servers ignore it).
  const child = spawn(process.execPath, ['server.js'], { cwd: app, env: { ...env, PORT: String(port), ORIGIN: url }, stdio: ['ignore', 'pipe', 'pipe'] });
  const server: RunningServer = { url, process: child, output: '', buildOutput };
  for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk: Buffer) => (server.output += chunk.toString()));
  await vi.waitFor(() => {
    if (child.exitCode !== null) throw new Error(`${app}/server.js exited: ${server.output}`);
    if (!server.output.includes('listening')) throw new Error('not listening yet');
  }, { timeout: 20_000, interval: 20 });
  return server;
}

beforeAll(async () => {
  let modules: string;
  [modules, packed, serverCollector, browserCollector] = await Promise.all([
    installLockedProject(join(FIXTURES, 'ssr-apps')),
    packConsumer(),
    startRecorder(),
    startRecorder(),
  ]);
  // The consumer's node_modules has the packed usertrail; the fixture project's packages are linked beside it.
  for (const name of readdirSync(modules)) if (!name.startsWith('.')) symlinkSync(join(modules, name), join(packed.consumer, 'node_modules', name), 'dir');
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    MOESIF_APPLICATION_ID: DEFAULT_APP_ID,
    COLLECTOR_URL: serverCollector.url,
    // Written into the client bundle by the build, as Vite does with VITE_ variables (Astro: PUBLIC_).
    VITE_COLLECTOR_HOST: new URL(browserCollector.url).host,
    PUBLIC_COLLECTOR_HOST: new URL(browserCollector.url).host,
    ASTRO_TELEMETRY_DISABLED: '1',
  };
  // The builds side by side (each is mostly single-threaded), Chromium starting meanwhile; all are
  // settled before a failure is thrown, so that afterAll stops every server and the browser.
  const [launched, ...built] = await Promise.allSettled([
    chromium.launch({ executablePath: chromiumPath, args: chromiumArgs }),
    ...FRAMEWORKS.map(async ({ folder, build }) => {
      const app = join(packed.consumer, folder);
      cpSync(join(FIXTURES, 'ssr-apps', folder), app, { recursive: true });
      const [script, ...args] = build;
      const { stdout, stderr } = await run(process.execPath, [join(modules, script!), ...args], { cwd: app, env });
      servers.set(folder, await startServer(app, env, stdout + stderr));
    }),
  ]);
  if (launched.status === 'fulfilled') browser = launched.value;
  for (const result of [launched, ...built]) if (result.status === 'rejected') throw result.reason;
}, 180_000);

afterAll(async () => {
  for (const server of servers.values()) server.process.kill();
  await browser?.close();
  await Promise.all([serverCollector?.close(), browserCollector?.close()]);
  packed?.remove();
});

/** A body as the event carries it, as text: JSON parsed by the SDK, text, or base64. */
function bodyText(side: Json): string {
  if (side.transfer_encoding === 'base64') return Buffer.from(side.body as string, 'base64').toString();
  return typeof side.body === 'string' ? side.body : JSON.stringify(side.body);
}

/**
 * GET `url` with a browser's user agent (React Router renders the whole page before answering a bot),
 * resolving once `firstPart` has arrived, with the text so far and the rest of the answer to come.
 */
function getUntil(url: string, firstPart: string): Promise<{ status: number; first: string; rest: Promise<string> }> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36' } }, (res) => {
      let text = '';
      let resolved = false;
      let finish: (whole: string) => void;
      const rest = new Promise<string>((done) => (finish = done));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (!resolved && text.includes(firstPart)) {
          resolved = true;
          resolve({ status: res.statusCode!, first: text, rest });
        }
      });
      res.on('end', () => {
        finish(text);
        if (!resolved) reject(new Error(`the answer ended without ${firstPart}: ${text}`));
      });
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/** Lets the streamed page's renders go on with `value`, or holds them (null): see the apps' gate.js. */
async function release(app: string, value: string | null): Promise<void> {
  const answer = await fetch(`${app}/api/release`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });
  expect(answer.status).toBe(200);
}

describe.each(FRAMEWORKS)('$name', ({ folder, assets, dataOf, oldAnswer, formPost, formBody, multipartForm, streamsNavigations }) => {
  const aboutData = dataOf('/about');
  const server = () => servers.get(folder)!;
  /** The events of this app's calls to `path`: both apps log to the same collectors. */
  const eventsFor = (collector: Recorder, path: string) =>
    collector.events().filter((event) => event.request.uri.startsWith(server().url) && new URL(event.request.uri).pathname === path);

  it('builds with usertrail imported by the root layout without a word about it, renders on the server, and the server says nothing (no error, no warning)', async () => {
    expect(server().buildOutput).toContain('built in');
    // (The app's path names the consumer's temporary folder, usertrail-package-*.)
    expect(server().buildOutput.replaceAll(packed.workDir, '')).not.toMatch(/usertrail|moesif/i);
    for (const [path, heading] of [['/', 'Home'], ['/about', 'About']]) {
      const answer = await fetch(`${server().url}${path}`);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toContain(`<h1>${heading}</h1>`);
    }
    expect(server().output.trim()).toBe('listening');
  });

  it("usertrail/server before the framework's handler: pages, data requests, a POST and a 404 are logged with their URL, status and bodies", async () => {
    const { url } = server();
    const page = await fetch(`${url}/about`, { headers: { 'x-user-id': 'user_1' } });
    const data = await fetch(`${url}${aboutData}`, { headers: { 'x-user-id': 'user_1' } });
    const posted = await fetch(`${url}/api/echo`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'user_1' }, body: '{"item":"book"}' });
    const missing = await fetch(`${url}/missing`);
    expect([page.status, data.status, posted.status, missing.status]).toEqual([200, 200, 201, 404]);
    expect(await data.text()).toContain('from the server');
    // The app's handler read the body the middleware records.
    expect(await posted.json()).toEqual({ got: { item: 'book' } });

    expect(await page.text()).toContain('from the server');
    // Each answer's event, by the transaction id the middleware put on the answer.
    const logged = (answer: Response) => {
      const id = answer.headers.get('x-moesif-transaction-id');
      expect(id).toBeTruthy();
      return waitFor(() => serverCollector.events().find((event) => event.transaction_id === id), 10_000);
    };
    const [pageEvent, dataEvent, postEvent, missingEvent] = await Promise.all([page, data, posted, missing].map(logged));
    expect(pageEvent).toMatchObject({ direction: 'Incoming', user_id: 'user_1', request: { verb: 'GET', uri: `${url}/about` }, response: { status: 200 } });
    expect(bodyText(pageEvent.response)).toContain('<p id="message">from the server</p>');
    expect(dataEvent).toMatchObject({ request: { uri: `${url}${aboutData}` }, response: { status: 200 } });
    expect(bodyText(dataEvent.response)).toContain('from the server');
    expect(postEvent).toMatchObject({ user_id: 'user_1', request: { verb: 'POST', body: { item: 'book' } }, response: { status: 201, body: { got: { item: 'book' } } } });
    expect(missingEvent).toMatchObject({ request: { uri: `${url}/missing` }, response: { status: 404 } });
  });

  it("a streamed server render still streams under the middleware (the page's start arrives before its promise is settled), and is logged whole", async () => {
    const { url } = server();
    await release(url, null);
    const streamed = await getUntil(`${url}/streamed`, 'rendered at once');
    expect(streamed.status).toBe(200);
    expect(streamed.first).not.toContain('the slow part');
    await release(url, 'the slow part');
    const whole = await streamed.rest;
    expect(whole).toContain('the slow part');
    const [event] = await waitFor(() => eventsFor(serverCollector, '/streamed').length > 0 && eventsFor(serverCollector, '/streamed'), 10_000);
    expect(event!.response.status).toBe(200);
    expect(bodyText(event!.response)).toBe(whole);
    expect(event!.metadata?.truncated).toBeUndefined();
  });

  it("in Chromium: init() once after hydration, one page view per client-side navigation (a redirect's included) with its title, and the router's own requests captured with their bodies", async () => {
    const { url } = server();
    const context = await browser.newContext();
    const errors: string[] = [];
    try {
      const page: Page = await context.newPage();
      const assetsLoaded: string[] = [];
      page.on('response', (response) => void (new URL(response.url()).pathname.startsWith(assets) && response.ok() && assetsLoaded.push(response.url())));
      page.on('pageerror', (error) => errors.push(String(error)));
      page.on('console', (message) => void (message.type() === 'error' && errors.push(message.text())));
      const since = new Date().toISOString();
      const views = () =>
        browserCollector.requests
          .filter((sent) => sent.path === '/v1/actions/batch')
          .flatMap((sent) => sent.body as Json[])
          .filter((action) => action.action_name === 'Page View' && action.request.time >= since && action.request.uri.startsWith(url))
          .map((action) => [action.metadata.pathname, action.metadata.title, action.metadata.referrer]);
      const shows = async (heading: string) => {
        await page.locator('h1', { hasText: heading }).waitFor();
        await expect.poll(() => page.title(), { timeout: 10_000 }).toBe(heading);
      };
      const inits = () => page.evaluate(() => (window as unknown as { moesifInits?: number }).moesifInits);
      await page.goto(`${url}/`);
      await expect.poll(inits).toBe(1);
      await page.getByRole('link', { name: 'About' }).click();
      await shows('About');
      expect(await page.locator('#message').textContent()).toBe('from the server');
      await page.goBack();
      await shows('Home');
      await page.goForward();
      await shows('About');
      await release(url, null);
      await page.getByRole('link', { name: 'Streamed' }).click();
      if (streamsNavigations) await page.locator('#slow', { hasText: 'waiting' }).waitFor();
      await release(url, 'the slow part, in the browser');
      await page.locator('#slow', { hasText: 'the slow part, in the browser' }).waitFor();
      await shows('Streamed');
      // /old's server data redirects to /about: the router never shows /old.
      await page.getByRole('link', { name: 'Old' }).click();
      await shows('About');
      await page.getByRole('link', { name: 'Contact' }).click();
      await shows('Contact');
      await page.getByLabel('Message').fill('hello there');
      await page.getByRole('button', { name: 'Send' }).click();
      await page.locator('#sent', { hasText: 'Sent: hello there' }).waitFor();
      // A marker view: any automatic view still waiting for its title leaves before it.
      await page.evaluate(() => {
        const sdk = (window as unknown as { moesif: { trackPageView(metadata: object): void; flush(): Promise<void> } }).moesif;
        sdk.trackPageView({ marker: true });
        return sdk.flush();
      });
      await waitFor(() => views().length >= 8, 10_000);
      expect(views()).toEqual([
        ['/', 'Home', ''],
        ['/about', 'About', `${url}/`],
        ['/', 'Home', `${url}/about`],
        ['/about', 'About', `${url}/`],
        ['/streamed', 'Streamed', `${url}/about`],
        ['/about', 'About', `${url}/streamed`],
        ['/contact', 'Contact', `${url}/about`],
        ['/contact', 'Contact', `${url}/contact`], // the marker
      ]);
      expect(await inits()).toBe(1);
      // The client router's requests, made after start(), with the bodies it sent and got (a captured
      // call is built about 200 ms after its answer, and sent with the next batch).
      const captured = (path: string, verb = 'GET') => waitFor(() => eventsFor(browserCollector, path).filter((event) => event.request.verb === verb).at(-1), 10_000);
      const aboutEvent = await captured(aboutData);
      expect(aboutEvent).toMatchObject({ user_id: expect.stringMatching(/^user_/), request: { verb: 'GET' }, response: { status: 200 } });
      expect(bodyText(aboutEvent.response)).toContain('from the server');
      expect(bodyText((await captured(dataOf('/streamed'))).response)).toContain('the slow part, in the browser');
      expect(bodyText((await captured(dataOf('/old'))).response)).toContain(oldAnswer);
      const posted = await captured(formPost, 'POST');
      expect(bodyText(posted.request)).toMatch(formBody);
      expect(bodyText(posted.response)).toContain('hello there');
      // And usertrail/server logged the same post, as the framework's handler read it.
      const logged = await waitFor(() => eventsFor(serverCollector, formPost).find((event) => event.request.verb === 'POST'), 10_000);
      if (multipartForm) expect(logged.request.body).toBeUndefined();
      else expect(bodyText(logged.request)).toMatch(formBody);
      expect(logged.response.status).toBe(200);
      expect(bodyText(logged.response)).toContain('hello there');
      // The page's scripts came from the app's server, which left them out of the log as `skip` said.
      expect(assetsLoaded).not.toEqual([]);
      expect(serverCollector.events().filter((event) => event.request.uri.startsWith(`${url}${assets}`))).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
