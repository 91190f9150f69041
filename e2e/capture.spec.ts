import { expect, test, type PageAndCollector } from './support/fixtures';
import { umdPage, type Recorder } from './support/recorder';

/**
 * Capture of the page's own API calls (issue 5), in Debian's Chromium against a real server.
 * Each scenario runs twice in the same page: before moesif.start() (what the app sees without
 * capture) and after it. Both runs must look the same to the app; the second must reach the
 * collector as events.
 */

type Event = {
  request: { uri: string; verb: string; headers: Record<string, string>; body?: unknown; transfer_encoding?: string; api_version?: string; time: string };
  response: { status: number; headers: Record<string, string>; body?: unknown; transfer_encoding?: string; time: string };
  transaction_id: string;
  metadata?: Record<string, unknown>;
  tags?: string;
  anonymous_id?: string;
};

const init = (extra = '') => `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 100 ${extra} });`;

/** Helpers the scenarios use, in the page: what the app observed, in plain JSON. */
const HELPERS = `
  const seen = (res) => ({ status: res.status, statusText: res.statusText, type: res.headers.get('content-type'), echo: res.headers.get('x-echo'), redirected: res.redirected, url: res.url });
  const failure = (error) => ({ rejected: String(error && error.name) });
  const xhr = (url, responseType, body) => new Promise((resolve) => {
    const req = new XMLHttpRequest();
    const calls = [];
    req.open(body === undefined ? 'GET' : 'POST', url);
    req.responseType = responseType;
    req.setRequestHeader('Authorization', 'Bearer xhr-secret');
    req.setRequestHeader('X-Trace', 'trace-1');
    req.onreadystatechange = () => calls.push('readystate ' + req.readyState);
    req.onload = () => calls.push('onload ' + req.status);
    req.addEventListener('load', () => calls.push('load listener'));
    req.addEventListener('error', () => calls.push('error listener'));
    req.addEventListener('abort', () => calls.push('abort listener'));
    req.addEventListener('loadend', async () => {
      calls.push('loadend listener');
      let response = req.response;
      if (response instanceof Blob) response = Array.from(new Uint8Array(await response.arrayBuffer()));
      if (response instanceof ArrayBuffer) response = Array.from(new Uint8Array(response));
      resolve({ calls, status: req.status, response, headers: req.getResponseHeader('content-type') });
    });
    req.send(body);
  });
  window.__xhr = xhr;
`;

/** Opens a page with the SDK initialized and `scenario` (an async function body) defined. */
async function open({ page, collector }: PageAndCollector, scenario: string, extra = '') {
  collector.page('/p', umdPage(`${init(extra)} ${HELPERS} window.scenario = async () => { ${scenario} };`));
  await page.goto(collector.url + '/p');
}

/** Runs the scenario without capture, then with it; the app must see the same both times. */
async function runTwice({ page, collector }: PageAndCollector, scenario: string, extra = '') {
  await open({ page, collector }, scenario, extra);
  const without = await page.evaluate(() => (window as unknown as { scenario(): Promise<unknown> }).scenario());
  await page.evaluate(() => (window as unknown as { moesif: { start(): void } }).moesif.start());
  const withCapture = await page.evaluate(() => (window as unknown as { scenario(): Promise<unknown> }).scenario());
  expect(withCapture).toEqual(without);
  return withCapture;
}

const events = (collector: Recorder): Event[] => collector.items('events') as unknown as Event[];
const eventsFor = (collector: Recorder, path: string): Event[] => events(collector).filter((e) => new URL(e.request.uri).pathname === path);
const waitForEvents = async (collector: Recorder, count: number, timeout = 10_000) => {
  await expect.poll(() => events(collector).length, { timeout }).toBeGreaterThanOrEqual(count);
  return events(collector);
};

test('fetch with a string, a URL object and a Request carrying a body: the app sees the same, the collector gets each call', async ({ page, collector }) => {
  const result = await runTwice(
    { page, collector },
    `
    const a = await fetch('/api/echo?via=string', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer s3cret', 'X-Api-Key': 'k-123', 'X-Trace': 't' }, body: JSON.stringify({ n: 1 }) });
    const b = await fetch(new URL('/api/text', location.href));
    const request = new Request('/api/echo?via=request', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'request body' });
    const c = await fetch(request);
    return [seen(a), await a.json(), seen(b), await b.text(), seen(c), await c.json(), request.bodyUsed];
  `,
  );
  expect(result).toContainEqual({ method: 'POST', body: '{"n":1}', authorization: true, apiKey: true });
  expect(result).toContainEqual({ method: 'POST', body: 'request body', authorization: false, apiKey: false });
  // The server got the credentials unmasked, both runs.
  const stringCalls = collector.api.filter((r) => r.path === '/api/echo' && r.body === '{"n":1}');
  expect(stringCalls.map((r) => [r.headers.authorization, r.headers['x-api-key']])).toEqual(Array(2).fill(['Bearer s3cret', 'k-123']));
  // Only the second run was captured: one event per call.
  await waitForEvents(collector, 3);
  await collector.settled(page);
  expect(events(collector)).toHaveLength(3);

  const [string] = eventsFor(collector, '/api/echo').filter((e) => e.request.uri.endsWith('via=string'));
  expect(string.request.uri).toBe(`${collector.url}/api/echo?via=string`);
  expect(string.request.verb).toBe('POST');
  expect(string.request.body).toEqual({ n: 1 });
  expect(string.request.headers).toMatchObject({ 'content-type': 'application/json', authorization: '*****', 'x-api-key': '*****', 'x-trace': 't' });
  expect(JSON.stringify(string)).not.toContain('s3cret');
  expect(JSON.stringify(string)).not.toContain('k-123');
  expect(string.response.status).toBe(200);
  expect(string.response.headers).toMatchObject({ 'content-type': 'application/json', 'x-echo': 'yes' });
  expect(string.response.body).toEqual({ method: 'POST', body: '{"n":1}', authorization: true, apiKey: true });
  expect(string.transaction_id).toMatch(/^[0-9a-f-]{36}$/);
  expect(string.anonymous_id).toBeTruthy();
  expect(Date.parse(string.response.time)).toBeGreaterThanOrEqual(Date.parse(string.request.time));

  const [text] = eventsFor(collector, '/api/text');
  expect(text.request.verb).toBe('GET');
  expect(text.response.body).toBe('hello, text');
  expect(text.response.transfer_encoding).toBeUndefined();

  const [request] = eventsFor(collector, '/api/echo').filter((e) => e.request.uri.endsWith('via=request'));
  expect(request.request.body).toBe('request body');
  expect(request.response.body).toMatchObject({ body: 'request body' });
  // The server got every request body intact, both runs.
  expect(collector.api.filter((r) => r.path === '/api/echo').map((r) => r.body)).toEqual(['{"n":1}', 'request body', '{"n":1}', 'request body']);
});

test("a response body is the text the app read with json() or text(), copied only before other reads or when never read; failed reads stay the app's own", async ({ page, collector }) => {
  const result = await runTwice(
    { page, collector },
    `
    // Counts capture's copies, each a clone() of the response, until the page closes (one taken in
    // capture's deferred work may come after the scenario); wrapped once, counted from 0 each run.
    if (!window.__clones) {
      const nativeClone = Response.prototype.clone;
      Response.prototype.clone = function () { window.__clones.count++; return nativeClone.apply(this, arguments); };
    }
    window.__clones = { count: 0 };
    const unhandled = [];
    let seen;
    const seenOne = new Promise((resolve) => (seen = resolve));
    const onUnhandled = (event) => {
      event.preventDefault();
      unhandled.push(event.reason.name);
      seen();
    };
    addEventListener('unhandledrejection', onUnhandled);
    const out = {};
    try {
      out.json = await (await fetch('/api/echo?read=json', { method: 'POST', body: 'j' })).json();
      out.text = await (await fetch('/api/text?read=text')).text();
      out.arrayBuffer = new Uint8Array(await (await fetch('/api/bin?read=arrayBuffer')).arrayBuffer()).length;
      out.blob = await (await (await fetch('/api/text?read=blob')).blob()).text();
      const reader = (await fetch('/api/text?read=stream')).body.getReader();
      out.stream = 0;
      for (let chunk; !(chunk = await reader.read()).done; ) out.stream += chunk.value.length;
      out.unread = (await fetch('/api/text?read=none')).status;
      try { await (await fetch('/api/text?read=bad-json')).json(); } catch (error) { out.badJson = error.name; }
      const twice = await fetch('/api/text?read=twice');
      await twice.text();
      try { await twice.text(); } catch (error) { out.twice = error.name; }
      // A read that fails, never awaited nor caught: the page hears of it, as without capture.
      (await fetch('/api/broken?read=unhandled')).text();
      await Promise.race([seenOne, new Promise((resolve) => setTimeout(resolve, 5000))]); // a guard, not a wait
      out.unhandled = unhandled;
    } finally {
      removeEventListener('unhandledrejection', onUnhandled);
    }
    return out;
  `,
  );
  expect(result).toEqual({
    json: { method: 'POST', body: 'j', authorization: false, apiKey: false },
    text: 'hello, text',
    arrayBuffer: 256,
    blob: 'hello, text',
    stream: 11,
    unread: 200,
    badJson: 'SyntaxError',
    twice: 'TypeError',
    unhandled: ['TypeError'],
  });
  await waitForEvents(collector, 9);
  const bodyOf = (read: string) => events(collector).find((e) => e.request.uri.endsWith(`read=${read}`))!.response;
  expect(bodyOf('json').body).toEqual({ method: 'POST', body: 'j', authorization: false, apiKey: false });
  expect(bodyOf('arrayBuffer')).toMatchObject({ body: Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64'), transfer_encoding: 'base64' });
  for (const read of ['text', 'blob', 'stream', 'none', 'bad-json', 'twice']) expect(bodyOf(read).body, read).toBe('hello, text');
  // The failed read: the call is recorded, without a body.
  expect(bodyOf('unhandled')).toMatchObject({ status: 200 });
  expect(bodyOf('unhandled').body).toBeUndefined();
  // Copies: one before each read other than text() and json() (arrayBuffer, blob, the stream), and one of the body never read.
  expect(await page.evaluate(() => (window as unknown as { __clones: { count: number } }).__clones.count)).toBe(4);
});

test('a call belongs to whoever made it, though the app calls reset() or identifyUser() as soon as it returns', async ({ page, collector }) => {
  await open({ page, collector }, '');
  const ids = await page.evaluate(async () => {
    const { moesif } = window as unknown as { moesif: { start(): void; reset(): void; identifyUser(id: string): void; getAnonymousId(): string } };
    moesif.start();
    const visitor = moesif.getAnonymousId();
    await (await fetch('/api/text?by=visitor')).text();
    moesif.identifyUser('user-1');
    await (await fetch('/api/text?by=user-1')).text();
    moesif.reset();
    return { visitor, next: moesif.getAnonymousId() };
  });
  await waitForEvents(collector, 2);
  const by = (who: string) => events(collector).find((e) => e.request.uri.endsWith(`by=${who}`)) as Event & { user_id?: string };
  expect(by('visitor')).toMatchObject({ anonymous_id: ids.visitor });
  expect(by('visitor').user_id).toBeUndefined();
  expect(by('user-1')).toMatchObject({ user_id: 'user-1' });
  expect(JSON.stringify(events(collector))).not.toContain(ids.next);
});

test('headers given as a one-shot iterator (a generator) reach the server as they would without capture', async ({ page, collector }) => {
  const result = (await runTwice(
    { page, collector },
    `
    function* headers() { yield ['Authorization', 'Bearer gen-secret']; yield ['X-Trace', 'generator']; }
    const a = await fetch('/api/echo?via=generator', { method: 'POST', headers: headers(), body: 'g' });
    // Iterables that make a new iterator each time are still read: a Map and an array.
    const b = await fetch('/api/echo?via=map', { method: 'POST', headers: new Map([['X-Trace', 'map']]), body: 'm' });
    const pairs = [['X-Trace', 'array']];
    const c = await fetch('/api/echo?via=array', { method: 'POST', headers: pairs, body: 'a' });
    // Changed once the call is sent: the event keeps what was sent.
    pairs[0][1] = 'changed';
    pairs.push(['X-Late', 'late']);
    return [await a.json(), await b.json(), await c.json()];
  `,
  )) as unknown[];
  expect(result[0]).toEqual({ method: 'POST', body: 'g', authorization: true, apiKey: false });
  const sent = (via: string) => collector.api.filter((r) => r.path === '/api/echo' && r.body === via).map((r) => [r.headers.authorization, r.headers['x-trace']]);
  expect(sent('g')).toEqual(Array(2).fill(['Bearer gen-secret', 'generator']));
  expect(sent('m')).toEqual(Array(2).fill([undefined, 'map']));
  expect(sent('a')).toEqual(Array(2).fill([undefined, 'array']));
  await waitForEvents(collector, 3);
  const headersOf = (via: string) => events(collector).find((e) => e.request.uri.endsWith('via=' + via))!.request.headers;
  // A generator can be read once, and that read is fetch's: the call is logged without its headers.
  expect(headersOf('generator')).not.toHaveProperty('x-trace');
  expect(headersOf('map')).toMatchObject({ 'x-trace': 'map' });
  // Pairs are named as a Headers names them (as moesif-browser-js records a fetch's), and read as sent.
  expect(headersOf('array')).toMatchObject({ 'x-trace': 'array' });
  expect(headersOf('array')).not.toHaveProperty('x-late');
});

test('a ReadableStream request body is passed through untouched and logged without its body', async ({ page, collector }) => {
  const result = await runTwice(
    { page, collector },
    `
    let pulled = 0;
    const stream = new ReadableStream({ pull(c) { pulled++; c.enqueue(new TextEncoder().encode('streamed')); c.close(); } });
    try {
      const res = await fetch('/api/echo?via=stream', { method: 'POST', body: stream, duplex: 'half' });
      return [seen(res), await res.json(), stream.locked];
    } catch (error) {
      return [failure(error), stream.locked, pulled];
    }
  `,
  );
  // Chromium streams uploads over HTTP/2 only: on this HTTP/1.1 server the call fails, the same way
  // with capture as without (compared by runTwice), and the stream went to fetch, not to us.
  expect(result).toEqual([{ rejected: 'TypeError' }, true, expect.any(Number)]);
  await expect.poll(() => eventsFor(collector, '/api/echo').length).toBe(1);
  const [event] = eventsFor(collector, '/api/echo');
  expect(event.request.verb).toBe('POST');
  expect(event.request.body).toBeUndefined();
  expect(event.response.status).toBe(0);
  expect(event.metadata?.error).toMatch(/TypeError/);
});

test('a server-sent event stream keeps delivering while captured, and is logged without waiting for its end', async ({ page, collector }) => {
  test.setTimeout(60_000);
  const result = (await runTwice(
    { page, collector },
    `
    const res = await fetch('/api/sse');
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    return [seen(res), text.match(/data: \\d+/g)];
  `,
  )) as [unknown, string[]];
  expect(result[1]).toEqual(Array.from({ length: 30 }, (_, i) => `data: ${i + 1}`));
  const [event] = eventsFor(collector, '/api/sse');
  expect(event.response.status).toBe(200);
  expect(event.response.headers['content-type']).toBe('text/event-stream');
  expect(event.response.body).toBeUndefined();
  // The event was taken when the headers came, long before the stream's end, 3 s later.
  expect(Date.parse(event.response.time) - Date.parse(event.request.time)).toBeLessThan(1000);
});

test('XMLHttpRequest with text, json, blob and arraybuffer responses: same handler calls, bodies captured without InvalidStateError', async ({ page, collector }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await runTwice(
    { page, collector },
    `
    return [
      await __xhr('/api/text', ''),
      await __xhr('/api/echo?type=text', 'text', 'posted text'),
      await __xhr('/api/echo?type=json', 'json', JSON.stringify({ posted: true })),
      await __xhr('/api/bin', 'blob'),
      await __xhr('/api/bin', 'arraybuffer'),
    ];
  `,
  );
  expect(errors).toEqual([]);
  await waitForEvents(collector, 5);
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64');

  const [text] = eventsFor(collector, '/api/text');
  expect(text.request.verb).toBe('GET');
  // Names as the app set them, as moesif-browser-js sends them; the browser's User-Agent added.
  expect(text.request.headers).toEqual({ Authorization: '*****', 'X-Trace': 'trace-1', 'User-Agent': await page.evaluate(() => navigator.userAgent) });
  expect(text.response).toMatchObject({ status: 200, body: 'hello, text' });
  expect(text.response.headers['content-type']).toBe('text/plain; charset=utf-8');

  const echoes = eventsFor(collector, '/api/echo');
  const json = echoes.find((e) => e.request.uri.endsWith('json'))!;
  expect(json.request).toMatchObject({ verb: 'POST', body: { posted: true } });
  expect(json.response.body).toMatchObject({ method: 'POST', body: '{"posted":true}', authorization: true });
  expect(collector.api.filter((r) => r.path === '/api/echo').every((r) => r.headers.authorization === 'Bearer xhr-secret')).toBe(true);
  const textPost = echoes.find((e) => e.request.uri.endsWith('type=text'))!;
  expect(textPost.request.body).toBe('posted text');

  const binary = eventsFor(collector, '/api/bin');
  expect(binary).toHaveLength(2);
  for (const event of binary) expect(event.response).toMatchObject({ body: bytes, transfer_encoding: 'base64' });
  expect(JSON.stringify(events(collector))).not.toContain('xhr-secret');
});

test("an XMLHttpRequest whose 'json' response is not JSON is recorded without a body, not as the JSON null", async ({ page, collector }) => {
  const result = await runTwice({ page, collector }, `return [await __xhr('/api/text?as=json', 'json'), await __xhr('/api/echo?as=json', 'json')];`);
  // The browser gives the app null for text that does not parse; the text itself is out of reach.
  expect(result).toMatchObject([{ status: 200, response: null }, { status: 200, response: { method: 'GET' } }]);
  await waitForEvents(collector, 2);
  const [text] = eventsFor(collector, '/api/text');
  expect(text.response.status).toBe(200);
  expect(text.response).not.toHaveProperty('body');
  const [echo] = eventsFor(collector, '/api/echo');
  expect(echo.response.body).toMatchObject({ method: 'GET' });
});

test('one XMLHttpRequest reused for many calls: each is captured once, and listeners do not pile up', async ({ page, collector }) => {
  await open(
    { page, collector },
    `
    moesif.start();
    const xhr = (window.reused = new XMLHttpRequest());
    const seen = [];
    for (let i = 0; i < 60; i++) {
      // The next call opens in a microtask of the app's loadend handler, which runs before our listener.
      await new Promise((resolve) => {
        xhr.open('GET', '/api/text?i=' + i);
        xhr.onloadend = resolve;
        xhr.send();
        // Every tenth call aborted: its loadend comes at once, inside abort().
        if (i % 10 == 9) xhr.abort();
      });
      seen.push(xhr.status + ' ' + xhr.responseText);
    }
    return seen;
  `,
  );
  const seen = await page.evaluate(() => (window as unknown as { scenario(): Promise<string[]> }).scenario());
  expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => (i % 10 == 9 ? '0 ' : '200 hello, text')));
  // The listeners on the object, as DevTools lists them: ours once per type, whatever the number of calls.
  const cdp = await page.context().newCDPSession(page);
  const { result } = await cdp.send('Runtime.evaluate', { expression: 'window.reused' });
  const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: result.objectId! });
  expect(listeners.map((l) => l.type).sort()).toEqual(['abort', 'error', 'loadend', 'loadend', 'timeout']); // a loadend is the app's onloadend
  await waitForEvents(collector, 60);
  await collector.settled(page);
  const captured = events(collector).map((e) => [new URL(e.request.uri).search, e.response.status, e.response.body ?? null, e.metadata ?? null]);
  expect(captured.sort()).toEqual(
    Array.from({ length: 60 }, (_, i) => (i % 10 == 9 ? [`?i=${i}`, 0, null, { error: 'abort' }] : [`?i=${i}`, 200, 'hello, text', null])).sort(),
  );
});

test('XMLHttpRequest: each call keeps its own response headers when the object is reopened or aborted after it ended', async ({ page, collector }) => {
  // Capture reads a call's response headers when it builds the event, later; open() and abort() drop them before that.
  await open(
    { page, collector },
    `
    moesif.start();
    const xhr = new XMLHttpRequest();
    for (let i = 0; i < 6; i++) {
      // Each call opens the next at once, from its loadend.
      await new Promise((resolve) => {
        xhr.open('GET', (i % 2 ? '/api/echo' : '/api/text') + '?i=' + i);
        xhr.onloadend = resolve;
        xhr.send();
      });
      if (i % 3 == 2) xhr.abort();
    }
    return xhr.getAllResponseHeaders();
  `,
  );
  // The last call was aborted after it ended: the page sees no headers left.
  expect(await page.evaluate(() => (window as unknown as { scenario(): Promise<string> }).scenario())).toBe('');
  await waitForEvents(collector, 6);
  await collector.settled(page);
  const captured = events(collector).map((e) => [new URL(e.request.uri).search, e.response.headers['content-type'], e.response.headers['x-echo'] ?? null]);
  expect(captured.sort()).toEqual(
    Array.from({ length: 6 }, (_, i) => (i % 2 ? [`?i=${i}`, 'application/json', 'yes'] : [`?i=${i}`, 'text/plain; charset=utf-8', null])),
  );
});

test('a synchronous XMLHttpRequest is captured', async ({ page, collector }) => {
  const seen = await runTwice(
    { page, collector },
    `
    const xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/echo?sync', false);
    xhr.send();
    return [xhr.status, xhr.getResponseHeader('x-echo')];
  `,
  );
  expect(seen).toEqual([200, 'yes']);
  await waitForEvents(collector, 1);
  const [event] = eventsFor(collector, '/api/echo');
  expect([event.response.status, event.response.headers['x-echo'], (event.response.body as { method: string }).method]).toEqual([200, 'yes', 'GET']);
});

test('relative URLs are logged as the browser resolves them, against the <base href> of when the call was made', async ({ page, collector }) => {
  collector.page('/app/page', umdPage(`${init()} ${HELPERS} moesif.start();`, '<base href="/api/">'));
  await page.goto(collector.url + '/app/page');
  const seen = await page.evaluate(async () => {
    const xhr = (window as unknown as { __xhr(url: string, type: string): Promise<{ response: string }> }).__xhr;
    const responses = [await (await fetch('text?via=fetch')).text(), (await xhr('text?via=xhr', '')).response];
    // At once, before capture builds the events (off the call path, later): they keep the base of their calls.
    document.querySelector('base')!.href = '/elsewhere/';
    return responses;
  });
  expect(seen).toEqual(['hello, text', 'hello, text']);
  await waitForEvents(collector, 2);
  expect(events(collector).map((e) => e.request.uri).sort()).toEqual([`${collector.url}/api/text?via=fetch`, `${collector.url}/api/text?via=xhr`]);
});

test('requests opened before start() are left alone', async ({ page, collector }) => {
  await open({ page, collector }, `
    const req = new XMLHttpRequest();
    req.open('GET', '/api/text?opened=before');
    moesif.start();
    await new Promise((resolve) => { req.onloadend = resolve; req.send(); });
    await fetch('/api/text?after=start');
    return req.responseText;
  `);
  expect(await page.evaluate(() => (window as unknown as { scenario(): Promise<unknown> }).scenario())).toBe('hello, text');
  await waitForEvents(collector, 1);
  await collector.settled(page);
  expect(events(collector).map((e) => new URL(e.request.uri).search)).toEqual(['?after=start']);
});

test('a failed request (connection closed), an aborted one and one timed out are recorded with status 0, and the app gets the same errors', async ({ page, collector }) => {
  const result = await runTwice(
    { page, collector },
    `
    const out = [];
    try { await fetch('/api/close'); } catch (error) { out.push(failure(error)); }
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100); // the app gives up on a slow call: time is the scenario
    try { await fetch('/api/slow?fetch', { signal: controller.signal }); } catch (error) { out.push(failure(error)); }
    out.push(await __xhr('/api/close?xhr', ''));
    out.push(await new Promise((resolve) => {
      const req = new XMLHttpRequest();
      const calls = [];
      req.open('GET', '/api/slow?xhr');
      req.onabort = () => calls.push('onabort');
      req.addEventListener('loadend', () => resolve([...calls, 'loadend', req.status]));
      req.send();
      setTimeout(() => req.abort(), 100); // as above
    }));
    // With a timeout: one that passes (the app's ontimeout fires: /api/slow answers after 3 s), one that
    // does not (the connection closes first: 10 s leaves a busy machine's close time to come).
    for (const [url, timeout] of [['/api/slow?timeout', 300], ['/api/close?timeout', 10000]]) {
      out.push(await new Promise((resolve) => {
        const req = new XMLHttpRequest();
        req.open('GET', url);
        req.timeout = timeout;
        req.ontimeout = () => resolve('ontimeout');
        req.onerror = () => resolve('onerror');
        req.send();
      }));
    }
    return out;
  `,
  );
  expect(result).toEqual([
    { rejected: 'TypeError' },
    { rejected: 'AbortError' },
    expect.objectContaining({ status: 0, calls: ['readystate 4', 'error listener', 'loadend listener'] }),
    ['onabort', 'loadend', 0],
    'ontimeout',
    'onerror',
  ]);
  await waitForEvents(collector, 6);
  const failed = Object.fromEntries(events(collector).map((e) => [new URL(e.request.uri).pathname + new URL(e.request.uri).search, e]));
  expect(failed['/api/close'].response.status).toBe(0);
  expect(failed['/api/close'].metadata?.error).toMatch(/TypeError/);
  expect(failed['/api/slow?fetch'].metadata?.error).toMatch(/AbortError/);
  // As moesif names them, after the event the browser fired.
  const xhrCalls = ['/api/close?xhr', '/api/slow?xhr', '/api/slow?timeout', '/api/close?timeout'];
  expect(xhrCalls.map((call) => [call, failed[call].response.status, failed[call].metadata?.error])).toEqual([
    ['/api/close?xhr', 0, 'error'],
    ['/api/slow?xhr', 0, 'abort'],
    ['/api/slow?timeout', 0, 'timeout'],
    ['/api/close?timeout', 0, 'error'],
  ]);
});

test('skip, maskContent, getMetadata, getTags and getApiVersion each change the event, in that order', async ({ page, collector }) => {
  await open(
    { page, collector },
    `
    await fetch('/api/text?skip=me');
    await fetch('/api/echo', { method: 'POST', body: 'card 4242' });
  `,
    `,
    skip: (event) => event.request.uri.includes('skip=me'),
    maskContent: (event) => ({ ...event, request: { ...event.request, body: String(event.request.body).replace(/\\d/g, '#') } }),
    getMetadata: (event) => ({ masked: event.request.body, status: event.response.status }),
    getTags: (event) => 'api,' + (event.metadata && event.metadata.masked ? 'masked-first' : 'unmasked'),
    getApiVersion: (event) => event.tags && '2.' + event.tags.split(',').length,
    apiVersion: '1.0'`,
  );
  await page.evaluate(() => {
    const w = window as unknown as { moesif: { start(): void }; scenario(): Promise<unknown> };
    w.moesif.start();
    return w.scenario();
  });
  await waitForEvents(collector, 1);
  await collector.settled(page);
  expect(events(collector)).toHaveLength(1);
  const [event] = events(collector);
  expect(event.request.body).toBe('card ####');
  expect(event.metadata).toEqual({ masked: 'card ####', status: 200 });
  expect(event.tags).toBe('api,masked-first');
  expect(event.request.api_version).toBe('2.2');
});

test('a hook that throws is reported once and the event is kept with defaults', async ({ page, collector }) => {
  const warnings: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'warning') warnings.push(message.text());
  });
  await open(
    { page, collector },
    `for (let i = 0; i < 3; i++) await fetch('/api/text?i=' + i);`,
    `, getMetadata: () => { throw new Error('boom'); }, getTags: () => 'still-tagged', apiVersion: '1.0'`,
  );
  await page.evaluate(() => {
    const w = window as unknown as { moesif: { start(): void }; scenario(): Promise<unknown> };
    w.moesif.start();
    return w.scenario();
  });
  await waitForEvents(collector, 3);
  for (const event of events(collector)) {
    expect(event.metadata).toBeUndefined();
    expect(event.tags).toBe('still-tagged');
    expect(event.request.api_version).toBe('1.0');
    expect(event.response.body).toBe('hello, text');
  }
  expect(warnings.filter((w) => w.includes('getMetadata'))).toHaveLength(1);
});

test('stop() restores fetch and XMLHttpRequest, leaves a wrapper installed after ours in place, and start/stop never stacks', async ({ page, collector }) => {
  await open({ page, collector }, '');
  const result = await page.evaluate(async () => {
    const w = window as unknown as { moesif: { start(): void; stop(): void }; fetch: typeof fetch };
    const nativeFetch = w.fetch;
    const nativeOpen = XMLHttpRequest.prototype.open;
    // Capture's reads of response bodies (see `bodies` in src/capture/index.ts).
    const reads = ['text', 'json', 'arrayBuffer', 'blob', 'bytes', 'formData'] as const;
    const nativeReads = reads.map((name) => Response.prototype[name]);
    const nativeBody = Object.getOwnPropertyDescriptor(Response.prototype, 'body')!.get;
    const readsAre = (expected: unknown[]) => reads.every((name, i) => Response.prototype[name] === expected[i]);
    const out: Record<string, unknown> = {};
    w.moesif.start();
    w.moesif.start();
    out.patched = w.fetch !== nativeFetch && XMLHttpRequest.prototype.open !== nativeOpen && reads.every((name, i) => Response.prototype[name] !== nativeReads[i]);
    w.moesif.stop();
    w.moesif.stop();
    out.restored =
      w.fetch === nativeFetch &&
      XMLHttpRequest.prototype.open === nativeOpen &&
      readsAre(nativeReads) &&
      Object.getOwnPropertyDescriptor(Response.prototype, 'body')!.get === nativeBody;
    await fetch('/api/text?stopped=1');

    // Another library wraps fetch after us.
    w.moesif.start();
    const ours = w.fetch;
    let theirCalls = 0;
    const theirs = function (this: unknown, ...args: Parameters<typeof fetch>) {
      theirCalls++;
      return ours.apply(this, args);
    };
    w.fetch = theirs;
    await fetch('/api/text?wrapped=captured');
    w.moesif.stop();
    out.theirsKept = w.fetch === theirs;
    const res = await fetch('/api/text?wrapped=stopped');
    out.stillWorks = await res.text();
    // Started again: our wrapper, still inside theirs, captures again; nothing stacks.
    w.moesif.start();
    out.noNewLayer = w.fetch === theirs;
    await fetch('/api/text?wrapped=restarted');
    out.theirCalls = theirCalls;
    w.moesif.stop();
    return out;
  });
  expect(result).toEqual({ patched: true, restored: true, theirsKept: true, stillWorks: 'hello, text', noNewLayer: true, theirCalls: 3 });
  await waitForEvents(collector, 2);
  await collector.settled(page);
  expect(events(collector).map((e) => new URL(e.request.uri).search)).toEqual(['?wrapped=captured', '?wrapped=restarted']);
});

test('two SDK instances capture side by side and put everything back when stopped', async ({ page, collector }) => {
  await open({ page, collector }, '');
  const result = await page.evaluate(async () => {
    type M = { start(): void; stop(): void; init(o: object): void; new: () => M };
    const w = window as unknown as { moesif: M };
    const nativeFetch = fetch;
    const other = w.moesif.new();
    other.init({ applicationId: 'other', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 100 });
    w.moesif.start();
    other.start();
    // Read by the app as most apps do: each instance records the body, though only one read happens.
    await (await fetch('/api/text?both')).text();
    await (await fetch('/api/echo?both', { method: 'POST', body: 'b' })).json();
    other.stop();
    w.moesif.stop();
    const restored = window.fetch === nativeFetch;
    await fetch('/api/text?none');
    return restored;
  });
  expect(result).toBe(true);
  await expect.poll(() => events(collector).length).toBe(4);
  await collector.settled(page);
  expect(events(collector).map((e) => new URL(e.request.uri).search)).toEqual(['?both', '?both', '?both', '?both']);
  expect(eventsFor(collector, '/api/text').map((e) => e.response.body)).toEqual(['hello, text', 'hello, text']);
  expect(eventsFor(collector, '/api/echo').map((e) => e.response.body)).toEqual(Array(2).fill({ method: 'POST', body: 'b', authorization: false, apiKey: false }));
  const appIds = collector.received.filter((r) => r.path === '/v1/events/batch').map((r) => r.headers['x-moesif-application-id']);
  expect(new Set(appIds)).toEqual(new Set(['app', 'other']));
});

test("the collector's own requests are never captured", async ({ page, collector }) => {
  // The pause between calls lets the SDK send its batches while capture is on (time is the scenario).
  await open({ page, collector }, `moesif.start(); for (let i = 0; i < 5; i++) { moesif.track('t' + i); await fetch('/api/text?i=' + i); await new Promise((r) => setTimeout(r, 150)); } await moesif.flush();`);
  await page.evaluate(() => (window as unknown as { scenario(): Promise<unknown> }).scenario());
  await waitForEvents(collector, 5);
  await collector.settled(page);
  expect(collector.received.filter((r) => r.path.startsWith('/v1/')).length).toBeGreaterThan(2);
  expect(events(collector).map((e) => new URL(e.request.uri).pathname)).toEqual(Array(5).fill('/api/text'));
});

test('a 5 MB response reaches the app whole and is logged capped at maxBodyBytes, marked truncated', async ({ page, collector }) => {
  const result = await runTwice(
    { page, collector },
    `
    const res = await fetch('/api/big');
    const text = await res.text();
    const x = await __xhr('/api/big', 'text');
    return [text.length, text.slice(-10), x.response.length];
  `,
  );
  expect(result).toEqual([5_000_000, '0123456789', 5_000_000]);
  await waitForEvents(collector, 2);
  for (const event of eventsFor(collector, '/api/big')) {
    expect(event.response.body).toBe('0123456789'.repeat(6553) + '012345');
    expect(event.metadata).toEqual({ truncated: ['response'] });
  }
});

test('disableFetch leaves fetch alone and still captures XMLHttpRequest; sampleRate 0 captures nothing', async ({ page, collector }) => {
  await open({ page, collector }, `moesif.start(); await fetch('/api/text?f'); await __xhr('/api/text?x', ''); return window.fetch === window.nativeFetch;`, ', disableFetch: true');
  await page.evaluate(() => ((window as unknown as { nativeFetch: unknown }).nativeFetch = window.fetch));
  expect(await page.evaluate(() => (window as unknown as { scenario(): Promise<unknown> }).scenario())).toBe(true);
  await waitForEvents(collector, 1);
  await collector.settled(page);
  expect(events(collector).map((e) => new URL(e.request.uri).search)).toEqual(['?x']);

  await open({ page, collector }, `moesif.start(); await fetch('/api/text?sampled'); await __xhr('/api/text?sampled', ''); await moesif.flush();`, ', sampleRate: 0');
  await page.evaluate(() => (window as unknown as { scenario(): Promise<unknown> }).scenario());
  await collector.settled(page);
  expect(events(collector).filter((e) => e.request.uri.includes('sampled'))).toEqual([]);
});

test('calls that end just before the page is left still reach the collector', async ({ page, collector }) => {
  // A long batch wait: nothing leaves on a timer, only with the page's close (or from the outbox, on the next page).
  const next = `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 100 });`;
  collector.page('/next', umdPage(next));
  await open(
    { page, collector },
    `
    moesif.start();
    const x = await __xhr('/api/text?leaving=xhr', '');
    const res = await fetch('/api/echo?leaving=fetch', { method: 'POST', body: 'bye' });
    await res.json();
    location.href = '/next';
  `,
    ', batchMaxTime: 60000',
  );
  await page.evaluate(() => void (window as unknown as { scenario(): Promise<unknown> }).scenario());
  await page.waitForURL('**/next');
  // Counted by transaction id: an item sent as the page closed may be sent again by the next page (at least once).
  const unique = () => [...new Map(events(collector).map((e) => [e.transaction_id, new URL(e.request.uri).search])).values()].sort();
  await expect.poll(unique).toEqual(['?leaving=fetch', '?leaving=xhr']);
  const [fetched] = eventsFor(collector, '/api/echo');
  expect(fetched.request.body).toBe('bye');
  // Its response body is recorded if capture had read its copy when the page went; if not, the event says so.
  if (fetched.response.body === undefined) expect(fetched.metadata).toEqual({ truncated: ['response'] });
  else expect(fetched.response.body).toMatchObject({ body: 'bye' });
});
