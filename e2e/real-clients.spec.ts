import type { CapturedEvent } from '../src/wire';
import { expect, test, type PageAndCollector } from './support/fixtures';
import { moesif1102 } from './support/moesif-1.10.2';
import { problemsOf } from './support/page-problems';
import { capturedEvents } from './support/recorder';

/**
 * Capture under the HTTP client libraries apps make their calls through, the real files from
 * node_modules in Debian's Chromium: axios 1.21.1 (over XMLHttpRequest, and over fetch with `adapter:
 * 'fetch'`), jQuery 3.7.1 ($.ajax, over XMLHttpRequest), ky 1.14.3 (fetch with a Request it builds,
 * AbortController timeouts, retries) and zone.js 0.16.3 (Angular's patcher of Promise, fetch,
 * XMLHttpRequest and addEventListener). Each scenario runs without capture and with it: the app must
 * get the same, and each call the server got must be recorded once, as the app sent and received it.
 */

/** How a page loads each library: as its users do, the browser build in a script tag, ky as an ES module. */
const LIBRARY = {
  axios: '<script src="/node_modules/axios/dist/axios.min.js"></script>',
  jquery: '<script src="/node_modules/jquery/dist/jquery.min.js"></script>',
  ky: '<script type="module">import ky from "/node_modules/ky/distribution/index.js"; window.ky = ky;</script>',
  zone: '<script src="/node_modules/zone.js/fesm2015/zone.js"></script>',
};
type Library = keyof typeof LIBRARY;

/**
 * Page helpers: `seen(value)` is what the app got, as JSON the test compares: errors by class, name,
 * message and code (and an HTTP error's response), a Response by status, headers and body, Blobs and
 * ArrayBuffers by their bytes. Left out: what differs between two runs (a `date` header, axios's
 * `duration`, a multipart boundary), and the library's own objects (axios's `config` and `request`).
 * `settle(promise)` is seen() of what it resolves to, or `{ rejected: seen(reason) }`.
 */
const HELPERS = `<script>
  const LEFT_OUT = ['date', 'duration', 'config', 'request'];
  window.seen = async (value, depth = 0) => {
    if (depth > 4) return '(deeper)';
    const inner = (v) => seen(v, depth + 1);
    if (value instanceof Error) return { [value.constructor.name]: { name: value.name, message: value.message, code: value.code, response: await inner(value.response) } };
    if (value instanceof Response) return { Response: { status: value.status, url: value.url, headers: await inner(value.headers), body: value.bodyUsed ? '(read)' : await value.clone().text() } };
    if (value instanceof Headers) return inner(Object.fromEntries(value));
    if (value instanceof Blob) return { Blob: { type: value.type, bytes: Array.from(new Uint8Array(await value.arrayBuffer())) } };
    if (value instanceof ArrayBuffer) return { ArrayBuffer: Array.from(new Uint8Array(value)) };
    if (typeof value == 'string') return value.replace(/^date: .*$/gim, 'date: (left out)').replace(/----WebKitFormBoundary\\w+/g, '(boundary)');
    if (!value || typeof value != 'object') return value;
    const entries = Object.entries(value).filter(([key, v]) => !LEFT_OUT.includes(key.toLowerCase()) && typeof v != 'function');
    return Object.fromEntries(await Promise.all(entries.map(async ([key, v]) => [key, await inner(v)])));
  };
  window.settle = (promise) => Promise.resolve(promise).then(seen, async (reason) => ({ rejected: await seen(reason) }));
</script>`;

/** What names a call in a scenario: its URL's query. */
const tagOf = (event: CapturedEvent): string => new URL(event.request.uri).search;

interface Setup {
  /** The library the page loads. */
  library: Library;
  /** The page's own code, the body of an async function whose result is what the app got (see seen()). */
  scenario: string;
  /** Load and start the SDK before the library (as a snippet in <head> before the app's bundle), rather than after it. */
  sdkFirst?: boolean;
  /** The SDK's script. */
  sdk?: string;
}

/** Opens a page with `library`, the SDK initialized (and started with `capture`), and the scenario ready to run. */
async function open({ page, collector }: PageAndCollector, { library, scenario, sdkFirst = false, sdk = '/dist/moesif.min.js' }: Setup, capture: boolean): Promise<void> {
  const init = `moesif.init({ applicationId: 'app', host: '127.0.0.1:' + location.port, batchMaxTime: 100 }); ${capture ? 'moesif.start();' : ''}`;
  const sdkTags = `<script src="${sdk}"></script><script>${init}</script>`;
  const head = sdkFirst ? sdkTags + LIBRARY[library] : LIBRARY[library] + sdkTags;
  collector.page('/app', `<!doctype html><html><head><title>app</title>${HELPERS}${head}</head><body><script>window.scenario = async () => { ${scenario} };</script></body></html>`);
  await page.goto(collector.url + '/app');
}

/** A body as an event carries what the server got (see src/capture/body.ts): JSON parsed, other text as it is, none when empty. */
const asRecorded = (text: string): unknown => {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};
/**
 * `value` with its multipart boundaries made one: the browser draws a new one for each encoding of a
 * FormData, and capture reads its own (see readBody), so the recorded text differs from what was sent there only.
 */
const sameBoundary = (value: unknown): unknown => (value === undefined ? value : JSON.parse(JSON.stringify(value).replace(/----WebKitFormBoundary\w+/g, '(boundary)')));

/**
 * Runs `setup` without capture, then with it, and checks that the app got the same, that the page
 * reported no error either way, and that `tags` (the queries of the calls made, in any order, a call
 * sent twice twice) were recorded once each and nothing else, each request the server got with its
 * full URL, method and body as the server got them. Gives what the app got, and the events by tag.
 */
async function bothWays({ page, collector }: PageAndCollector, setup: Setup, tags: string[]) {
  const runs = [];
  for (const capture of [false, true]) {
    const from = collector.api.length;
    const report = problemsOf(page);
    await open({ page, collector }, setup, capture);
    const seen = await page.evaluate(() => (window as unknown as { scenario(): Promise<unknown> }).scenario());
    report.stop();
    expect(report.problems, capture ? 'with capture' : 'without capture').toEqual([]);
    runs.push({ seen, requests: collector.api.slice(from) });
  }
  const [without, withCapture] = runs;
  expect(withCapture.seen).toEqual(without.seen);
  await expect.poll(() => capturedEvents(collector).length).toBeGreaterThanOrEqual(tags.length);
  await collector.settled(page);
  expect(capturedEvents(collector).map(tagOf).sort()).toEqual([...tags].sort());
  const byTag = Object.fromEntries(capturedEvents(collector).map((event) => [tagOf(event), event]));
  for (const sent of withCapture.requests) {
    const { request } = byTag[sent.search];
    expect({ uri: request.uri, verb: request.verb, body: sameBoundary(request.body) }, sent.search).toEqual({
      uri: collector.url + sent.path + sent.search,
      verb: sent.method,
      body: sameBoundary(asRecorded(sent.body)),
    });
  }
  return { seen: without.seen as Record<string, Record<string, unknown>>, byTag };
}

/** The error of a call that failed (see settle()), whatever its class's name: axios's minified build shortens it. */
const rejection = (result: unknown): unknown => Object.values((result as { rejected: Record<string, unknown> }).rejected)[0];
/** What /api/echo answers (see e2e/support/recorder.ts). */
const echo = (method: string, body = '', authorization = false) => ({ method, body, authorization, apiKey: false });
/** What /api/bin answers, bytes 0 to 255, as an event carries them. */
const BYTES = { body: Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64'), transfer_encoding: 'base64' };
/** A call's outcome as recorded: status, response body (with its encoding) and error. */
const outcome = ({ response, metadata }: CapturedEvent) => ({
  status: response.status,
  ...(response.body === undefined ? {} : { body: sameBoundary(response.body) }),
  ...(response.transfer_encoding ? { transfer_encoding: response.transfer_encoding } : {}),
  ...(metadata?.error ? { error: metadata.error } : {}),
});
const outcomes = (byTag: Record<string, CapturedEvent>) => Object.fromEntries(Object.entries(byTag).map(([tag, event]) => [tag, outcome(event)]));
/** Header names lower-cased: XMLHttpRequest's are recorded as the app wrote them, a fetch's as a Headers names them. */
const lowerCased = (headers: Record<string, string>) => Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
const withoutDate = ({ date, ...headers }: Record<string, string>) => headers;
/** The multipart body of the FormData the scenarios upload, as the server got it. */
const FORM = '--(boundary)\r\nContent-Disposition: form-data; name="name"\r\n\r\nAda\r\n--(boundary)\r\nContent-Disposition: form-data; name="file"; filename="hello.txt"\r\nContent-Type: text/plain\r\n\r\nhello file\r\n--(boundary)--\r\n';
/** Page code that makes that FormData. */
const MAKE_FORM = `const form = new FormData(); form.append('name', 'Ada'); form.append('file', new Blob(['hello file'], { type: 'text/plain' }), 'hello.txt');`;

for (const adapter of ['xhr', 'fetch'] as const) {
  test(`axios over ${adapter == 'xhr' ? 'XMLHttpRequest' : 'fetch'}: the app gets the same answers and errors, and each call is recorded once, as sent and received`, async ({ page, collector }) => {
    const scenario = `
      const api = axios.create({ adapter: '${adapter}' });
      ${MAKE_FORM}
      const picked = (call) => call.then(({ data, status, statusText, headers }) => ({ data, status, statusText, headers }));
      return {
        get: await settle(picked(api.get('/api/echo?get'))),
        post: await settle(picked(api.post('/api/echo?post', { name: 'Ada', tags: ['admin'] }, { headers: { 'X-Tenant-Id': 't1', Authorization: 'Bearer secret-token' } }))),
        missing: await settle(picked(api.get('/api/echo?status=404&missing'))),
        failing: await settle(picked(api.delete('/api/echo?status=500&failing'))),
        timeout: await settle(picked(api.get('/api/slow?timeout', { timeout: 100 }))),
        form: await settle(picked(api.post('/api/echo?form', form))),
        blobUpload: await settle(picked(api.put('/api/echo?blob-upload', new Blob(['{"from":"a blob"}'], { type: 'application/json' })))),
        blob: await settle(picked(api.get('/api/bin?blob', { responseType: 'blob' }))),
        arraybuffer: await settle(picked(api.get('/api/bin?arraybuffer', { responseType: 'arraybuffer' }))),
        progress: await settle(picked(api.get('/api/text?progress', { onDownloadProgress: () => {} }))),
      };
    `;
    const { seen, byTag } = await bothWays({ page, collector }, { library: 'axios', scenario }, ['?get', '?post', '?status=404&missing', '?status=500&failing', '?timeout', '?form', '?blob-upload', '?blob', '?arraybuffer', '?progress']);
    // What the app got: the answers, and axios's errors.
    expect(seen.get).toEqual({ data: echo('GET'), status: 200, statusText: 'OK', headers: expect.objectContaining({ 'x-echo': 'yes' }) });
    expect(rejection(seen.missing)).toEqual(expect.objectContaining({ name: 'AxiosError', message: 'Request failed with status code 404', code: 'ERR_BAD_REQUEST' }));
    expect(rejection(seen.timeout)).toEqual(expect.objectContaining({ name: 'AxiosError', message: 'timeout of 100ms exceeded' }));
    expect(seen.blob.data).toEqual({ Blob: { type: 'application/octet-stream', bytes: Array.from({ length: 256 }, (_, i) => i) } });
    // What was recorded of it.
    expect(outcomes(byTag)).toEqual({
      '?get': { status: 200, body: echo('GET') },
      '?post': { status: 200, body: echo('POST', '{"name":"Ada","tags":["admin"]}', true) },
      '?status=404&missing': { status: 404, body: echo('GET') },
      '?status=500&failing': { status: 500, body: echo('DELETE') },
      // axios ends a call at its timeout by aborting it (over XMLHttpRequest, its own timer runs from before
      // send() and mostly beats the browser's timeout, which it also sets; over fetch, its signal's reason).
      '?timeout': { status: 0, error: adapter == 'xhr' ? expect.stringMatching(/^(abort|timeout)$/) : 'AxiosError: timeout of 100ms exceeded' },
      '?form': { status: 200, body: echo('POST', FORM) },
      '?blob-upload': { status: 200, body: echo('PUT', '{"from":"a blob"}') },
      '?blob': { status: 200, ...BYTES },
      '?arraybuffer': { status: 200, ...BYTES },
      '?progress': { status: 200, body: 'hello, text' },
    });
    expect(lowerCased(byTag['?post'].request.headers)).toEqual({
      accept: 'application/json, text/plain, */*',
      'content-type': 'application/json',
      'x-tenant-id': 't1',
      authorization: '*****',
      'user-agent': expect.any(String),
    });
    expect(withoutDate(byTag['?get'].response.headers)).toEqual(seen.get.headers);
  });
}

test('jQuery.ajax: the app gets the same results and failures, and each call is recorded once, as sent and received', async ({ page, collector }) => {
  const scenario = `
    const call = (options) => new Promise((resolve) => $.ajax(options)
      .done((data, textStatus, xhr) => resolve({ data, textStatus, status: xhr.status, headers: xhr.getAllResponseHeaders() }))
      .fail((xhr, textStatus, error) => resolve({ failed: textStatus, error: String(error), status: xhr.status, body: xhr.responseText })))
      .then(seen);
    ${MAKE_FORM}
    // Aborted by the app while the server holds the answer back.
    const aborted = $.ajax({ url: '/api/slow?aborted' });
    const abortedSeen = new Promise((resolve) => aborted.fail((xhr, textStatus) => resolve(textStatus)));
    setTimeout(() => aborted.abort(), 50);
    return {
      get: await call({ url: '/api/echo?get', dataType: 'json' }),
      getJSON: await new Promise((resolve) => $.getJSON('/api/echo?getJSON', { page: 2 }, resolve)),
      post: await call({ url: '/api/echo?post', method: 'POST', contentType: 'application/json', data: JSON.stringify({ name: 'Ada' }), headers: { 'X-Tenant-Id': 't1', Authorization: 'Bearer secret-token' } }),
      urlencoded: await call({ url: '/api/echo?urlencoded', method: 'POST', data: { name: 'Ada', tags: ['a', 'b'] } }),
      synchronous: await call({ url: '/api/text?synchronous', async: false }),
      missing: await call({ url: '/api/echo?status=404&missing' }),
      failing: await call({ url: '/api/echo?status=500&failing', dataType: 'json' }),
      timeout: await call({ url: '/api/slow?timeout', timeout: 100 }),
      aborted: await abortedSeen,
      form: await call({ url: '/api/echo?form', method: 'POST', data: form, processData: false, contentType: false }),
      blob: await call({ url: '/api/bin?blob', xhrFields: { responseType: 'blob' } }),
    };
  `;
  const tags = ['?get', '?getJSON&page=2', '?post', '?urlencoded', '?synchronous', '?status=404&missing', '?status=500&failing', '?timeout', '?aborted', '?form', '?blob'];
  const { seen, byTag } = await bothWays({ page, collector }, { library: 'jquery', scenario }, tags);
  expect(seen.post.data).toEqual(echo('POST', '{"name":"Ada"}', true));
  expect([seen.missing, seen.timeout, seen.aborted]).toEqual([
    { failed: 'error', error: 'Not Found', status: 404, body: JSON.stringify(echo('GET')) },
    { failed: 'timeout', error: 'timeout', status: 0, body: undefined },
    'abort',
  ]);
  expect(outcomes(byTag)).toEqual({
    '?get': { status: 200, body: echo('GET') },
    '?getJSON&page=2': { status: 200, body: echo('GET') },
    '?post': { status: 200, body: echo('POST', '{"name":"Ada"}', true) },
    '?urlencoded': { status: 200, body: echo('POST', 'name=Ada&tags%5B%5D=a&tags%5B%5D=b') },
    '?synchronous': { status: 200, body: 'hello, text' },
    '?status=404&missing': { status: 404, body: echo('GET') },
    '?status=500&failing': { status: 500, body: echo('GET') },
    // jQuery ends a call at its timeout by aborting it: the event says what the browser did, the app's
    // "timeout" is jQuery's word for it.
    '?timeout': { status: 0, error: 'abort' },
    '?aborted': { status: 0, error: 'abort' },
    '?form': { status: 200, body: echo('POST', FORM) },
    '?blob': { status: 200, ...BYTES },
  });
  // Named as jQuery set them, with setRequestHeader.
  expect(byTag['?post'].request.headers).toEqual({
    'Content-Type': 'application/json',
    Accept: '*/*',
    'X-Tenant-Id': 't1',
    Authorization: '*****',
    'X-Requested-With': 'XMLHttpRequest',
    'User-Agent': expect.any(String),
  });
  expect(byTag['?get'].response.headers).toEqual(expect.objectContaining({ 'content-type': 'application/json', 'x-echo': 'yes' }));
});

test("ky: the app gets the same answers and errors, and each request is recorded once, each of ky's retries too", async ({ page, collector }) => {
  const scenario = `
    ${MAKE_FORM}
    // Aborted by the app while the server holds the answer back.
    const aborted = new AbortController();
    const abortedCall = settle(ky.get('/api/slow?aborted', { signal: aborted.signal, retry: 0 }).text());
    setTimeout(() => aborted.abort(), 50);
    return {
      get: await settle(ky.get('/api/echo?get').json()),
      post: await settle(ky.post('/api/echo?post', { json: { name: 'Ada' }, headers: { 'X-Tenant-Id': 't1', Authorization: 'Bearer secret-token' } }).json()),
      missing: await settle(ky.get('/api/echo?status=404&missing').json()),
      retried: await settle(ky.get('/api/echo?status=503&retried', { retry: { limit: 2, delay: () => 10 } }).json()),
      // The server closes the connection unanswered, twice.
      networkRetried: await settle(ky.get('/api/close?network-retried', { retry: { limit: 1, delay: () => 10 } }).text()),
      timeout: await settle(ky.get('/api/slow?timeout', { timeout: 100, retry: 0 }).text()),
      aborted: await abortedCall,
      form: await settle(ky.post('/api/echo?form', { body: form }).json()),
      blobUpload: await settle(ky.put('/api/echo?blob-upload', { body: new Blob(['{"from":"a blob"}'], { type: 'application/json' }) }).json()),
      blob: await settle(ky.get('/api/bin?blob').blob()),
      arrayBuffer: await settle(ky.get('/api/bin?arraybuffer').arrayBuffer()),
      // ky reads the body itself, through response.body, to report progress.
      progress: await settle(ky.get('/api/text?progress', { onDownloadProgress: () => {} }).text()),
      response: await settle(ky.get('/api/text?response')),
    };
  `;
  const tags = ['?get', '?post', '?status=404&missing', ...Array(3).fill('?status=503&retried'), ...Array(2).fill('?network-retried'), '?timeout', '?aborted', '?form', '?blob-upload', '?blob', '?arraybuffer', '?progress', '?response'];
  const { seen, byTag } = await bothWays({ page, collector }, { library: 'ky', scenario }, tags);
  const url = (path: string) => `${collector.url}${path}`;
  expect([seen.post, seen.progress]).toEqual([echo('POST', '{"name":"Ada"}', true), 'hello, text']);
  expect(seen.retried.rejected).toEqual({ HTTPError: expect.objectContaining({ name: 'HTTPError', message: `Request failed with status code 503 Service Unavailable: GET ${url('/api/echo?status=503&retried')}` }) });
  expect(seen.timeout.rejected).toEqual({ TimeoutError: { name: 'TimeoutError', message: `Request timed out: GET ${url('/api/slow?timeout')}` } });
  expect(seen.aborted.rejected).toEqual({ DOMException: { name: 'AbortError', message: 'signal is aborted without reason', code: 20 } });
  expect(outcomes(byTag)).toEqual({
    '?get': { status: 200, body: echo('GET') },
    '?post': { status: 200, body: echo('POST', '{"name":"Ada"}', true) },
    '?status=404&missing': { status: 404, body: echo('GET') },
    '?status=503&retried': { status: 503, body: echo('GET') },
    '?network-retried': { status: 0, error: 'TypeError: Failed to fetch' },
    // ky's timeout aborts its own signal: the event has fetch's error, the app ky's TimeoutError.
    '?timeout': { status: 0, error: 'AbortError: signal is aborted without reason' },
    '?aborted': { status: 0, error: 'AbortError: signal is aborted without reason' },
    '?form': { status: 200, body: echo('POST', FORM) },
    '?blob-upload': { status: 200, body: echo('PUT', '{"from":"a blob"}') },
    '?blob': { status: 200, ...BYTES },
    '?arraybuffer': { status: 200, ...BYTES },
    '?progress': { status: 200, body: 'hello, text' },
    '?response': { status: 200, body: 'hello, text' },
  });
  expect(seen.networkRetried.rejected).toEqual({ TypeError: { name: 'TypeError', message: 'Failed to fetch' } });
  expect(capturedEvents(collector).filter((event) => tagOf(event) == '?status=503&retried').map((event) => event.response.status)).toEqual([503, 503, 503]);
  // From the Request ky built, named as a Headers names them; a form's type with the boundary the server got.
  expect(byTag['?post'].request.headers).toEqual({ accept: 'application/json', 'content-type': 'application/json', 'x-tenant-id': 't1', authorization: '*****', 'User-Agent': expect.any(String) });
  expect(byTag['?form'].request.headers['content-type']).toBe(collector.api.filter((request) => request.search == '?form').at(-1)!.headers['content-type']);
});

for (const sdkFirst of [false, true]) {
  test(`zone.js loaded ${sdkFirst ? 'after the SDK started (its script in <head>, the app bundle later)' : 'before the SDK'}: calls are recorded, and the app's zone sees no timer or listener of capture's`, async ({ page, collector }) => {
    // As Angular's NgZone: a zone forked from the root, told of every task scheduled in it; it runs change
    // detection after each timer and event it sees, and is stable (isStable, whenStable()) once none is left.
    // Microtasks are left out: they run within the turn that made them, so adding some changes neither.
    const scenario = `
      const app = { tasks: [], zones: [] };
      let calls = 0;
      let pending = {};
      await new Promise((stable) => {
        // Checked as NgZone does: when the zone's tasks change, and when a callback of the app's ends.
        const checkStable = () => calls == 2 && !pending.macroTask && !pending.microTask && stable();
        const angular = Zone.current.fork({
          name: 'angular',
          onScheduleTask(delegate, current, target, task) {
            if (task.type != 'microTask') app.tasks.push(task.type + ' ' + task.source);
            return delegate.scheduleTask(target, task);
          },
          onHasTask(delegate, current, target, state) {
            delegate.hasTask(target, state);
            pending = state;
            checkStable();
          },
        });
        angular.run(() => {
          fetch('/api/echo?fetch').then((response) => response.json()).then((data) => {
            app.zones.push(Zone.current.name);
            app.fetched = data;
            calls++;
            checkStable();
          });
          const xhr = new XMLHttpRequest();
          xhr.open('POST', '/api/echo?xhr');
          xhr.onload = () => {
            app.zones.push(Zone.current.name);
            app.sent = JSON.parse(xhr.responseText);
            calls++;
            checkStable();
          };
          xhr.send('{"page":2}');
        });
      });
      return app;
    `;
    const { seen, byTag } = await bothWays({ page, collector }, { library: 'zone', scenario, sdkFirst }, ['?fetch', '?xhr']);
    expect(seen).toEqual({
      tasks: ['eventTask XMLHttpRequest.addEventListener:load', 'macroTask XMLHttpRequest.send'],
      zones: ['angular', 'angular'],
      fetched: echo('GET'),
      sent: echo('POST', '{"page":2}'),
    });
    expect(outcomes(byTag)).toEqual({ '?fetch': { status: 200, body: echo('GET') }, '?xhr': { status: 200, body: echo('POST', '{"page":2}') } });
  });
}

test("zone.js: the SDK called in the app's zone (init, start, identifyUser, track, a page view, flush) leaves none of its timers or listeners there", async ({ page, collector }) => {
  // An Angular app calls the SDK from its components, inside NgZone: here a zone forked from the root, as
  // in the capture test above, that lists every task scheduled in it. The app itself schedules none.
  collector.page(
    '/angular',
    `<!doctype html><html><head><title>app</title>${LIBRARY.zone}<script src="/dist/moesif.min.js"></script></head><body><script>
      window.scenario = async () => {
        const tasks = [];
        const angular = Zone.current.fork({
          name: 'angular',
          onScheduleTask(delegate, current, target, task) {
            if (task.type != 'microTask') tasks.push(task.type + ' ' + task.source);
            return delegate.scheduleTask(target, task);
          },
        });
        await angular.run(async () => {
          moesif.init({ applicationId: 'app', host: '127.0.0.1:' + location.port, trackPageViews: true, batchMaxTime: 100 });
          moesif.start();
          moesif.identifyUser('user_5');
          moesif.track('clicked', { button: 'buy' });
          history.pushState({}, '', '/angular?step=2');
          await moesif.flush();
        });
        return tasks;
      };
    </script></body></html>`,
  );
  const report = problemsOf(page);
  await page.goto(collector.url + '/angular');
  expect(await page.evaluate(() => (window as unknown as { scenario(): Promise<string[]> }).scenario())).toEqual([]);
  expect(report.problems).toEqual([]);
  await expect.poll(() => collector.items('actions').map((action) => action.action_name).sort()).toEqual(['Page View', 'Page View', 'clicked']);
  expect(collector.items('users')).toMatchObject([{ user_id: 'user_5' }]);
});

/**
 * The same calls under moesif-browser-js (1.8.13 from node_modules, 1.10.2 where a mirror has it), which a
 * migrating site had: what it records of them, usertrail records alike. Left out are the calls where
 * moesif is wrong and usertrail differs on purpose: moesif breaks every fetch of a Request with a body
 * (ky's and axios's fetch adapter's POSTs: "Cannot construct a Request with a Request object that has
 * already been used"), records no failed fetch, a FormData body as {}, an XMLHttpRequest's blob or
 * arraybuffer answer not at all (its responseText throws), a binary answer decoded as text (bytes over
 * 127 as U+FFFD, CR as LF), and credentials unmasked.
 */
for (const version of ['1.8.13', '1.10.2']) {
  test(`the calls moesif-browser-js ${version} records, usertrail records with the same URL, method, status, headers and bodies`, async ({ page, collector }) => {
    test.skip(version == '1.10.2' && !moesif1102, 'no git mirror of moesif-browser-js holding its v1.10.2 tag');
    // Served as a page is (a classic script runs whatever its Content-Type, but for a few such as images).
    if (moesif1102) collector.page('/moesif-1.10.2.js', moesif1102);
    const moesif = version == '1.8.13' ? '/node_modules/moesif-browser-js/moesif.min.js' : '/moesif-1.10.2.js';
    // Each library's calls, and how many requests they make (ky's retry is one more).
    const scenarios: Array<[Library, string, number]> = [
      ['axios', `await settle(axios.get('/api/echo?axios-get')); await settle(axios.post('/api/echo?axios-post', { name: 'Ada' }, { headers: { 'X-Tenant-Id': 't1' } })); await settle(axios.get('/api/echo?status=404&axios-missing'));`, 3],
      ['jquery', `await new Promise((resolve) => $.ajax({ url: '/api/echo?jquery-post', method: 'POST', contentType: 'application/json', data: '{"name":"Ada"}' }).always(() => resolve()));`, 1],
      ['ky', `await settle(ky.get('/api/echo?ky-get').json()); await settle(ky.get('/api/echo?status=503&ky-retried', { retry: { limit: 1, delay: () => 10 } }).json());`, 3],
    ];
    /** The events recorded since the `from`th, by URL; without the User-Agent usertrail adds (Moesif reads the device from it). */
    const recorded = (from: number) =>
      capturedEvents(collector)
        .slice(from)
        .map(({ request, response }) => {
          const { 'user-agent': userAgent, ...requestHeaders } = lowerCased(request.headers);
          return { uri: request.uri, verb: request.verb, requestHeaders, requestBody: request.body, status: response.status, responseHeaders: withoutDate(response.headers), responseBody: response.body };
        })
        .sort((a, b) => a.uri.localeCompare(b.uri));
    for (const [library, scenario, requests] of scenarios) {
      const bySdk: Record<string, unknown> = {};
      for (const [name, sdk] of [['moesif', moesif], ['usertrail', '/dist/moesif.min.js']]) {
        const from = capturedEvents(collector).length;
        await open({ page, collector }, { library, scenario, sdk }, true);
        await page.evaluate(() => (window as unknown as { scenario(): Promise<unknown> }).scenario());
        await expect.poll(() => capturedEvents(collector).length - from, { message: `${name} recorded ${library}'s calls` }).toBe(requests);
        await collector.settled(page); // usertrail's: nothing more on its way
        bySdk[name] = recorded(from);
      }
      expect(bySdk.usertrail, library).toEqual(bySdk.moesif);
    }
  });
}
