import { join, normalize } from 'node:path';
import { build } from 'esbuild';
import type { CapturedEvent } from '../src/wire';
import { startGraphqlApp, type GraphqlApp } from '../test/support/graphql-app';
import { expect, test, type PageAndCollector } from './support/fixtures';
import { problemsOf } from './support/page-problems';
import { capturedEvents } from './support/recorder';

/**
 * Capture under Apollo Client 4.3.8 (bundled by esbuild, as an app bundles it) in Debian's Chromium,
 * talking to the real Apollo Server 5 of test/support/graphql-app.ts on another origin (CORS, so each
 * POST of JSON is preflighted): a query, a mutation, a resolver error (200 with `errors`), a validation
 * error (400), two queries batched by BatchHttpLink into one request, and a @defer query answered as a
 * streamed multipart/mixed body (Defer20220824Handler, the format Apollo Server 5 writes with graphql
 * 16). Each run is made without capture and with it: Apollo Client must give the app the same results,
 * and each request the server got must be recorded once, with the GraphQL JSON the server got as its
 * request body, its status, and the answer as its response body. Then the same calls under
 * moesif-browser-js 1.8.13, which must record what usertrail records.
 */

const ROOT = normalize(join(import.meta.dirname, '..'));

/** The parts of Apollo Client the page uses, as the global `Apollo`: a bundle made once, in beforeAll. */
let apolloBundle: string;
test.beforeAll(async () => {
  const { outputFiles } = await build({
    stdin: {
      contents: `
        import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
        import { BatchHttpLink } from '@apollo/client/link/batch-http';
        import { Defer20220824Handler } from '@apollo/client/incremental';
        window.Apollo = { ApolloClient, HttpLink, InMemoryCache, gql, BatchHttpLink, Defer20220824Handler };`,
      resolveDir: ROOT,
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    // As a production build: Apollo Client's development checks and messages left out.
    define: { 'process.env.NODE_ENV': '"production"' },
    write: false,
    logLevel: 'silent',
  });
  apolloBundle = outputFiles[0].text;
});

/**
 * The page's app: one client over HttpLink (with @defer), one over BatchHttpLink. `calls()` makes the
 * calls in turn and gives what Apollo Client gave for each; `startDeferred()` resolves with the first
 * part's result of a @defer query, `deferred` with every result of it once it is complete. Results are kept as
 * JSON, errors by their name (a bundle renames classes) and fields (Apollo Client 4's CombinedGraphQLErrors, ServerError).
 */
const APP = (endpoint: string) => `<script>
  const { ApolloClient, HttpLink, InMemoryCache, gql, BatchHttpLink, Defer20220824Handler } = Apollo;
  const endpoint = ${JSON.stringify(endpoint)};
  const http = new ApolloClient({ link: new HttpLink({ uri: endpoint }), cache: new InMemoryCache(), incrementalHandler: new Defer20220824Handler() });
  const batched = new ApolloClient({ link: new BatchHttpLink({ uri: endpoint, batchMax: 5, batchInterval: 20 }), cache: new InMemoryCache() });
  const asJson = (value) => JSON.parse(JSON.stringify(value, (key, v) => v instanceof Error ? { [v.name]: { message: v.message, errors: v.errors, statusCode: v.statusCode, bodyText: v.bodyText } } : v));
  const settle = (promise) => promise.then(asJson, (reason) => ({ rejected: asJson(reason) }));
  window.calls = async () => ({
    query: await settle(http.query({ query: gql\`query Books { books { id title } }\` })),
    mutation: await settle(http.mutate({ mutation: gql\`mutation AddBook($title: String!) { addBook(title: $title) { id title } }\`, variables: { title: 'Dawn' } })),
    resolverError: await settle(http.query({ query: gql\`query Broken { broken }\` })),
    resolverErrorAll: await settle(http.query({ query: gql\`query BrokenAll { broken }\`, errorPolicy: 'all' })),
    validationError: await settle(http.query({ query: gql\`query Nope { nope }\` })),
    batched: await settle(Promise.all([
      batched.query({ query: gql\`query First { book(id: "1") { id title } }\` }),
      batched.query({ query: gql\`query Second { book(id: "2") { id title } }\` }),
    ])),
  });
  window.startDeferred = () => new Promise((first) => {
    const results = [];
    window.deferred = new Promise((complete) => {
      window.deferredSubscription = http.watchQuery({ query: gql\`query Book { book(id: "2") { id title ... @defer { reviews } } }\` }).subscribe({
        next(result) {
          results.push(asJson(result));
          if (result.dataState === 'streaming') first(results.at(-1));
          if (result.dataState === 'complete') complete(results);
        },
        error(error) { complete([...results, { error: asJson(error) }]); },
      });
    });
  });
</script>`;


/** What names a call: its operation's name, or the names of a batch's, joined by `+`. */
const operationOf = (body: unknown): string =>
  Array.isArray(body) ? body.map(operationOf).join('+') : String((body as { operationName?: unknown } | undefined)?.operationName);

interface Run {
  /** What Apollo Client gave the app: the calls' results, then every result of the @defer query. */
  seen: { calls: unknown; deferred: unknown[] };
  /** The request bodies Apollo Server got (parsed by express.json()), in order. */
  received: unknown[];
  /** The answers Apollo Server sent, by operation, as text. */
  answered: Record<string, string>;
  /** What the page reported: uncaught errors, console errors and warnings. */
  problems: string[];
}

/**
 * Opens the app (with `sdk` started when given) against a new Apollo Server, makes the calls, then the
 * @defer query: its second part is let go once Apollo Client has given the app the first.
 */
async function runApp({ page, collector }: PageAndCollector, sdk: string | undefined): Promise<Run> {
  const received: unknown[] = [];
  const answered: Record<string, string> = {};
  // What the server got and sent, seen from inside the app, where no SDK is: a middleware of the app's own.
  const app: GraphqlApp = await startGraphqlApp({
    cors: true,
    middleware: (req, res, next) => {
      if (req.method !== 'POST') return next();
      received.push(req.body);
      const chunks: string[] = [];
      const write = res.write.bind(res);
      const end = res.end.bind(res);
      res.write = ((chunk: unknown, ...rest: never[]) => (chunks.push(String(chunk)), write(chunk as string, ...rest))) as typeof res.write;
      res.end = ((chunk?: unknown, ...rest: never[]) => {
        if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) chunks.push(String(chunk));
        answered[operationOf(req.body)] = chunks.join('');
        return end(chunk as string, ...rest);
      }) as typeof res.end;
      next();
    },
  });
  try {
    const init = sdk ? `<script src="${sdk}"></script><script>moesif.init({ applicationId: 'app', host: '127.0.0.1:' + location.port, batchMaxTime: 100 }); moesif.start();</script>` : '';
    collector.page('/app', `<!doctype html><html><head><title>app</title><script src="/apollo.js"></script>${init}</head><body>${APP(app.endpoint)}</body></html>`);
    const report = problemsOf(page);
    await page.goto(collector.url + '/app');
    const calls = await page.evaluate(() => (window as unknown as { calls(): Promise<unknown> }).calls());
    const first = await page.evaluate(() => (window as unknown as { startDeferred(): Promise<unknown> }).startDeferred());
    app.releaseDeferred();
    const deferred = await page.evaluate(() => (window as unknown as { deferred: Promise<unknown[]> }).deferred);
    expect(deferred.at(-2)).toEqual(first);
    report.stop();
    return { seen: { calls, deferred }, received, answered, problems: report.problems };
  } finally {
    await app.close();
  }
}

/** The operations the app makes, as named in events. */
const OPERATIONS = ['Books', 'AddBook', 'Broken', 'BrokenAll', 'Nope', 'First+Second', 'Book'];

/** An answer as an event carries it: JSON parsed, other text (the multipart answer) as it is. */
const asRecorded = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

test.beforeEach(({ collector }) => collector.page('/apollo.js', apolloBundle, { contentType: 'text/javascript' }));

test('Apollo Client gets the same results with capture, and each operation is recorded once, with the GraphQL JSON sent and the answer', async ({ page, collector }) => {
  const without = await runApp({ page, collector }, undefined);
  const withCapture = await runApp({ page, collector }, '/dist/moesif.min.js');
  expect(withCapture.seen).toEqual(without.seen);
  expect(without.problems).toEqual([]);
  expect(withCapture.problems).toEqual([]);

  // What Apollo Client gave, so that each call tests what its name says.
  const { calls, deferred } = without.seen as { calls: Record<string, unknown>; deferred: unknown[] };
  expect(calls.query).toMatchObject({ data: { books: [{ __typename: 'Book', id: '1', title: 'Kindred' }, { id: '2' }] } });
  expect(calls.mutation).toMatchObject({ data: { addBook: { id: '3', title: 'Dawn' } } });
  expect(calls.resolverError).toMatchObject({ rejected: { CombinedGraphQLErrors: { errors: [{ message: 'the reviews database is down' }] } } });
  expect(calls.resolverErrorAll).toMatchObject({ data: { broken: null }, error: { CombinedGraphQLErrors: {} } });
  expect(calls.validationError).toMatchObject({ rejected: { CombinedGraphQLErrors: { errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] } } });
  expect(calls.batched).toMatchObject([{ data: { book: { id: '1' } } }, { data: { book: { id: '2' } } }]);
  // The @defer query: loading, the first part, then the whole book once the deferred part came.
  expect(deferred).toMatchObject([
    { dataState: 'empty', loading: true },
    { dataState: 'streaming', data: { book: { id: '2', title: 'Parable of the Sower' } } },
    { dataState: 'complete', data: { book: { id: '2', reviews: ['prescient', 'bleak'] } } },
  ]);

  await expect.poll(() => capturedEvents(collector).length).toBe(OPERATIONS.length);
  await collector.settled(page);
  const recorded = capturedEvents(collector);
  expect(recorded.map((event) => operationOf(event.request.body))).toEqual(OPERATIONS);
  for (const [i, event] of recorded.entries()) {
    const operation = OPERATIONS[i]!;
    expect(event.request.uri, operation).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
    expect(event.request.verb, operation).toBe('POST');
    // The operation as Apollo Server got it: Moesif parses the query, its name and variables from it.
    expect(event.request.body, operation).toEqual(withCapture.received[i]);
    expect(event.response.body, operation).toEqual(asRecorded(withCapture.answered[operation]!));
    // Apollo Client cancels the multipart answer once it has read the last part, before the stream
    // says it ended: capture records what the app read, and cannot tell that nothing was to follow.
    expect(event.metadata, operation).toEqual(operation === 'Book' ? { truncated: ['response'] } : undefined);
  }
  expect(recorded.map((event) => event.response.status)).toEqual([200, 200, 200, 200, 400, 200, 200]);
  const deferredEvent = recorded.at(-1)!;
  expect(deferredEvent.response.headers['content-type']).toBe('multipart/mixed; boundary="-"; deferSpec=20220824');
  expect(deferredEvent.response.body).toContain('"reviews":["prescient","bleak"]');
});

/**
 * The same app under moesif-browser-js 1.8.13 (from node_modules), which a migrating site had: Apollo
 * Client gives the same results, and what moesif records of an operation usertrail records alike. But
 * moesif records no operation whose result Apollo Client rejects (the resolver error and the validation
 * error under the default errorPolicy): Apollo Client then aborts its request's signal, which fails
 * moesif's read of its clone of the answer, and that failure reaches the page as an uncaught error
 * ("signal is aborted without reason"), once for each. usertrail records them, and the page sees nothing.
 */
test('moesif-browser-js 1.8.13 records what usertrail records of each operation it records, and Apollo Client gets the same results under both', async ({ page, collector }) => {
  /**
   * A body as Moesif shows it: base64 decoded (moesif sends the multipart answer so, usertrail as text),
   * line ends as LF (moesif's read of it made each CR LF one).
   */
  const shown = ({ body, transfer_encoding }: CapturedEvent['response']) =>
    transfer_encoding === 'base64' ? Buffer.from(body as string, 'base64').toString() : typeof body === 'string' ? body.replace(/\r\n/g, '\n') : body;
  /** The events recorded from the `from`th to before the `to`th, by operation, as both SDKs record them. */
  const recorded = (from: number, to?: number) =>
    capturedEvents(collector)
      .slice(from, to)
      .map(({ request, response }) => ({
        operation: operationOf(request.body),
        uri: request.uri.replace(/:\d+\//, ':(port)/'),
        verb: request.verb,
        requestBody: request.body,
        status: response.status,
        contentType: response.headers['content-type'],
        responseBody: shown(response),
      }))
      .sort((a, b) => a.operation.localeCompare(b.operation));
  const rejectedByApollo = ['Broken', 'Nope'];
  const moesifFrom = capturedEvents(collector).length;
  const moesif = await runApp({ page, collector }, '/node_modules/moesif-browser-js/moesif.min.js');
  await expect.poll(() => capturedEvents(collector).length - moesifFrom, { message: 'moesif recorded the operations it records' }).toBe(OPERATIONS.length - rejectedByApollo.length);
  const usertrailFrom = capturedEvents(collector).length;
  const usertrail = await runApp({ page, collector }, '/dist/moesif.min.js');
  await expect.poll(() => capturedEvents(collector).length - usertrailFrom).toBe(OPERATIONS.length);
  await collector.settled(page);

  expect(usertrail.seen).toEqual(moesif.seen);
  expect(usertrail.problems).toEqual([]);
  expect(moesif.problems).toEqual(rejectedByApollo.map(() => 'uncaught: signal is aborted without reason'));
  const theirs = recorded(moesifFrom, usertrailFrom);
  const ours = recorded(usertrailFrom);
  expect(theirs.map((event) => event.operation)).toEqual(OPERATIONS.filter((operation) => !rejectedByApollo.includes(operation)).sort());
  expect(ours.filter((event) => !rejectedByApollo.includes(event.operation))).toEqual(theirs);
});

test('a @defer query the app leaves after its first part (Apollo Client aborts the request) is recorded as truncated, with what capture had read of it', async ({ page, collector }) => {
  const app = await startGraphqlApp({ cors: true });
  try {
    collector.page('/app', `<!doctype html><html><head><title>app</title><script src="/apollo.js"></script><script src="/dist/moesif.min.js"></script><script>moesif.init({ applicationId: 'app', host: '127.0.0.1:' + location.port, batchMaxTime: 100 }); moesif.start();</script></head><body>${APP(app.endpoint)}</body></html>`);
    const report = problemsOf(page);
    await page.goto(collector.url + '/app');
    await page.evaluate(() => (window as unknown as { startDeferred(): Promise<unknown> }).startDeferred());
    // As a component unmounted while the rest was on its way: Apollo Client aborts the fetch.
    await page.evaluate(() => (window as unknown as { deferredSubscription: { unsubscribe(): void } }).deferredSubscription.unsubscribe());
    await expect.poll(() => capturedEvents(collector).length).toBe(1);
    const [event] = capturedEvents(collector);
    expect(event.response.status).toBe(200);
    expect(event.metadata).toEqual({ truncated: ['response'] });
    // The first part when capture had read it before the abort, which empties what the copy held unread.
    const firstPart = '\r\n---\r\ncontent-type: application/json; charset=utf-8\r\n\r\n{"data":{"book":{"id":"2","title":"Parable of the Sower","__typename":"Book"}},"hasNext":true}\r\n---\r\n';
    expect([undefined, firstPart]).toContain(event.response.body);
    report.stop();
    expect(report.problems).toEqual([]);
  } finally {
    await app.close();
  }
});
