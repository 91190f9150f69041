import { join, normalize } from 'node:path';
import { build } from 'esbuild';
import { APP_CALLS } from './support/app-calls';
import { expect, test, type PageAndCollector } from './support/fixtures';
import { problemsOf } from './support/page-problems';
import type { Recorder } from './support/recorder';

/**
 * Capture beside Sentry's browser SDK (@sentry/browser 11.19.0, bundled by esbuild as an app bundles it),
 * the error and performance tracker most production pages run, which wraps fetch and XMLHttpRequest too:
 * its breadcrumbs, its tracing (browserTracingIntegration, with the app's API in tracePropagationTargets,
 * so that it adds sentry-trace and baggage headers to the app's calls) and its error reporting to a DSN on
 * the test server. In both load orders (Sentry.init() before moesif.start(), and after it) the app gets what
 * it gets with Sentry alone, capture records each call as it records it without Sentry, Sentry's headers
 * included as far as capture sees them, and Sentry reports the same breadcrumbs, spans and errors as alone.
 */

const ROOT = normalize(join(import.meta.dirname, '..'));

/** The part of @sentry/browser the page uses, as the global `Sentry`: a bundle made once, in beforeAll. */
let sentryBundle: string;
test.beforeAll(async () => {
  const { outputFiles } = await build({
    stdin: {
      contents: `import { init, browserTracingIntegration, startSpan, flush } from '@sentry/browser'; window.Sentry = { init, browserTracingIntegration, startSpan, flush };`,
      resolveDir: ROOT,
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  sentryBundle = outputFiles[0].text;
});

/** Which SDKs the page runs, in the order it sets them up. */
type Setup = 'Sentry alone' | 'usertrail alone' | 'Sentry, then usertrail' | 'usertrail, then Sentry';

/**
 * Sentry as its docs set it up for tracing, reporting to the test server (envelopes to /api/1/envelope/),
 * with `environment` naming the run, so that a late envelope of an earlier page is told apart.
 */
const SENTRY_INIT = (setup: Setup) => `Sentry.init({
  dsn: 'http://publickey@127.0.0.1:' + location.port + '/1',
  environment: ${JSON.stringify(setup)},
  integrations: [Sentry.browserTracingIntegration()],
  tracesSampleRate: 1,
  tracePropagationTargets: [/\\/api\\//],
});`;
const USERTRAIL_INIT = `moesif.init({ applicationId: 'app', host: '127.0.0.1:' + location.port, batchMaxTime: 100 }); moesif.start();`;

/**
 * The app's calls, by fetch and by XMLHttpRequest: a GET of JSON, a POST of JSON, a 500, a network error
 * (the server closes the connection) and a call the app aborts at once. All start together, inside a span
 * of the app's when Sentry is there (the calls' spans are its children); `scenario()` gives what the app got
 * of each, an XMLHttpRequest's events included.
 */
const SCENARIO = `${APP_CALLS}
  const json = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Ada' }) };
  const calls = () => {
    const aborted = new AbortController();
    const started = {
      fetchGet: viaFetch('/api/echo?fetch-get'),
      fetchPost: viaFetch('/api/echo?fetch-post', json),
      fetch500: viaFetch('/api/echo?status=500&fetch-500'),
      fetchNetworkError: viaFetch('/api/close?fetch-network-error'),
      fetchAborted: viaFetch('/api/slow?fetch-aborted', { signal: aborted.signal }),
      xhrGet: viaXhr('/api/echo?xhr-get', { responseType: 'json' }),
      xhrPost: viaXhr('/api/echo?xhr-post', json),
      xhr500: viaXhr('/api/echo?status=500&xhr-500'),
      xhrNetworkError: viaXhr('/api/close?xhr-network-error'),
      xhrAborted: viaXhr('/api/slow?xhr-aborted', { abort: true }),
    };
    aborted.abort();
    return Promise.all(Object.entries(started).map(async ([name, call]) => [name, await call])).then(Object.fromEntries);
  };
  window.scenario = () => (window.Sentry ? Sentry.startSpan({ name: 'scenario', op: 'test', forceTransaction: true }, calls) : calls());
  // An error the app does not catch, after its calls: Sentry's report of it carries their breadcrumbs.
  window.fail = () => setTimeout(() => { throw new Error('the app failed'); });
`;

/** The tag of each call the scenario makes: its URL's query. */
const CALLS = ['?fetch-get', '?fetch-post', '?status=500&fetch-500', '?fetch-network-error', '?fetch-aborted', '?xhr-get', '?xhr-post', '?status=500&xhr-500', '?xhr-network-error', '?xhr-aborted'];

type Event = {
  request: { uri: string; verb: string; headers: Record<string, string>; body?: unknown };
  response: { status: number; headers: Record<string, string>; body?: unknown };
  metadata?: Record<string, unknown>;
};
const tagOf = (uri: string): string => new URL(uri, 'http://x').search;

// any: Sentry's envelope items are JSON as Sentry sent it; the assertions read the fields they name.
type SentryItem = { type: string; payload: Record<string, any> };
/** A span as Sentry 11 streams it (an envelope's `span` item holds a list of them), its attributes as `{ value, type }`. */
type Span = { name: string; status: string; attributes: Record<string, { value: unknown }> };
/** The items of every envelope Sentry posted to its DSN (one JSON header line, then a header line and a payload line per item). */
function sentryItems(collector: Recorder): SentryItem[] {
  return collector.api
    .filter((request) => request.path == '/api/1/envelope/')
    .flatMap((request) => {
      const [, ...lines] = request.body.split('\n').filter(Boolean);
      return Array.from({ length: lines.length / 2 }, (_, i) => ({ type: JSON.parse(lines[2 * i]).type as string, payload: JSON.parse(lines[2 * i + 1]) }));
    });
}

/** What a run gave: what the app got, what the server got, what usertrail recorded and what Sentry reported. */
interface Run {
  seen: Record<string, unknown>;
  /** The headers each call of the app's arrived with at the server, by tag. */
  arrived: Record<string, Record<string, string | string[] | undefined>>;
  /** usertrail's events, by tag. */
  events: Record<string, Event>;
  /** The path of each request our SDK sent to its collector (/v1/*). */
  batches: string[];
  /** Sentry's report of the app's error. */
  error?: Record<string, any>;
  /** The spans of requests (op http.client) Sentry sent so far: streamed, a few may come later. */
  requestSpans: () => Span[];
}

/** Opens the app with `setup`, runs the scenario and the app's error, and waits until everything each SDK sends has arrived. */
async function run({ page, collector }: PageAndCollector, setup: Setup): Promise<Run> {
  const scripts = {
    sentry: `<script src="/sentry.js"></script><script>${SENTRY_INIT(setup)}</script>`,
    usertrail: `<script src="/dist/moesif.min.js"></script><script>${USERTRAIL_INIT}</script>`,
  };
  // In the order the setup names them.
  const head = setup.split(/, then | alone/).filter(Boolean).map((name) => scripts[name.toLowerCase() as keyof typeof scripts]);
  collector.page('/sentry.js', sentryBundle);
  collector.page('/app', `<!doctype html><html><head><title>app</title>${head.join('')}</head><body><script>${SCENARIO}</script></body></html>`);
  const from = { api: collector.api.length, events: collector.items('events').length, received: collector.received.length };
  const report = problemsOf(page, { appErrors: ['the app failed'] });
  await page.goto(collector.url + '/app');
  const seen = await page.evaluate(() => (window as unknown as { scenario(): Promise<Record<string, unknown>> }).scenario());
  // Our SDK's batches first, so that the error's breadcrumbs come after them (see the README, "Beside Sentry").
  if (setup != 'Sentry alone') {
    await expect.poll(() => collector.items('events').length - from.events, { message: 'usertrail recorded every call' }).toBeGreaterThanOrEqual(CALLS.length);
    await collector.settled(page);
  }
  await page.evaluate(() => (window as unknown as { fail(): void }).fail());
  const error = () => sentryItems(collector).find((item) => item.type == 'event' && item.payload.environment == setup)?.payload;
  const requestSpans = () =>
    sentryItems(collector)
      .filter((item) => item.type == 'span')
      .flatMap((item) => item.payload.items as Span[])
      .filter((span) => span.attributes['sentry.environment'].value == setup && span.attributes['sentry.op'].value == 'http.client');
  if (setup != 'usertrail alone') {
    await expect.poll(() => !!error(), { message: "Sentry reported the app's error" }).toBe(true);
    // Spans are streamed (Sentry 11's default), in envelopes of their own, each trace's 5 s after its first
    // span, or at a flush: every span ended by now is sent.
    await page.evaluate(() => (window as unknown as { Sentry: { flush(): Promise<boolean> } }).Sentry.flush());
    await expect.poll(() => requestSpans().filter((span) => String(span.attributes['url.full'].value).includes('/api/')).length, { message: "Sentry sent the spans of the app's calls" }).toBe(CALLS.length);
  }
  report.stop();
  expect(report.problems, setup).toEqual([]);
  const events = (collector.items('events') as unknown as Event[]).slice(from.events);
  // Sentry's envelopes are not among them: Sentry posts them with a fetch of its own (the browser's, from an
  // iframe when window.fetch is wrapped), which capture never sees.
  expect(events.map((event) => tagOf(event.request.uri)).sort(), `${setup}: one event per call of the app's`).toEqual(setup == 'Sentry alone' ? [] : [...CALLS].sort());
  const arrived = Object.fromEntries(
    collector.api
      .slice(from.api)
      .filter((request) => request.path != '/api/1/envelope/')
      .map((request) => [request.search, request.headers]),
  );
  return {
    seen,
    arrived,
    events: Object.fromEntries(events.map((event) => [tagOf(event.request.uri), event])),
    batches: collector.received.slice(from.received).map((request) => request.path),
    error: error(),
    requestSpans,
  };
}

/** Sentry's breadcrumbs of the app's calls, as its error report carries them, by URL. */
const appBreadcrumbs = (error: Record<string, any>) =>
  (error.breadcrumbs as Array<Record<string, any>>)
    .filter((crumb) => /^(fetch|xhr)$/.test(crumb.category) && crumb.data.url.startsWith('/api/'))
    .map(({ category, type, level, data: { method, url, status_code } }) => ({ category, type, level, method, url, status_code }))
    .sort((a, b) => a.url.localeCompare(b.url));
/** Sentry's breadcrumbs of our SDK's requests to its collector. */
const collectorBreadcrumbs = (error: Record<string, any>) => (error.breadcrumbs as Array<Record<string, any>>).filter((crumb) => crumb.data?.url?.includes('/v1/'));
/** The spans of the app's calls (or, `collectors`, of our SDK's requests to its collector), with what they say of each call. */
const spansOf = (spans: Span[], collectors = false) =>
  spans
    .filter((span) => String(span.attributes['url.full'].value).includes('/v1/') == collectors)
    .map(({ name, status, attributes }): Record<string, unknown> => ({
      name,
      status,
      ...Object.fromEntries(['sentry.origin', 'type', 'http.request.method', 'url.full', 'http.response.status_code'].map((key) => [key, attributes[key]?.value])),
    }))
    .sort((a, b) => String(a['url.full']).localeCompare(String(b['url.full'])));

/** An event as the comparisons read it: what was sent and got, but its times, ids and the browser's User-Agent and Date. */
const asCompared = ({ request, response, metadata }: Event) => {
  const { 'user-agent': userAgent, ...requestHeaders } = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]));
  const { date, ...responseHeaders } = response.headers;
  return { uri: request.uri, verb: request.verb, requestHeaders, requestBody: request.body, status: response.status, responseHeaders, responseBody: response.body, metadata };
};

for (const [order, setup] of [
  ['Sentry.init() before moesif.start()', 'Sentry, then usertrail'],
  ['Sentry.init() after moesif.start()', 'usertrail, then Sentry'],
] as const) {
  test(`${order}: the app gets what it gets with Sentry alone, each call is recorded once as without Sentry, and Sentry reports what it reports alone`, async ({ page, collector }) => {
    const sentryAlone = await run({ page, collector }, 'Sentry alone');
    const usertrailAlone = await run({ page, collector }, 'usertrail alone');
    const both = await run({ page, collector }, setup);

    // 1. The app gets the same answers, errors and events.
    expect(both.seen).toEqual(sentryAlone.seen);
    expect(sentryAlone.seen).toMatchObject({
      fetchGet: { status: 200, body: '{"method":"GET","body":"","authorization":false,"apiKey":false}' },
      fetch500: { status: 500 },
      fetchNetworkError: { rejected: expect.stringMatching(/^TypeError: Failed to fetch/) },
      fetchAborted: { rejected: 'AbortError: signal is aborted without reason' },
      xhrGet: { status: 200, response: { method: 'GET', body: '', authorization: false, apiKey: false } },
      xhrNetworkError: { status: 0, events: expect.arrayContaining(['error 4']) },
      xhrAborted: { status: 0, events: expect.arrayContaining(['abort 4']) },
    });

    // Sentry added its trace headers to every call (a call aborted at once may not reach the server).
    for (const run of [sentryAlone, both]) {
      expect(Object.keys(run.arrived).filter((tag) => !tag.includes('aborted')).sort()).toEqual(CALLS.filter((tag) => !tag.includes('aborted')).sort());
      for (const headers of Object.values(run.arrived)) expect(headers).toMatchObject({ 'sentry-trace': expect.any(String), baggage: expect.stringContaining('sentry-environment') });
    }

    // 2. Each call is recorded as without Sentry, plus the trace headers Sentry added, as far as they reach
    // capture: XMLHttpRequest's always (set on the object until send() gives it to the browser); a fetch's
    // when Sentry's wrapper is outside capture's (Sentry set up after start()): its headers are arguments of
    // the inner fetch call, which capture, outside, never sees.
    const fetchSeesTrace = setup == 'usertrail, then Sentry';
    for (const tag of CALLS) {
      const alone = asCompared(usertrailAlone.events[tag]);
      const recorded = asCompared(both.events[tag]);
      // As the server got them; an aborted call's, which may not have reached it, Sentry's all the same.
      const sent = both.arrived[tag] ?? { 'sentry-trace': expect.any(String), baggage: expect.any(String) };
      const traceHeaders = tag.includes('xhr') || fetchSeesTrace ? { 'sentry-trace': sent['sentry-trace'], baggage: sent.baggage } : {};
      expect(recorded, `${setup}: ${tag}`).toEqual({
        ...alone,
        requestHeaders: { ...alone.requestHeaders, ...traceHeaders },
        // Sentry adds the host to fetch's "Failed to fetch" (the app gets "Failed to fetch (127.0.0.1:port)"),
        // changing the error once it has it: capture, which makes the error a string when fetch gives it,
        // records Sentry's text only when Sentry's fetch is inside its own.
        metadata: tag == '?fetch-network-error' && !fetchSeesTrace ? { error: (both.seen.fetchNetworkError as { rejected: string }).rejected } : alone.metadata,
      });
    }

    // 3. Sentry reports the same breadcrumbs of the app's calls, the same spans, and the app's error.
    expect(appBreadcrumbs(both.error!)).toEqual(appBreadcrumbs(sentryAlone.error!));
    expect(appBreadcrumbs(sentryAlone.error!).map((crumb) => tagOf(crumb.url)).sort()).toEqual([...CALLS].sort());
    expect(both.error!.exception.values[0]).toMatchObject({ type: 'Error', value: 'the app failed' });
    expect(spansOf(both.requestSpans())).toEqual(spansOf(sentryAlone.requestSpans()));

    // 4. Our SDK's requests to its collector go by the fetch there was at moesif.init(): Sentry's, which records
    // them as it records every call, when Sentry.init() ran first; else the browser's, which Sentry never
    // sees (README, "Beside Sentry").
    expect(both.batches).toContain('/v1/events/batch');
    const seenBySentry = setup == 'Sentry, then usertrail' ? both.batches.map((path) => `fetch POST ${collector.url}${path} 200`) : [];
    expect(collectorBreadcrumbs(both.error!).map(({ category, data }) => `${category} ${data.method} ${data.url} ${data.status_code}`)).toEqual(seenBySentry);
    await expect
      .poll(() => spansOf(both.requestSpans(), true).map((span) => `${span.type} ${span['http.request.method']} ${span['url.full']} ${span['http.response.status_code']}`))
      .toEqual(seenBySentry);
  });
}
