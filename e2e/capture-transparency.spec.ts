import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from '@playwright/test';
import { expect, test, type PageAndCollector } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

/**
 * What an audit of capture found the app seeing differently with capture on, or capture recording
 * wrongly, in Debian's Chromium against a real server. Each scenario runs in a page without capture
 * and in a page with it (moesif.start() first); the app must see the same both times.
 */

type Event = {
  request: { uri: string; verb: string; headers: Record<string, string>; body?: unknown };
  response: { status: number; headers: Record<string, string>; body?: unknown };
  metadata?: Record<string, unknown>;
};
const events = (collector: Recorder): Event[] => collector.items('events') as unknown as Event[];
const searchOf = (event: Event) => new URL(event.request.uri).search;
const eventFor = (collector: Recorder, search: string) => events(collector).find((e) => searchOf(e) === search);

/** Opens a page with the SDK initialized (`head` runs before it loads), capture started or not, and `scenario` defined. */
async function open({ page, collector }: PageAndCollector, scenario: string, { capture = true, head = '' } = {}) {
  const init = `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 100 });`;
  collector.page('/p', umdPage(`${init} ${capture ? 'moesif.start();' : ''} window.scenario = async () => { ${scenario} };`, head));
  await page.goto(collector.url + '/p');
}
const run = (page: Page) => page.evaluate(() => (window as unknown as { scenario(): Promise<unknown> }).scenario());

/** What the app sees of `scenario`, without capture and with it. */
async function bothWays({ page, collector }: PageAndCollector, scenario: string, head = '') {
  await open({ page, collector }, scenario, { capture: false, head });
  const without = await run(page);
  await open({ page, collector }, scenario, { head });
  const withCapture = await run(page);
  return { without, withCapture };
}

test('a fetch that fails with nobody handling it is still reported to the page as an unhandled rejection', async ({ page, collector }) => {
  const scenario = `
    window.reported = [];
    addEventListener('unhandledrejection', (event) => {
      event.preventDefault();
      window.reported.push(String(event.reason));
    });
    // A failure the app handles is not reported...
    await fetch('/api/close?handled').catch(() => {});
    // ...one it leaves alone (a fire-and-forget call) is.
    fetch('/api/close?unhandled');
  `;
  const reported = () => page.evaluate(() => (window as unknown as { reported: string[] }).reported);
  for (const capture of [false, true]) {
    await open({ page, collector }, scenario, { capture });
    await run(page);
    await expect.poll(reported, { message: capture ? 'with capture' : 'without capture' }).toEqual(['TypeError: Failed to fetch']);
  }
  // Both recorded all the same.
  await expect.poll(() => events(collector).map(searchOf).sort()).toEqual(['?handled', '?unhandled']);
  expect(eventFor(collector, '?unhandled')!.metadata).toEqual({ error: 'TypeError: Failed to fetch' });
});

test("an XMLHttpRequest that fails and is sent again from the app's own handler is recorded with its error", async ({ page, collector }) => {
  // Retrying on the same object from a handler is common; those handlers run before capture's own
  // listener sees the failure's event, so capture records the failed call when the app reopens it.
  const { without, withCapture } = await bothWays(
    { page, collector },
    `
    const retry = (first, setup) => new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      const seen = [];
      let retried = false;
      const again = () => {
        seen.push(xhr.status);
        if (retried) return;
        retried = true;
        xhr.open('GET', '/api/text?retried-' + first);
        xhr.timeout = 0;
        xhr.send();
      };
      setup(xhr, again);
      xhr.onload = () => resolve([...seen, xhr.responseText]);
      xhr.open('GET', '/api/' + first);
      xhr.send();
    });
    return [
      await retry('close?onerror', (xhr, again) => (xhr.onerror = again)),
      await retry('slow?ontimeout', (xhr, again) => { xhr.timeout = 200; xhr.ontimeout = again; }),
      await retry('close?onreadystatechange', (xhr, again) => (xhr.onreadystatechange = () => xhr.readyState == 4 && !xhr.status && again())),
      await retry('slow?aborted', (xhr, again) => {
        xhr.onreadystatechange = () => xhr.readyState == 4 && !xhr.status && again();
        // The first send only: 'loadstart' comes again for the retry, which a second abort 50 ms on cut
        // whenever the server took longer than that to answer (a loaded CI machine), and then the retry
        // never loaded and the scenario never ended.
        xhr.onloadstart = () => {
          xhr.onloadstart = null;
          setTimeout(() => xhr.abort(), 50);
        };
      }),
    ];
  `,
  );
  expect(without).toEqual(Array(4).fill([0, 'hello, text']));
  expect(withCapture).toEqual(without);
  await expect.poll(() => events(collector).length).toBe(8);
  const failed = ['?onerror', '?ontimeout', '?onreadystatechange', '?aborted'].map((search) => [search, eventFor(collector, search)!.response.status, eventFor(collector, search)!.metadata]);
  expect(failed).toEqual([
    ['?onerror', 0, { error: 'error' }],
    ['?ontimeout', 0, { error: 'timeout' }],
    ['?onreadystatechange', 0, { error: 'error' }],
    ['?aborted', 0, { error: 'abort' }],
  ]);
  expect(events(collector).filter((e) => searchOf(e).startsWith('?retried')).map((e) => e.response.status)).toEqual([200, 200, 200, 200]);
});

test('send() again on an XMLHttpRequest whose call ended throws as without capture, and records no second event', async ({ page, collector }) => {
  const { without, withCapture } = await bothWays(
    { page, collector },
    `
    const xhr = new XMLHttpRequest();
    const thrown = [];
    await new Promise((resolve) => { xhr.onloadend = resolve; xhr.open('GET', '/api/text?first'); xhr.send(); });
    // A task later, so capture's own listener has recorded the call.
    await new Promise((resolve) => setTimeout(resolve));
    try { xhr.send(); } catch (error) { thrown.push(error.name); }
    xhr.abort();
    await new Promise((resolve) => { xhr.onloadend = resolve; xhr.open('GET', '/api/text?second'); xhr.send(); });
    try { xhr.send(); } catch (error) { thrown.push(error.name); }
    await new Promise((resolve) => { xhr.onloadend = resolve; xhr.open('GET', '/api/text?third'); xhr.send(); });
    return thrown;
  `,
  );
  expect(without).toEqual(['InvalidStateError', 'InvalidStateError']);
  expect(withCapture).toEqual(without);
  await expect.poll(() => events(collector).map(searchOf).sort()).toContain('?third');
  await collector.settled(page);
  expect(events(collector).map(searchOf).sort()).toEqual(['?first', '?second', '?third']);
});

test('a synchronous XMLHttpRequest that fails throws the same error to the app and is recorded with status 0', async ({ page, collector }) => {
  const { without, withCapture } = await bothWays(
    { page, collector },
    `
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/close?sync', false);
    xhr.setRequestHeader('X-Trace', 'sync');
    try {
      xhr.send('sync body');
      return 'sent';
    } catch (error) {
      return [error.constructor.name, error.name, error.message, xhr.readyState, xhr.status];
    }
  `,
  );
  expect(without).toEqual(['DOMException', 'NetworkError', expect.stringContaining('Failed to load'), 4, 0]);
  expect(withCapture).toEqual(without);
  await expect.poll(() => events(collector).length).toBe(1);
  const [event] = events(collector);
  expect([searchOf(event), event.request.verb, event.request.headers['X-Trace'], event.request.body]).toEqual(['?sync', 'POST', 'sync', 'sync body']);
  expect([event.response.status, event.metadata]).toEqual([0, { error: 'error' }]);
});

test('credentials in a URL are masked in the recorded uri', async ({ page, collector }) => {
  // XMLHttpRequest sends them (fetch refuses such a URL, and is recorded failing).
  await open(
    { page, collector },
    `
    const xhr = new XMLHttpRequest();
    xhr.open('GET', 'http://ada.lovelace:s3cret@127.0.0.1:' + location.port + '/api/text?xhr');
    await new Promise((resolve) => { xhr.onloadend = resolve; xhr.send(); });
    const failed = await fetch('http://sk_live_key@127.0.0.1:' + location.port + '/api/text?fetch').catch((error) => error.name);
    return [xhr.responseText, failed];
  `,
  );
  expect(await run(page)).toEqual(['hello, text', 'TypeError']);
  await expect.poll(() => events(collector).length).toBe(2);
  expect(events(collector).map((e) => e.request.uri).sort()).toEqual([`http://*****@127.0.0.1:${collector.port}/api/text?fetch`, `http://*****@127.0.0.1:${collector.port}/api/text?xhr`]);
  expect(JSON.stringify(events(collector))).not.toMatch(/s3cret|sk_live|lovelace/);
});

test('header values the app gives as numbers are recorded as the strings the server got', async ({ page, collector }) => {
  await open(
    { page, collector },
    `
    const xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/echo?xhr');
    xhr.setRequestHeader('X-Page', 2);
    await new Promise((resolve) => { xhr.onloadend = resolve; xhr.send(); });
    await fetch('/api/echo?fetch', { headers: [['X-Page', 3]] });
  `,
  );
  await run(page);
  expect(collector.api.map((r) => r.headers['x-page'])).toEqual(['2', '3']);
  await expect.poll(() => events(collector).length).toBe(2);
  // Named as XMLHttpRequest's setRequestHeader wrote it, and as a Headers names a fetch's (see below).
  expect(events(collector).map((e) => [searchOf(e), e.request.headers['X-Page'] ?? 'absent', e.request.headers['x-page'] ?? 'absent']).sort()).toEqual([
    ['?fetch', 'absent', '3'],
    ['?xhr', '2', 'absent'],
  ]);
});

test('a header the app sets twice is recorded as the server got it: one header, its values joined', async ({ page, collector }) => {
  await open(
    { page, collector },
    `
    const xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/echo?xhr');
    xhr.setRequestHeader('X-Tag', 'a');
    xhr.setRequestHeader('x-tag', 'b');
    await new Promise((resolve) => { xhr.onloadend = resolve; xhr.send(); });
    await fetch('/api/echo?fetch', { headers: [['X-Tag', 'c'], ['X-TAG', 'd']] });
  `,
  );
  await run(page);
  expect(collector.api.map((r) => r.headers['x-tag'])).toEqual(['a, b', 'c, d']);
  await expect.poll(() => events(collector).length).toBe(2);
  expect(events(collector).map((e) => [searchOf(e), e.request.headers]).sort()).toEqual([
    ['?fetch', expect.objectContaining({ 'x-tag': 'c, d' })],
    ['?xhr', expect.objectContaining({ 'X-Tag': 'a, b' })],
  ]);
  for (const event of events(collector)) expect(Object.keys(event.request.headers).filter((name) => /^x-tag$/i.test(name))).toEqual([searchOf(event) === '?xhr' ? 'X-Tag' : 'x-tag']);
});

test("a body the app reads with text() is recorded on a page whose Promise is another library's (zone.js)", async ({ page, collector }) => {
  // An answer whose body comes a while after its headers (time is the scenario): the app's text() is
  // still under way when capture builds the event.
  const slow = createServer((_req, res) => {
    res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'application/json' });
    res.write('{"late":');
    setTimeout(() => res.end('true}'), 1000);
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  try {
    // As zone.js (Angular) does before the app's scripts run: its own Promise in place of the browser's,
    // while the browser's methods (text()) still give the browser's promises.
    const zone = '<script>window.Promise = class ZoneAwarePromise extends Promise {};</script>';
    const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/slow-body`;
    const { without, withCapture } = await bothWays({ page, collector }, `return (await fetch(${JSON.stringify(url)})).text();`, zone);
    expect(without).toBe('{"late":true}');
    expect(withCapture).toBe(without);
    await expect.poll(() => events(collector).length).toBe(1);
    expect(events(collector)[0].response.body).toEqual({ late: true });
  } finally {
    slow.close();
  }
});

test('json() of a body that is not JSON fails with the same error, reported to the page as without capture', async ({ page, collector }) => {
  // Chromium reports json()'s own SyntaxError to the console only, not to unhandledrejection listeners;
  // a SyntaxError thrown by the page's JSON.parse would reach them.
  const runOnce = async (capture: boolean) => {
    await open(
      { page, collector },
      `
      window.reported = [];
      addEventListener('unhandledrejection', (event) => {
        reported.push(event.reason.message);
        if (event.reason.message == 'marker') markerSeen();
      });
      const caught = await (await fetch('/api/text?caught')).json().catch((error) => [error.constructor.name, error.message]);
      (await fetch('/api/text?unhandled')).json();
      return caught;
    `,
      { capture },
    );
    const consoleReported = page.waitForEvent('pageerror');
    const caught = await run(page);
    await consoleReported;
    // A rejection of the page's own, after it: once it is reported, json()'s would have been.
    const reported = await page.evaluate(() => {
      const w = window as unknown as { reported: string[]; markerSeen(): void };
      return new Promise<string[]>((resolve) => {
        w.markerSeen = () => resolve(w.reported);
        void Promise.reject(new Error('marker'));
      });
    });
    return { caught, reported };
  };
  const without = await runOnce(false);
  expect(without).toEqual({ caught: ['SyntaxError', `Unexpected token 'h', "hello, text" is not valid JSON`], reported: ['marker'] });
  expect(await runOnce(true)).toEqual(without);
  await expect.poll(() => events(collector).map(searchOf).sort()).toEqual(['?caught', '?unhandled']);
  expect(events(collector).map((e) => e.response.body)).toEqual(['hello, text', 'hello, text']);
});

test('a fetch of a data: or blob: URL is left alone: its body is not copied', async ({ page, collector }) => {
  // Reading a data: URL with fetch is how many apps turn base64 into a Blob; such calls are never
  // recorded, so a copy of their body (as large as the data) would only be held, never read. Clones are
  // counted from before the SDK loads: capture copies with the clone() in place when it started.
  const countClones = `<script>
    const nativeClone = Response.prototype.clone;
    window.clones = 0;
    Response.prototype.clone = function () { clones++; return nativeClone.apply(this, arguments); };
  </script>`;
  const { without, withCapture } = await bothWays(
    { page, collector },
    `
    const data = await (await fetch('data:application/octet-stream;base64,' + btoa('x'.repeat(1000)))).blob();
    const url = URL.createObjectURL(new Blob(['from a blob']));
    const blob = await (await fetch(url)).arrayBuffer();
    const notCopied = clones;
    // A call to an API read the same way is copied, so the count above counts.
    await (await fetch('/api/text?http')).blob();
    return [data.size, blob.byteLength, notCopied, clones > notCopied || 'no copy of an API call'];
  `,
    countClones,
  );
  expect(without).toEqual([1000, 11, 0, 'no copy of an API call']);
  expect(withCapture).toEqual([1000, 11, 0, true]);
  await expect.poll(() => events(collector).map(searchOf)).toEqual(['?http']);
});

test('a body given to a GET or HEAD XMLHttpRequest, which the browser does not send, is not recorded', async ({ page, collector }) => {
  await open(
    { page, collector },
    `
    for (const method of ['get', 'HEAD', 'POST']) {
      const xhr = new XMLHttpRequest();
      xhr.open(method, '/api/echo?' + method);
      await new Promise((resolve) => { xhr.onloadend = resolve; xhr.send('{"page":2}'); });
    }
  `,
  );
  await run(page);
  expect(collector.api.map((r) => [r.method, r.body])).toEqual([['GET', ''], ['HEAD', ''], ['POST', '{"page":2}']]);
  await expect.poll(() => events(collector).length).toBe(3);
  expect(events(collector).map((e) => [e.request.verb, e.request.body]).sort()).toEqual([['GET', undefined], ['HEAD', undefined], ['POST', { page: 2 }]]);
});

test('an empty body read a second time fails as without capture, naming the method the app called', async ({ page, collector }) => {
  // Found by e2e/capture-differential.spec.ts: the empty text capture kept of the first read counted
  // as no read, so the second went through text() and its error named 'text'.
  const { without, withCapture } = await bothWays(
    { page, collector },
    `
    const second = async (first, then) => {
      const response = await fetch('/api/echo?status=204&' + first + '-' + then);
      await response[first]().catch(() => {});
      return response[then]().then(() => 'read again', (error) => error.constructor.name + ': ' + error.message);
    };
    return [await second('text', 'json'), await second('json', 'json'), await second('text', 'arrayBuffer')];
  `,
  );
  expect(without).toEqual([
    "TypeError: Failed to execute 'json' on 'Response': body stream already read",
    "TypeError: Failed to execute 'json' on 'Response': body stream already read",
    "TypeError: Failed to execute 'arrayBuffer' on 'Response': body stream already read",
  ]);
  expect(withCapture).toEqual(without);
  await expect.poll(() => events(collector).map((e) => [searchOf(e), e.response.status]).sort()).toEqual([
    ['?status=204&json-json', 204],
    ['?status=204&text-arrayBuffer', 204],
    ['?status=204&text-json', 204],
  ]);
});

test("every function capture (and page views) put in place has the browser's own name and length", async ({ page, collector }) => {
  // What the page sees of each function: its name and length, and whether it is still the one the
  // page had before the SDK loaded (kept by `head`), so that the comparison is of wrappers.
  const head = `<script>
    window.places = {
      fetch: [window, 'fetch'],
      'XMLHttpRequest.prototype.open': [XMLHttpRequest.prototype, 'open'],
      'XMLHttpRequest.prototype.send': [XMLHttpRequest.prototype, 'send'],
      'XMLHttpRequest.prototype.abort': [XMLHttpRequest.prototype, 'abort'],
      'XMLHttpRequest.prototype.setRequestHeader': [XMLHttpRequest.prototype, 'setRequestHeader'],
      ...Object.fromEntries(['text', 'json', 'arrayBuffer', 'blob', 'bytes', 'formData', 'clone'].map((name) => ['Response.prototype.' + name, [Response.prototype, name]])),
      'history.pushState': [history, 'pushState'],
      'history.replaceState': [history, 'replaceState'],
    };
    const current = () => ({
      ...Object.fromEntries(Object.entries(places).map(([label, [target, key]]) => [label, target[key]])),
      'get Response.prototype.body': Object.getOwnPropertyDescriptor(Response.prototype, 'body').get,
    });
    const before = current();
    window.described = () => Object.entries(current()).map(([label, fn]) => ({ label, name: fn.name, length: fn.length, wrapped: fn !== before[label] }));
  </script>`;
  const init = `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, trackPageViews: true });`;
  type Described = Array<{ label: string; name: string; length: number; wrapped: boolean }>;
  const described = () => page.evaluate(() => (window as unknown as { described(): Described }).described());
  // The SDK loaded, not started: the browser's own functions.
  collector.page('/fresh', umdPage('', head));
  await page.goto(collector.url + '/fresh');
  const fresh = await described();
  collector.page('/captured', umdPage(`${init} moesif.start();`, head));
  await page.goto(collector.url + '/captured');
  const captured = await described();
  expect(fresh.filter((fn) => fn.wrapped)).toEqual([]);
  expect(captured.filter((fn) => !fn.wrapped)).toEqual([]);
  expect(captured.map(({ wrapped, ...fn }) => fn)).toEqual(fresh.map(({ wrapped, ...fn }) => fn));
});

test("an XMLHttpRequest's response is read by capture off the call path: not when it ends, but with the rest of its event", async ({ page, collector }) => {
  // Reading xhr.response is the browser's work: it parses a 'json' response again at each read (and
  // capture then serialized it back), and parses a 'document' one at its first. The page counts reads
  // made between the app's onload and a loadend listener added after send() (so after capture's own).
  const head = `<script>
    window.reads = { callPath: 0, all: 0 };
    let ending = false;
    const response = Object.getOwnPropertyDescriptor(XMLHttpRequest.prototype, 'response');
    Object.defineProperty(XMLHttpRequest.prototype, 'response', { ...response, get() { window.reads.all++; if (ending) window.reads.callPath++; return response.get.call(this); } });
    window.call = (type, path) => new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open('GET', path);
      xhr.responseType = type;
      xhr.onload = () => { ending = true; };
      xhr.send();
      xhr.addEventListener('loadend', () => { ending = false; resolve(xhr.status); });
    });
  </script>`;
  const { without, withCapture } = await bothWays({ page, collector }, `return [await call('json', '/api/echo?json'), await call('document', '/api/text?document'), await call('text', '/api/text?text'), window.reads.callPath];`, head);
  expect(without).toEqual([200, 200, 200, 0]);
  expect(withCapture).toEqual(without);
  await expect.poll(() => events(collector).map((e) => [searchOf(e), e.response.body]).sort()).toEqual([
    ['?document', undefined],
    ['?json', { method: 'GET', body: '', authorization: false, apiKey: false }],
    ['?text', 'hello, text'],
  ]);
  // A 'document' response, which capture leaves out, is not read at all: the app never read it either.
  expect(await page.evaluate(() => (window as unknown as { reads: { all: number } }).reads.all)).toBe(2);
});

test('a stub in place of fetch that answers without a promise gives the app its answer, as without capture', async ({ page, collector }) => {
  // Test set-ups and polyfills replace fetch before the SDK starts; capture wraps whatever is there.
  const head = `<script>window.fetch = (url) => ({ stubbed: String(url) });</script>`;
  const { without, withCapture } = await bothWays({ page, collector }, `try { return fetch('/api/text?stub'); } catch (error) { return 'threw ' + error; }`, head);
  expect(without).toEqual({ stubbed: '/api/text?stub' });
  expect(withCapture).toEqual(without);
});

test('fetch request header names are recorded lower-cased, as a Headers names them and moesif-browser-js records them, whether given as a record or as pairs', async ({ page, collector }) => {
  // moesif-browser-js 1.8.13 (src/capture-fetch.js) records a fetch's headers from new Request(url, init).headers.
  await open(
    { page, collector },
    `
    await fetch('/api/echo?record', { headers: { 'X-Tenant-Id': 't1' } });
    await fetch('/api/echo?pairs', { headers: [['X-Tenant-Id', 't1']] });
  `,
  );
  await run(page);
  await expect.poll(() => events(collector).length).toBe(2);
  expect(events(collector).map((e) => [searchOf(e), Object.keys(e.request.headers).filter((name) => /^x-tenant-id$/i.test(name))]).sort()).toEqual([
    ['?pairs', ['x-tenant-id']],
    ['?record', ['x-tenant-id']],
  ]);
});
