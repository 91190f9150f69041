// @vitest-environment node
/**
 * The middleware in a GraphQL API, as moesif-nodejs's README says it works "with GraphQL APIs (such as
 * with Apollo)": Apollo Server 5 on Express 5 (@as-integrations/express5), the middleware after
 * express.json() and express-jwt as moesif's README places it (test/support/graphql-app.ts). The app is
 * run three times, without a middleware, with the real moesif-nodejs and with usertrail/server, each
 * logging to a recording collector of its own on 127.0.0.1: Apollo must answer the same all three
 * times, and usertrail's events must say what the client got and what moesif-nodejs's events say, but
 * for the differences the README documents.
 *
 * Neither SDK reads GraphQL: Moesif parses the operation (its name, type, fields and variables, as
 * `request.graphql.*`) from what the event carries, a POST's JSON body or a GET's `?query=` (Moesif's
 * docs, "GraphQL support"). So what matters here is that the request body is logged as the parsed
 * JSON Apollo got, and the URL with its query.
 */
import { gunzipSync } from 'node:zlib';
import moesifNodejs from 'moesif-nodejs';
import type { RequestHandler } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import usertrail from '../../src/server/index';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { MASK } from '../../src/wire';
import { BROKEN_MESSAGE, GRAPHQL_JWT_SECRET, SESSION_TOKEN, startGraphqlApp, UNKNOWN_QUERY_HASH, type GraphqlApp } from '../support/graphql-app';
import { signToken, startRecorder, waitFor } from './helpers';

type Sdk = 'moesif-nodejs' | 'usertrail';
// any: the assertions read arbitrary fields of both SDKs' events.
type Json = Record<string, any>;
type Middleware = RequestHandler & { flush?(): Promise<void> };
type Factory = (options: Json) => Middleware;
const FACTORY: Record<Sdk, Factory> = {
  'moesif-nodejs': moesifNodejs as unknown as Factory,
  usertrail: usertrail as unknown as Factory,
};

/** As the seed's app: the user is the subject of the token express-jwt verified. */
const OPTIONS = { applicationId: DEFAULT_APP_ID, identifyUser: (req: { auth?: { sub?: string } }) => req.auth?.sub };

const TOKEN = await signToken({ sub: 'user_42' }, GRAPHQL_JWT_SECRET);
const JSON_TYPE = { 'Content-Type': 'application/json' };
/** What Apollo Client sends to ask for @defer's multipart answers in the format Apollo Server 5 writes with graphql 16. */
const ACCEPT_DEFER = 'multipart/mixed;deferSpec=20220824,application/json';

const BOOKS = { query: 'query Books { books { id title } }', operationName: 'Books' };
const ADD_BOOK = { query: 'mutation AddBook($title: String!) { addBook(title: $title) { id title } }', operationName: 'AddBook', variables: { title: 'Dawn' } };
const LOG_IN = {
  query: 'mutation LogIn($email: String!, $password: String!) { logIn(email: $email, password: $password) { user } }',
  operationName: 'LogIn',
  variables: { email: 'ada@example.com', password: 'hunter2' },
};
const DEFERRED = { query: 'query Book { book(id: "2") { id title ... @defer { reviews } } }', operationName: 'Book' };
const GET_QUERY = `?query=${encodeURIComponent('query Ids { books { id } }')}&operationName=Ids`;

interface Call {
  name: string;
  method: 'GET' | 'POST';
  /** After /graphql. */
  search?: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  status: number;
}

const CALLS: Call[] = [
  { name: 'a query', method: 'POST', json: BOOKS, status: 200 },
  { name: 'a mutation', method: 'POST', json: ADD_BOOK, status: 200 },
  { name: 'a mutation with a password in its variables', method: 'POST', json: LOG_IN, status: 200 },
  // Apollo's CSRF prevention lets a GET through with a header a simple request cannot carry.
  { name: 'a GET query', method: 'GET', search: GET_QUERY, headers: { 'Apollo-Require-Preflight': 'true' }, status: 200 },
  { name: 'a GET query CSRF prevention refuses', method: 'GET', search: GET_QUERY, status: 400 },
  { name: 'batched operations', method: 'POST', json: [BOOKS, { query: '{ me }' }], status: 200 },
  { name: 'a resolver error', method: 'POST', json: { query: '{ broken }' }, status: 200 },
  { name: 'a validation error', method: 'POST', json: { query: '{ nope }' }, status: 400 },
  { name: 'a persisted query not found', method: 'POST', json: { extensions: { persistedQuery: { version: 1, sha256Hash: UNKNOWN_QUERY_HASH } } }, status: 200 },
  { name: 'a signed-in query', method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, json: { query: '{ me }' }, status: 200 },
  { name: 'the landing page', method: 'GET', headers: { Accept: 'text/html' }, status: 200 },
  { name: 'a deferred query', method: 'POST', headers: { Accept: ACCEPT_DEFER }, json: DEFERRED, status: 200 },
];

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * What the client got, but for what differs from one run to the next: the date, the middleware's own
 * header (its transaction id), and the landing page's CSP nonce (a new one each time) with its ETag.
 */
async function answerOf(res: Response): Promise<Answer> {
  const html = res.headers.get('content-type')?.startsWith('text/html');
  const headers = Object.fromEntries([...res.headers].filter(([name]) => !['date', 'x-moesif-transaction-id', ...(html ? ['etag'] : [])].includes(name)));
  const body = await res.text();
  return { status: res.status, headers, body: html ? body.replace(/nonce-?=?"?[0-9a-f]{64}/g, 'nonce') : body };
}

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close();
});

/** The app with `sdk`'s middleware (none when undefined), logging to a collector of its own. */
async function start(sdk: Sdk | undefined, { first = false, options = {} }: { first?: boolean; options?: Json } = {}) {
  const collector = await startRecorder(0, { contract: sdk === 'usertrail' });
  opened.push(collector);
  // usertrail/server's batches leave at once here; moesif-nodejs's after its shortest batchMaxTime (it refuses 500 or less).
  const middleware = sdk && FACTORY[sdk]({ ...OPTIONS, baseUri: collector.url, batchMaxTime: sdk === 'usertrail' ? 10 : 501, ...options });
  const app = await startGraphqlApp({ middleware, first });
  opened.push(app);
  return { app, collector, middleware };
}

const send = (app: GraphqlApp, { method, search = '', headers = {}, json }: Call) =>
  fetch(app.endpoint + search, { method, headers: json === undefined ? headers : { ...JSON_TYPE, ...headers }, body: json === undefined ? undefined : JSON.stringify(json) });

/** CALLS through the app: what the client got, and the events the collector received (none without `sdk`). */
async function run(sdk: Sdk | undefined, first = false, options: Json = {}) {
  const { app, collector, middleware } = await start(sdk, { first, options });
  app.releaseDeferred();
  const answers: Answer[] = [];
  const transactionIds: string[] = [];
  for (const call of CALLS) {
    const res = await send(app, call);
    transactionIds.push(res.headers.get('x-moesif-transaction-id') ?? 'none sent');
    answers.push(await answerOf(res));
  }
  if (!middleware) return { url: app.url, answers, events: [] };
  await middleware.flush?.();
  const received = await waitFor(() => collector.events().length >= CALLS.length && collector.events(), 10_000);
  expect(received).toHaveLength(CALLS.length);
  // The events of each call, found by the transaction id its answer carried.
  const events = transactionIds.map((id) => {
    const ofCall = received.filter((event) => event.response.headers['x-moesif-transaction-id'] === id);
    expect(ofCall, `the events of transaction ${id}`).toHaveLength(1);
    return ofCall[0]!;
  });
  return { url: app.url, answers, events };
}

/** A body as the client read it: parsed when it is JSON, as Moesif logs it. */
function asLogged(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A body as Moesif shows it: moesif-nodejs sends one that is not JSON as base64 of its bytes, usertrail as text. */
function shownBody(side: Json): unknown {
  if (side.transfer_encoding !== 'base64') return side.body;
  const bytes = Buffer.from(side.body, 'base64');
  return asLogged((side.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes).toString());
}

/** The password in LogIn's variables: moesif-nodejs sends its MD5, usertrail `*****`. */
function withoutPassword(body: unknown): unknown {
  const variables = (body as Json | undefined)?.variables;
  return variables?.password === undefined ? body : { ...(body as Json), variables: { ...variables, password: '(masked)' } };
}

/**
 * An event with the differences from moesif-nodejs that the README documents undone: moesif-nodejs
 * sends the Authorization header as it came (usertrail: `Bearer *****`), a password as above.
 */
function comparable(event: Json, url: string): Json {
  const { request, response } = event;
  return {
    call: `${request.verb} ${request.uri.replace(url, '')}`,
    status: response.status,
    user_id: event.user_id,
    authorization: request.headers.authorization === undefined ? 'none' : 'sent',
    request_headers: Object.keys(request.headers).sort(),
    request_body: withoutPassword(shownBody(request)),
    response_headers: Object.entries(response.headers as Json)
      .map(([name, value]) => `${name}: ${String(value)}`)
      .filter((header) => !/^(x-moesif-transaction-id|etag|content-security-policy):/.test(header))
      .sort(),
    response_body: typeof response.body === 'string' && response.headers['content-type'].startsWith('text/html') ? '(the landing page)' : shownBody(response),
  };
}

describe('Apollo Server 5 on Express 5', () => {
  it.each([
    ['after the body parser, as moesif-nodejs\'s README places it', false],
    ['first, as moesif\'s Apollo example and usertrail\'s README place it', true],
  ])('mounted %s: answers as without a middleware, and logs each call as the client got it, as moesif-nodejs does', async (_, first) => {
    const bare = await run(undefined);
    const theirs = await run('moesif-nodejs', first);
    const ours = await run('usertrail', first);
    expect(bare.answers.map((answer) => answer.status)).toEqual(CALLS.map((call) => call.status));
    expect(theirs.answers).toEqual(bare.answers);
    expect(ours.answers).toEqual(bare.answers);

    const answer = (name: string) => bare.answers[CALLS.findIndex((call) => call.name === name)]!;
    // Apollo's answers are what its docs describe, so that each call tests what its name says.
    expect(asLogged(answer('a resolver error').body)).toMatchObject({ errors: [{ message: BROKEN_MESSAGE }], data: { broken: null } });
    expect(asLogged(answer('a validation error').body)).toMatchObject({ errors: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    expect(asLogged(answer('a persisted query not found').body)).toMatchObject({ errors: [{ extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] });
    expect(asLogged(answer('a GET query CSRF prevention refuses').body)).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
    expect(asLogged(answer('batched operations').body)).toEqual([{ data: { books: [{ id: '1', title: 'Kindred' }, { id: '2', title: 'Parable of the Sower' }] } }, { data: { me: null } }]);
    expect(asLogged(answer('a signed-in query').body)).toEqual({ data: { me: 'user_42' } });
    expect(answer('the landing page').headers['content-type']).toMatch(/^text\/html/);
    expect(answer('a deferred query').headers['content-type']).toBe('multipart/mixed; boundary="-"; deferSpec=20220824');
    expect(answer('a deferred query').body).toContain('"incremental":[{"path":["book"]');

    const events = ours.events;
    for (const [i, event] of events.entries()) {
      const call = CALLS[i]!;
      const got = ours.answers[i]!;
      expect(`${event.request.verb} ${event.request.uri}`, call.name).toBe(`${call.method} ${ours.url}/graphql${call.search ?? ''}`);
      expect(event.transaction_id, call.name).toBe(event.response.headers['x-moesif-transaction-id']);
      expect(event.response.status, call.name).toBe(got.status);
      expect(event.response.headers['content-type'], call.name).toBe(got.headers['content-type']);
      expect(event.metadata, call.name).toBeUndefined();
      // The operation as Apollo got it, parsed, for Moesif to read its name, type and variables.
      if (call.json !== undefined) expect(event.request.body, call.name).toEqual(call.json === LOG_IN ? { ...LOG_IN, variables: { ...LOG_IN.variables, password: MASK } } : call.json);
    }
    // Bodies as the client got them: JSON parsed, the landing page and the multipart answer as text.
    for (const [i, event] of events.entries()) {
      const got = ours.answers[i]!;
      if (CALLS[i]!.name === 'the landing page') expect(event.response.body.replace(/nonce-?=?"?[0-9a-f]{64}/g, 'nonce')).toBe(got.body);
      else expect(event.response.body, CALLS[i]!.name).toEqual(asLogged(got.body));
    }
    expect(events[2]!.request.body.variables.password).toBe(MASK);
    expect(events.map((event) => event.user_id)).toEqual(CALLS.map((call) => (call.headers?.Authorization ? 'user_42' : undefined)));
    expect(JSON.stringify(events)).not.toContain('hunter2');
    expect(JSON.stringify(events)).not.toContain(TOKEN.split('.')[2]);

    expect(ours.events.map((event) => comparable(event, ours.url))).toEqual(theirs.events.map((event) => comparable(event, theirs.url)));
  });

  it('given the README\'s getMetadata for the operation name, logs it as moesif-nodejs does, also mounted before the body parser', async () => {
    // The README's recipe: the operationName of a POST (of each named one in a batch), or a GET's ?operationName=.
    const getMetadata = (req: { body?: { operationName?: string } | Array<{ operationName?: string }>; query?: { operationName?: string } }) => {
      const names = [req.body ?? {}].flat().map((operation) => operation.operationName ?? req.query?.operationName).filter(Boolean);
      return names.length ? { graphql_operation: names.join(',') } : undefined;
    };
    const theirs = await run('moesif-nodejs', true, { getMetadata });
    const ours = await run('usertrail', true, { getMetadata });
    const metadata = (events: Json[]) => events.map((event) => event.metadata?.graphql_operation ?? null);
    expect(metadata(ours.events)).toEqual(['Books', 'AddBook', 'LogIn', 'Ids', 'Ids', 'Books', null, null, null, null, null, 'Book']);
    expect(metadata(ours.events)).toEqual(metadata(theirs.events));
  });

  it('masks secrets in the JSON parts of a deferred answer', async () => {
    const { app, collector, middleware } = await start('usertrail');
    app.releaseDeferred();
    const query = 'mutation LogIn($email: String!, $password: String!) { logIn(email: $email, password: $password) { user ... @defer { token } } }';
    const res = await send(app, { name: 'a deferred log-in', method: 'POST', headers: { Accept: ACCEPT_DEFER }, json: { ...LOG_IN, query }, status: 200 });
    const body = await res.text();
    expect(body).toContain(`"token":"${SESSION_TOKEN}"`);
    await middleware!.flush!();
    const [event] = await waitFor(() => collector.events().length > 0 && collector.events());
    expect(event!.response.body).toBe(body.replace(`"token":"${SESSION_TOKEN}"`, `"token":"${MASK}"`));
  });

  it('logs a deferred query when its last part is sent, with every part', async () => {
    const { app, collector, middleware } = await start('usertrail');
    const res = await send(app, CALLS.find((call) => call.name === 'a deferred query')!);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const first = (await reader.read()).value!;
    expect(first).toContain('{"data":{"book":{"id":"2","title":"Parable of the Sower"}},"hasNext":true}');
    // The answer is under way: nothing is logged yet (flush() sends whatever is queued).
    await middleware!.flush!();
    expect(collector.events()).toHaveLength(0);

    app.releaseDeferred();
    let body = first;
    for (let part = await reader.read(); !part.done; part = await reader.read()) body += part.value;
    expect(body).toContain('{"hasNext":false,"incremental":[{"path":["book"],"data":{"id":"2","title":"Parable of the Sower","reviews":["prescient","bleak"]}}]}');
    expect(body).toMatch(/\r\n-----\r\n$/);
    await middleware!.flush!();
    const [event] = await waitFor(() => collector.events().length > 0 && collector.events());
    expect(event!.response.status).toBe(200);
    expect(event!.response.body).toBe(body);
    expect(event!.metadata).toBeUndefined();
    expect(Date.parse(event!.response.time)).toBeGreaterThanOrEqual(Date.parse(event!.request.time));
  });
});
