import { createServer } from 'node:http';
import { join, normalize } from 'node:path';
import type { Page } from '@playwright/test';
import { build } from 'esbuild';
import { APP_CALLS } from './support/app-calls';
import { expect, test, type PageAndCollector } from './support/fixtures';
import { listenLocally } from './support/listen';
import type { SpanSummary } from './support/otel-web';
import { problemsOf } from './support/page-problems';
import type { Recorder } from './support/recorder';

/**
 * Capture beside OpenTelemetry's web tracing (sdk-trace-web 2.12.0 with instrumentation-fetch and
 * instrumentation-xml-http-request 0.223.0, bundled by esbuild as an app bundles them: see
 * support/otel-web.ts), which wraps fetch and XMLHttpRequest too, adds a `traceparent` header to calls to
 * the page's own origin, and reads a clone of every fetch response to its end. In both set-up orders the app
 * gets what it gets without either, OpenTelemetry makes the spans it makes alone, and capture records each
 * call once as it does alone, with the traceparent as far as capture sees it; either can be turned off
 * (stop(), disable(), shimmer's unwrap) without breaking the other; and OpenTelemetry's own exports are
 * never recorded.
 */

const ROOT = normalize(join(import.meta.dirname, '..'));

/** support/otel-web.ts as the page's global `otel`: a bundle made once, in beforeAll. */
let otelBundle: string;
test.beforeAll(async () => {
  const { outputFiles } = await build({ entryPoints: [join(ROOT, 'e2e/support/otel-web.ts')], bundle: true, format: 'iife', platform: 'browser', write: false, logLevel: 'silent' });
  otelBundle = outputFiles[0].text;
});

/** Which SDKs the page runs, in the order it sets them up. */
type Setup = 'OTel alone' | 'usertrail alone' | 'OTel, then usertrail' | 'usertrail, then OTel';
const BOTH_ORDERS = [
  ['OpenTelemetry registered before moesif.init() and start()', 'OTel, then usertrail'],
  ['OpenTelemetry registered after moesif.init() and start()', 'usertrail, then OTel'],
] as const;

const USERTRAIL_INIT = `moesif.init({ applicationId: 'app', host: '127.0.0.1:' + location.port, batchMaxTime: 100 }); moesif.start();`;

/** Serves an app page whose head sets up the SDKs of `setup` in its order (OpenTelemetry with `otelSetUp`'s argument), then `body`. */
function serveApp(collector: Recorder, setup: Setup, body = '', otelSetUp = ''): void {
  const scripts = {
    otel: `<script src="/otel.js"></script><script>otel.setUp(${otelSetUp})</script>`,
    usertrail: `<script src="/dist/moesif.min.js"></script><script>${USERTRAIL_INIT}</script>`,
  };
  const head = setup.split(/, then | alone/).filter(Boolean).map((name) => scripts[name.toLowerCase() as keyof typeof scripts]);
  collector.page('/otel.js', otelBundle, { contentType: 'text/javascript' });
  collector.page('/app', `<!doctype html><html><head><title>app</title>${head.join('')}</head><body><script>${body}</script></body></html>`);
}

/** OpenTelemetry's spans ended so far in `page`. */
const spansIn = (page: Page): Promise<SpanSummary[]> => page.evaluate(() => (window as unknown as { otel: { spans(): SpanSummary[] } }).otel.spans());

/**
 * The app's calls, by fetch and by XMLHttpRequest: a GET of JSON, a POST of JSON (by fetch, with an init
 * and with a Request), a 500, a network error (the server closes the connection), a call the app aborts at
 * once, and a 5 MB answer the app reads whole (with text(), and through its body's reader: capture's
 * copy, OpenTelemetry's clone and the app's body are three branches of one). `scenario()` gives what the
 * app got of each, an XMLHttpRequest's events included.
 */
const SCENARIO = `${APP_CALLS}
  // A new object for each call: OpenTelemetry's fetch wrapper puts a Headers of its own (with its
  // traceparent) in the init the app gives, where a second call reusing it would find it.
  const json = () => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Ada' }) });
  window.scenario = () => {
    const aborted = new AbortController();
    const started = {
      fetchGet: viaFetch('/api/echo?fetch-get'),
      fetchPost: viaFetch('/api/echo?fetch-post', json()),
      fetchRequest: viaFetch(new Request('/api/echo?fetch-request', json())),
      fetch500: viaFetch('/api/echo?status=500&fetch-500'),
      fetchNetworkError: viaFetch('/api/close?fetch-network-error'),
      fetchAborted: viaFetch('/api/slow?fetch-aborted', { signal: aborted.signal }),
      fetchBig: fetch('/api/big?fetch-big').then((response) => response.text()).then((text) => text.length),
      fetchBigByReader: fetch('/api/big?fetch-big-by-reader').then(async (response) => {
        let bytes = 0;
        for (const reader = response.body.getReader(); ; ) {
          const { done, value } = await reader.read();
          if (done) return bytes;
          bytes += value.byteLength;
        }
      }),
      xhrGet: viaXhr('/api/echo?xhr-get', { responseType: 'json' }),
      xhrPost: viaXhr('/api/echo?xhr-post', json()),
      xhr500: viaXhr('/api/echo?status=500&xhr-500'),
      xhrNetworkError: viaXhr('/api/close?xhr-network-error'),
      xhrAborted: viaXhr('/api/slow?xhr-aborted', { abort: true }),
    };
    aborted.abort();
    return Promise.all(Object.entries(started).map(async ([name, call]) => [name, await call])).then(Object.fromEntries);
  };
`;

/** The tag of each call the scenario makes: its URL's query. */
const CALLS = ['?fetch-get', '?fetch-post', '?fetch-request', '?status=500&fetch-500', '?fetch-network-error', '?fetch-aborted', '?fetch-big', '?fetch-big-by-reader', '?xhr-get', '?xhr-post', '?status=500&xhr-500', '?xhr-network-error', '?xhr-aborted'];

type Event = {
  request: { uri: string; verb: string; headers: Record<string, string>; body?: unknown };
  response: { status: number; headers: Record<string, string>; body?: unknown };
  metadata?: Record<string, unknown>;
};
const tagOf = (uri: unknown): string => new URL(String(uri), 'http://x').search;
const eventsSince = (collector: Recorder, from: number) => (collector.items('events') as unknown as Event[]).slice(from);

/** Opens the app with `setup`, runs the scenario, and waits until every span and event of its calls has arrived. */
async function run({ page, collector }: PageAndCollector, setup: Setup) {
  serveApp(collector, setup, SCENARIO);
  const from = { api: collector.api.length, events: collector.items('events').length, received: collector.received.length };
  const report = problemsOf(page);
  await page.goto(collector.url + '/app');
  const seen = await page.evaluate(() => (window as unknown as { scenario(): Promise<Record<string, unknown>> }).scenario());
  if (setup != 'OTel alone') {
    await expect.poll(() => eventsSince(collector, from.events).length, { message: 'usertrail recorded every call' }).toBeGreaterThanOrEqual(CALLS.length);
    await collector.settled(page);
  }
  let spans: SpanSummary[] = [];
  // A span ends 300 ms after its call (OpenTelemetry waits for the call's resource timing).
  if (setup != 'usertrail alone') await expect.poll(async () => (spans = await spansIn(page)).filter((span) => String(span.url).includes('/api/')).length, { message: 'a span per call' }).toBe(CALLS.length);
  report.stop();
  expect(report.problems, setup).toEqual([]);
  const events = eventsSince(collector, from.events);
  expect(events.map((event) => tagOf(event.request.uri)).sort(), `${setup}: one event per call`).toEqual(setup == 'OTel alone' ? [] : [...CALLS].sort());
  return {
    seen,
    /** The headers each call arrived with at the server, by tag (a call aborted at once may not arrive). */
    arrived: Object.fromEntries(collector.api.slice(from.api).map((request) => [request.search, request.headers])),
    events: Object.fromEntries(events.map((event) => [tagOf(event.request.uri), event])),
    /** Our SDK's requests to its collector, with the traceparent they came with. */
    batches: collector.received.slice(from.received).map((request) => ({ path: request.path, traceparent: request.headers.traceparent })),
    /** The spans of the app's calls, by URL. */
    appSpans: spans.filter((span) => String(span.url).includes('/api/')).sort((a, b) => String(a.url).localeCompare(String(b.url))),
    collectorSpans: spans.filter((span) => String(span.url).includes('/v1/')),
  };
}

/** An event as the comparisons read it: what was sent and got, but its times and the browser's User-Agent and Date. */
const asCompared = ({ request, response, metadata }: Event) => {
  const { 'user-agent': userAgent, ...requestHeaders } = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]));
  const { date, ...responseHeaders } = response.headers;
  return { uri: request.uri, verb: request.verb, requestHeaders, requestBody: request.body, status: response.status, responseHeaders, responseBody: response.body, metadata };
};

for (const [order, setup] of BOTH_ORDERS) {
  test(`${order}: the app gets what it gets alone, OpenTelemetry makes the spans it makes alone, each call is recorded once as alone, with the traceparent sent`, async ({ page, collector }) => {
    const otelAlone = await run({ page, collector }, 'OTel alone');
    const usertrailAlone = await run({ page, collector }, 'usertrail alone');
    const both = await run({ page, collector }, setup);

    // 1. The app gets the same answers, errors and events; a body it reads is whole.
    expect(both.seen).toEqual(otelAlone.seen);
    expect(usertrailAlone.seen).toEqual(otelAlone.seen);
    expect(otelAlone.seen).toMatchObject({
      fetchGet: { status: 200, body: '{"method":"GET","body":"","authorization":false,"apiKey":false}' },
      fetchRequest: { status: 200, body: expect.stringContaining('"body":"{\\"name\\":\\"Ada\\"}"') },
      fetch500: { status: 500 },
      fetchNetworkError: { rejected: expect.stringMatching(/^TypeError: Failed to fetch/) },
      fetchAborted: { rejected: 'AbortError: signal is aborted without reason' },
      fetchBig: 5_000_000,
      fetchBigByReader: 5_000_000,
      xhrGet: { status: 200, response: { method: 'GET', body: '', authorization: false, apiKey: false } },
      xhrNetworkError: { status: 0, events: expect.arrayContaining(['error 4']) },
      xhrAborted: { status: 0, events: expect.arrayContaining(['abort 4']) },
    });

    // 2. OpenTelemetry makes one span per call, as alone: an error status for a 500 and for XMLHttpRequest's
    // network error (its fetch instrumentation leaves a failed fetch's unset, with status code 0).
    expect(both.appSpans).toEqual(otelAlone.appSpans);
    expect(Object.fromEntries(otelAlone.appSpans.map((span) => [tagOf(span.url), `${span.name} status ${span.status}, ${span.statusCode ?? '-'}`]))).toEqual({
      '?fetch-get': 'GET status 0, 200',
      '?fetch-post': 'POST status 0, 200',
      '?fetch-request': 'POST status 0, 200',
      '?status=500&fetch-500': 'GET status 2, 500',
      '?fetch-network-error': 'GET status 0, 0',
      '?fetch-aborted': 'GET status 0, 0',
      '?fetch-big': 'GET status 0, 200',
      '?fetch-big-by-reader': 'GET status 0, 200',
      '?xhr-get': 'GET status 0, 200',
      '?xhr-post': 'POST status 0, 200',
      '?status=500&xhr-500': 'GET status 2, 500',
      '?xhr-network-error': 'GET status 2, -',
      '?xhr-aborted': 'GET status 0, -',
    });

    // 3. Each call is recorded as alone, plus the traceparent OpenTelemetry sent, as far as capture sees it:
    // an XMLHttpRequest's always (set on the object until send() gives it to the browser); a fetch's when
    // OpenTelemetry's wrapper is outside capture's (registered after start()). Registered first, its
    // wrapper is inside and adds the header to the arguments of the browser's fetch, which capture never sees.
    for (const headers of Object.values(both.arrived)) expect(headers).toMatchObject({ traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/) });
    for (const tag of CALLS) {
      const alone = asCompared(usertrailAlone.events[tag]);
      const seesTraceparent = tag.includes('xhr') || setup == 'usertrail, then OTel';
      // As the server got it; for an aborted call, which may not have reached it, OpenTelemetry's all the same.
      const traceparent = both.arrived[tag]?.traceparent ?? expect.any(String);
      expect(asCompared(both.events[tag]), `${setup}: ${tag}`).toEqual({ ...alone, requestHeaders: { ...alone.requestHeaders, ...(seesTraceparent && { traceparent }) } });
    }

    // 4. Our SDK's requests to its collector go by the fetch there was at moesif.init(): OpenTelemetry's when
    // registered first, which makes a span of each and, the collector being on the page's origin here, adds
    // its traceparent (a collector on another origin gets it only when it is in propagateTraceHeaderCorsUrls,
    // and must then allow the header in its CORS preflight answer); else the browser's, unseen by OpenTelemetry.
    expect(both.batches.map((batch) => batch.path)).toContain('/v1/events/batch');
    if (setup == 'OTel, then usertrail') {
      for (const batch of both.batches) expect(batch.traceparent).toMatch(/^00-/);
      await expect.poll(async () => (await spansIn(page)).filter((span) => String(span.url).endsWith('/v1/events/batch')).length).toBe(both.batches.length);
    } else {
      expect(both.batches.map((batch) => batch.traceparent)).toEqual(both.batches.map(() => undefined));
      expect(both.collectorSpans).toEqual([]);
    }
  });
}

/**
 * Streams from a server of their own (a host apart from the page and the collector): /sse (server-sent
 * events) and /plain (text/plain), a chunk every 20 ms, 50 chunks, then the end. Each stream's count of
 * chunks written when its connection closed tells whether a client let it go before its end.
 */
async function startStreams() {
  const closedAfter: Record<string, number> = {};
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    res.writeHead(200, { 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-store', 'Content-Type': path == '/sse' ? 'text/event-stream' : 'text/plain' });
    let written = 0;
    const write = () => res.write(path == '/sse' ? `data: ${written++}\n\n` : `chunk ${written++}\n`);
    write();
    const timer = setInterval(() => (written < 50 ? write() : res.end()), 20);
    res.on('close', () => {
      clearInterval(timer);
      closedAfter[req.url ?? ''] = written;
    });
  });
  return { ...(await listenLocally(server)), closedAfter };
}

test('a stream the app cancels: the app reads the same; capture lets its copy go as alone, OpenTelemetry reads its clone to the end', async ({ page, collector }) => {
  const streams = await startStreams();
  try {
    const results: Record<string, { read: string[]; closedAfter: Record<string, number>; events: Record<string, Event> }> = {};
    for (const setup of ['usertrail alone', 'OTel alone', ...BOTH_ORDERS.map(([, setup]) => setup)] as const) {
      serveApp(collector, setup);
      const from = collector.items('events').length;
      await page.goto(collector.url + '/app');
      // Each stream read up to its first chunk, then cancelled, as a chat UI's stop button does.
      const tag = setup.replace(/\W+/g, '-');
      const read = await page.evaluate(async ({ base, tag }) => {
        const read = [];
        for (const path of ['/sse', '/plain']) {
          const reader = (await fetch(`${base}${path}?${tag}`)).body!.getReader();
          read.push(new TextDecoder().decode((await reader.read()).value));
          await reader.cancel();
        }
        return read;
      }, { base: streams.url, tag });
      const urls = ['/sse', '/plain'].map((path) => `${path}?${tag}`);
      await expect.poll(() => urls.filter((url) => url in streams.closedAfter).length, { message: `${setup}: both streams closed` }).toBe(2);
      const events: Record<string, Event> = {};
      if (setup != 'OTel alone') {
        await expect.poll(() => eventsSince(collector, from).filter((event) => event.request.uri.startsWith(streams.url)).length, { message: `${setup}: both streams recorded` }).toBe(2);
        for (const event of eventsSince(collector, from)) events[new URL(event.request.uri).pathname] = event;
      }
      results[setup] = { read, closedAfter: Object.fromEntries(urls.map((url) => [url.slice(1).split('?')[0], streams.closedAfter[url]])), events };
    }

    // The first chunk, or the first few when they came together.
    for (const { read } of Object.values(results)) expect(read).toEqual([expect.stringMatching(/^data: 0\n\n/), expect.stringMatching(/^chunk 0\n/)]);
    // Alone, capture lets both go with the app (an event stream it never copies; the other, its copy, once
    // it holds what the app read). OpenTelemetry's fetch instrumentation reads a clone of every response to
    // its end, to end its span: a stream the app cancels stays open until the server ends it, with or without
    // capture (and one that never ends, for as long as the page is open).
    expect(results['usertrail alone'].closedAfter.sse).toBeLessThan(50);
    expect(results['usertrail alone'].closedAfter.plain).toBeLessThan(50);
    for (const setup of ['OTel alone', 'OTel, then usertrail', 'usertrail, then OTel']) expect(results[setup].closedAfter, setup).toEqual({ sse: 50, plain: 50 });

    // Recorded: the event stream without its body, as alone. The other as far as the app read it, cut there,
    // when OpenTelemetry's wrapper is inside capture's. Outside it, OpenTelemetry clones the response after
    // capture began watching it: as with an app's own clone (ky's onDownloadProgress reads one), the
    // connection stays open, and the body is recorded as it came, here whole.
    const plainAsTheAppRead = (setup: string) => ({ body: results[setup].read[1], truncated: ['response'] });
    const recorded = (setup: string) => ({ sse: results[setup].events['/sse'].response.body, plain: { body: results[setup].events['/plain'].response.body, truncated: results[setup].events['/plain'].metadata?.truncated } });
    expect(recorded('usertrail alone')).toEqual({ sse: undefined, plain: plainAsTheAppRead('usertrail alone') });
    expect(recorded('OTel, then usertrail')).toEqual({ sse: undefined, plain: plainAsTheAppRead('OTel, then usertrail') });
    expect(recorded('usertrail, then OTel')).toEqual({ sse: undefined, plain: { body: Array.from({ length: 50 }, (_, i) => `chunk ${i}\n`).join(''), truncated: undefined } });
  } finally {
    await streams.close();
  }
});

/** One fetch and one XMLHttpRequest of the app's, each tagged `?tag` (the XMLHttpRequest's `?tag-xhr`), done when both are. */
const callBoth = (page: Page, tag: string) =>
  page.evaluate(async (tag) => {
    await (await fetch(`/api/echo?${tag}`)).text();
    await new Promise((done) => {
      const xhr = new XMLHttpRequest();
      xhr.open('GET', `/api/echo?${tag}-xhr`);
      xhr.onloadend = done;
      xhr.send();
    });
  }, tag);

for (const [order, setup] of BOTH_ORDERS) {
  test(`${order}: stop(), OpenTelemetry's disable() and shimmer's unwrap leave the other working, and each call is recorded once`, async ({ page, collector }) => {
    serveApp(collector, setup);
    const from = collector.items('events').length;
    const report = problemsOf(page);
    await page.goto(collector.url + '/app');
    // Each step, then a call by fetch and one by XMLHttpRequest, tagged with the step.
    const steps = {
      'both on': '',
      'moesif.stop()': 'moesif.stop()',
      'moesif.start() again': 'moesif.start()',
      // 0.223.0's disable() only turns its wrappers off: they stay in place and pass calls through.
      'otel.disable()': 'otel.disable()',
      'otel.enable()': 'otel.enable()',
      // What older releases' disable() did: OpenTelemetry's wrappers taken off by shimmer's unwrap.
      'unwrapped': 'otel.unwrap()',
      'then moesif.stop()': 'moesif.stop()',
      'then moesif.start()': 'moesif.start()',
    };
    const tags = Object.keys(steps).map((step) => step.replace(/\W+/g, '-').replace(/^-|-$/g, ''));
    for (const [i, script] of Object.values(steps).entries()) {
      if (script) await page.evaluate(script);
      await callBoth(page, tags[i]);
    }
    const both = (...stepTags: string[]) => stepTags.flatMap((tag) => [`?${tag}`, `?${tag}-xhr`]).sort();
    const recordedTags = both('both-on', 'moesif-start-again', 'otel-disable', 'otel-enable', 'unwrapped', 'then-moesif-start');
    await expect.poll(() => eventsSince(collector, from).length, { message: 'usertrail recorded the calls made while it was on' }).toBeGreaterThanOrEqual(recordedTags.length);
    await collector.settled(page);
    report.stop();
    // Shimmer's unwrap over capture's wrapper used to say "no original to unwrap to" on the console.
    expect(report.problems).toEqual([]);
    // Recorded once each while capture was on, whichever wrapper was in place, and OpenTelemetry's.
    expect(eventsSince(collector, from).map((event) => tagOf(event.request.uri)).sort()).toEqual(recordedTags);
    // Traced while OpenTelemetry's wrappers were on and in place: unwrapped, they are out, though
    // capture's wrapper was put on top of them (OpenTelemetry registered first) and stays.
    const started = await page.evaluate(() => (window as unknown as { otel: { started(): unknown[] } }).otel.started());
    expect(started.filter((url) => String(url).includes('/api/echo')).map(tagOf).sort()).toEqual(both('both-on', 'moesif-stop', 'moesif-start-again', 'otel-enable'));
  });
}

test('OpenTelemetry exporting by fetch or XMLHttpRequest: its exports are not recorded, in either order, and nothing loops', async ({ page, collector }) => {
  for (const [[, setup], exportBy] of BOTH_ORDERS.flatMap((order) => [[order, 'fetch'], [order, 'xhr']] as const)) {
    // As the OTLP/HTTP exporter for browsers posts to a collector's /v1/traces (here on the app's server).
    serveApp(collector, setup, '', `{ exportTo: '/api/echo?otlp-export', exportBy: '${exportBy}' }`);
    const from = { api: collector.api.length, events: collector.items('events').length };
    await page.goto(collector.url + '/app');
    await page.evaluate(() => fetch('/api/echo?app-call').then((response) => response.text()));
    const exported = () =>
      collector.api
        .slice(from.api)
        .filter((request) => request.search == '?otlp-export')
        .flatMap((request) => (JSON.parse(request.body) as Array<{ url: string }>).map((span) => new URL(span.url).pathname + new URL(span.url).search));
    await expect.poll(exported, { message: `${setup}, by ${exportBy}: the app's call exported` }).toContain('/api/echo?app-call');
    await expect.poll(() => eventsSince(collector, from.events).length, { message: `${setup}, by ${exportBy}: the app's call recorded` }).toBeGreaterThanOrEqual(1);
    if (setup == 'OTel, then usertrail') {
      // Our batch went by OpenTelemetry's fetch, which traced it: its span is exported in turn. Recorded,
      // each export would be in a batch of ours, traced and exported again, for as long as the page is open.
      await expect.poll(exported, { message: 'the span of our batch exported' }).toContain('/v1/events/batch');
    }
    await collector.settled(page);
    expect(eventsSince(collector, from.events).map((event) => tagOf(event.request.uri)), `${setup}, by ${exportBy}`).toEqual(['?app-call']);
  }
});

test("OpenTelemetry registered first, with the collector in its ignoreUrls (README): our batches are neither traced nor given a traceparent", async ({ page, collector }) => {
  serveApp(collector, 'OTel, then usertrail', '', `{ ignoreUrls: [/\\/v1\\//] }`);
  const from = { events: collector.items('events').length, received: collector.received.length };
  await page.goto(collector.url + '/app');
  await callBoth(page, 'app-call');
  await expect.poll(() => eventsSince(collector, from.events).length, { message: "the app's calls recorded" }).toBe(2);
  await collector.settled(page);
  // The app's calls are traced (their spans start with them) and carry the header (recorded on the
  // XMLHttpRequest call: see the first tests); our batches do not.
  const started = (await page.evaluate(() => (window as unknown as { otel: { started(): unknown[] } }).otel.started())).map((url) => new URL(String(url)).pathname + new URL(String(url)).search);
  expect(started.sort()).toEqual(['/api/echo?app-call', '/api/echo?app-call-xhr']);
  const recordedTraceparent = Object.fromEntries(eventsSince(collector, from.events).map((event) => [tagOf(event.request.uri), event.request.headers.traceparent]));
  expect(recordedTraceparent).toEqual({ '?app-call': undefined, '?app-call-xhr': expect.stringMatching(/^00-/) });
  const batches = collector.received.slice(from.received);
  expect(batches.map((batch) => batch.path)).toContain('/v1/events/batch');
  expect(batches.map((batch) => batch.headers.traceparent)).toEqual(batches.map(() => undefined));
});
