// @vitest-environment node
/**
 * Route handlers of Next.js's App Router, wrapped as moesif-nodejs's `isNextJsAppRouter` wraps them
 * (`export const GET = moesif(options)(handler)`), called as Next.js calls them: a Web Request and the
 * route's context in, the Response out, its body read (or cancelled) as Next.js hands it to the client.
 * A real collector on 127.0.0.1, and the real moesif-nodejs 3.11 side by side where both should agree.
 * test/package/nextjs.test.ts runs the same wrapping inside a real Next.js app.
 */
import moesifNodejs from 'moesif-nodejs';
import { afterEach, expect, it, vi } from 'vitest';
import moesif, { type MoesifMiddleware, type MoesifOptions, type NextJsAppRouterOptions } from '../../src/server/index';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { serversPerTest, startNodeServer, waitFor } from './helpers';

const servers = serversPerTest();
afterEach(() => {
  vi.restoreAllMocks();
});

/** The App Router's options, as moesif's Next.js example writes them, with hooks that read the Web Request. */
function options(extra: Partial<NextJsAppRouterOptions> = {}): NextJsAppRouterOptions {
  return {
    applicationId: DEFAULT_APP_ID,
    baseUri: servers.collector.url,
    batchMaxTime: 10,
    isNextJsAppRouter: true,
    identifyUser: (req) => req.headers.get('x-user-id') ?? undefined,
    identifyCompany: (req) => req.headers.get('x-company-id') ?? undefined,
    getSessionToken: (req) => req.headers.get('x-session') ?? undefined,
    getMetadata: (req, res) => ({ route: new URL(req.url).pathname, served: res.headers.get('x-served-by') }),
    ...extra,
  };
}

/** What a client sees of an answer: status, headers (but the transaction id's) and body. */
async function seen(response: Response): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const headers = Object.fromEntries(response.headers);
  delete headers['x-moesif-transaction-id'];
  return { status: response.status, headers, body: await response.text() };
}

const order = (body: unknown): Request =>
  new Request('https://shop.example/api/orders?page=2', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer abc.def.ghi', 'x-user-id': 'user_7', 'x-company-id': 'acme', 'x-session': 'sess_1' },
    body: JSON.stringify(body),
  });

const createOrder = async (request: Request, { params }: { params: Promise<{ shop: string }> }): Promise<Response> => {
  const order = (await request.json()) as { item: string };
  return Response.json({ id: 'ord_1', shop: (await params).shop, item: order.item }, { status: 201, headers: { 'x-served-by': 'route' } });
};

it('logs a route handler call with its user, company, session, metadata, bodies and transaction id, and answers as the handler does', async () => {
  const withMoesif = moesif(options());
  const route = withMoesif(createOrder);
  const context = { params: Promise.resolve({ shop: 'north' }) };
  const answer = await route(order({ item: 'book' }), context);
  const transactionId = answer.headers.get('x-moesif-transaction-id');
  expect(transactionId).toMatch(/^[0-9a-f-]{36}$/);
  expect(await seen(answer)).toEqual(await seen(await createOrder(order({ item: 'book' }), { params: Promise.resolve({ shop: 'north' }) })));

  const [event] = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
  expect(event).toMatchObject({
    direction: 'Incoming',
    transaction_id: transactionId,
    user_id: 'user_7',
    company_id: 'acme',
    session_token: 'sess_1',
    metadata: { route: '/api/orders', served: 'route' },
    request: {
      uri: 'https://shop.example/api/orders?page=2',
      verb: 'POST',
      headers: { authorization: 'Bearer *****', 'x-moesif-transaction-id': transactionId },
      body: { item: 'book' },
    },
    response: { status: 201, headers: { 'content-type': 'application/json', 'x-served-by': 'route' }, body: { id: 'ord_1', shop: 'north', item: 'book' } },
  });
});

it('logs what moesif-nodejs logs for the same route handler call', async () => {
  const sdks = { usertrail: moesif(options()), moesif: moesifNodejs({ ...options(), batchMaxTime: 501 } as never) as unknown as MoesifMiddleware };
  for (const [name, withMoesif] of Object.entries(sdks)) {
    const answer = await withMoesif(createOrder)(order({ item: name }), { params: Promise.resolve({ shop: 'north' }) });
    await answer.text();
  }
  const events = await waitFor(() => servers.collector.events().length === 2 && servers.collector.events());
  const [ours, theirs] = ['usertrail', 'moesif'].map((name) => events.find((event) => event.request.body.item === name)!);
  for (const event of [ours, theirs]) {
    expect(event).toMatchObject({
      user_id: 'user_7',
      session_token: 'sess_1',
      metadata: { route: '/api/orders', served: 'route' },
      request: { uri: 'https://shop.example/api/orders?page=2', verb: 'POST' },
      response: { status: 201, body: { id: 'ord_1', shop: 'north' } },
    });
  }
  // moesif-nodejs 3.11 asks identifyUser for the company too (lib/nextjsUtils.js); identifyCompany is asked here.
  expect([ours!.company_id, theirs!.company_id]).toEqual(['acme', 'user_7']);
});

it('works without isNextJsAppRouter: a function given to the middleware is a route handler', async () => {
  const withMoesif = moesif({ applicationId: 'app-1', baseUri: servers.collector.url, batchMaxTime: 10 });
  const answer = await withMoesif(async () => new Response('pong'))(new Request('http://localhost/api/ping'), {});
  expect(await answer.text()).toBe('pong');
  const [event] = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
  expect(event).toMatchObject({ request: { verb: 'GET', uri: 'http://localhost/api/ping' }, response: { status: 200, body: 'pong' } });
});

it('hands a route handler back as it is when the middleware is disabled (no applicationId)', async () => {
  vi.spyOn(console, 'error').mockImplementation(() => {});
  const handler = async () => new Response('ok');
  // The cast: a JavaScript app can leave out the required option (an unset environment variable).
  expect(moesif({ isNextJsAppRouter: true } as MoesifOptions)(handler)).toBe(handler);
});

it('cancels the handler\'s stream when the client leaves an event stream, and logs the call as far as it went', async () => {
  let cancelled: unknown;
  const encoder = new TextEncoder();
  // A model's answer or a feed: an endless stream that only the client's leaving ends.
  const stream = async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode('data: {"text":"Hel"}\n\n'));
        },
        pull: () => new Promise<void>(() => {}),
        cancel(reason) {
          cancelled = reason ?? 'cancelled';
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    );
  const answer = await moesif(options())(stream)(new Request('https://shop.example/api/chat'), {});
  const reader = answer.body!.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: {"text":"Hel"}\n\n');
  expect(servers.collector.events()).toEqual([]);
  // Next.js cancels the body it reads when the client's connection closes.
  await reader.cancel('client left');
  expect(cancelled).toBe('client left');
  const [event] = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
  expect(event).toMatchObject({
    metadata: { truncated: ['response'] },
    response: { status: 200, headers: { 'content-type': 'text/event-stream' }, body: 'data: {"text":"Hel"}\n\n' },
  });
});

it('answers with a copy carrying the transaction id when the handler returns a response whose headers cannot change (Node\'s fetch())', async () => {
  const upstream = await startNodeServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"upstream":true}'));
  try {
    const proxy = async () => fetch(upstream.url);
    // Headers of a fetch()'s response are immutable (Next.js's own fetch gives a copy, Response.redirect() does not:
    // see test/package/nextjs.test.ts): moesif-nodejs's headers.set() throws, and Next.js answers 500.
    await expect(moesifNodejs({ ...options(), batchMaxTime: 501 } as never)(proxy)(new Request('https://shop.example/api/proxy'), {})).rejects.toThrow(/immutable/);
    const answer = await moesif(options())(proxy)(new Request('https://shop.example/api/proxy'), {});
    expect([answer.status, answer.headers.get('content-type'), await answer.text()]).toEqual([200, 'application/json', '{"upstream":true}']);
    const transactionId = answer.headers.get('x-moesif-transaction-id');
    const events = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
    expect(events[0]).toMatchObject({ transaction_id: transactionId, response: { status: 200, body: { upstream: true } } });
  } finally {
    await upstream.close();
  }
});

it('logs the URL with the host the client called, not the one Next.js puts in request.url', async () => {
  // As Next.js hands it over under `next start`: its own host name, the client's in the Host header.
  const request = new Request('http://localhost:3000/api/ping?q=1', { headers: { host: 'api.shop.example' } });
  await (await moesif(options())(async () => new Response('pong'))(request, {})).text();
  const [event] = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
  expect(event!.request.uri).toBe('http://api.shop.example/api/ping?q=1');
});

it('keeps the client\'s transaction id, as the middleware does', async () => {
  const request = new Request('https://shop.example/api/ping', { headers: { 'x-moesif-transaction-id': 'gateway-42' } });
  const answer = await moesif(options())(async () => new Response(null, { status: 204 }))(request, {});
  expect(answer.headers.get('x-moesif-transaction-id')).toBe('gateway-42');
  const [event] = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
  expect(event).toMatchObject({ transaction_id: 'gateway-42', response: { status: 204 } });
});

it('logs a handler that throws as the 500 Next.js answers, and leaves Next.js\'s own redirect() and notFound() errors to it', async () => {
  const withMoesif = moesif(options());
  const failure = new Error('database down');
  await expect(withMoesif(async () => Promise.reject(failure))(new Request('https://shop.example/api/fail'), {})).rejects.toBe(failure);
  // What redirect() throws: Next.js answers it with a 307 that the wrapper never sees.
  const redirect = Object.assign(new Error('NEXT_REDIRECT'), { digest: 'NEXT_REDIRECT;replace;/login;307;' });
  await expect(withMoesif(async () => Promise.reject(redirect))(new Request('https://shop.example/api/redirect'), {})).rejects.toBe(redirect);
  await withMoesif.flush();
  const events = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
  expect(events.map((event) => [event.request.uri, event.response.status])).toEqual([['https://shop.example/api/fail', 500]]);
  await withMoesif.flush();
  expect(servers.collector.events()).toHaveLength(1);
});

it('records the first requestMaxBodySize bytes of a large upload, and the handler reads all of it', async () => {
  const upload = 'x'.repeat(300_000);
  let received = 0;
  const route = moesif(options({ requestMaxBodySize: 1000 }))(async (request: Request) => {
    received = (await request.text()).length;
    return new Response('stored');
  });
  const answer = await route(new Request('https://shop.example/api/upload', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: upload }), {});
  expect([await answer.text(), received]).toEqual(['stored', 300_000]);
  const [event] = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
  expect(event!.request.body).toBe('x'.repeat(1000));
  expect(event!.metadata).toMatchObject({ truncated: ['request'] });
});

it('logs a HEAD call at once: Next.js answers it with the GET handler and never reads the body', async () => {
  const answer = await moesif(options())(async () => new Response('a body for GET'))(new Request('https://shop.example/api/ping', { method: 'HEAD' }), {});
  expect(answer.status).toBe(200);
  const [event] = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
  expect(event).toMatchObject({ request: { verb: 'HEAD' }, response: { status: 200 } });
  expect(event!.response.body).toBeUndefined();
});

it('skips a call that skip() leaves out, and hands back whatever a handler returns that is not a Response', async () => {
  const withMoesif = moesif(options({ skip: (req) => new URL(req.url).pathname === '/api/health' }));
  const health = await withMoesif(async () => new Response('ok'))(new Request('https://shop.example/api/health'), {});
  expect(await health.text()).toBe('ok');
  const notAResponse = { status: 200 } as unknown as Response;
  expect(await withMoesif(async () => notAResponse)(new Request('https://shop.example/api/odd'), {})).toBe(notAResponse);
  await withMoesif.flush();
  expect(servers.collector.events()).toEqual([]);
});
