// @vitest-environment node
/**
 * startCaptureOutgoing() with the HTTP clients Node apps use: Stripe's SDK (node:http by default, or
 * fetch), Anthropic's SDK (fetch, streamed answers), ofetch, axios (its node:http and fetch adapters),
 * and Node's own fetch in the ways apps call it. Each app runs once without capture and once with it,
 * and must see the same; each call is logged once, secrets masked, and nothing is left open. The
 * upstreams are real servers on 127.0.0.1 speaking what each client expects.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import Anthropic from '@anthropic-ai/sdk';
import axios, { type AxiosResponse } from 'axios';
import { ofetch } from 'ofetch';
import Stripe from 'stripe';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { eventsOf, outgoingCalls, seenOf, startNodeServer, streamOf, waitFor, type Json, type RunningApp } from './helpers';

const { cleanups, collectorFor, capture } = outgoingCalls();

const STRIPE_KEY = 'sk_test_51SecretStripeKey';
const ANTHROPIC_KEY = 'sk-ant-api03-secret-anthropic-key';
/** Bytes that are not text, for answers the app reads as binary. */
const BINARY = randomBytes(5000);

interface Upstream extends RunningApp {
  /** Answers not yet finished or closed (ended, or left by the client). */
  openRequests(): number;
  /** Each request's path and query, method, headers and body, in arrival order. */
  received: Array<{ url: string; method: string; headers: http.IncomingHttpHeaders; body: string }>;
}

/** An event in Anthropic's SSE format: an `event:` line, then its JSON as `data:`. */
const sse = (type: string, data: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/**
 * The upstream every app here calls: Stripe's API (form-encoded POSTs, JSON answers), Anthropic's
 * Messages API (JSON, or server-sent events until the client leaves), and plain routes for fetch.
 */
async function startUpstream(): Promise<Upstream> {
  let open = 0;
  const received: Upstream['received'] = [];
  const failures = new Map<string, number>();
  const server = await startNodeServer((req, res) => {
    open++;
    res.on('close', () => open--);
    const url = new URL(req.url ?? '/', 'http://upstream');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      received.push({ url: req.url ?? '/', method: req.method ?? '', headers: req.headers, body });
      const json = (status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}) => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };
      switch (url.pathname) {
        case '/v1/customers': {
          const form = new URLSearchParams(body);
          json(200, { id: 'cus_1', object: 'customer', email: form.get('email'), metadata: { plan: form.get('metadata[plan]') } }, { 'Request-Id': 'req_create' });
          return;
        }
        case '/v1/customers/cus_1':
          json(200, { id: 'cus_1', object: 'customer', email: 'ada@example.com', metadata: {} }, { 'Request-Id': 'req_get' });
          return;
        case '/v1/charges':
          json(402, { error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' } }, { 'Request-Id': 'req_declined' });
          return;
        case '/v1/messages': {
          const asked = JSON.parse(body) as { stream?: boolean; model: string; messages: Array<{ content: string }> };
          const prompt = asked.messages[0]!.content;
          if (prompt.startsWith('overloaded') && !failures.has(prompt)) {
            // Overloaded once per prompt: the SDK retries after the delay the API asks for.
            failures.set(prompt, 1);
            json(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, { 'retry-after-ms': '10' });
            return;
          }
          const message = { id: 'msg_1', type: 'message', role: 'assistant', model: asked.model, stop_sequence: null };
          if (!asked.stream) {
            json(200, { ...message, content: [{ type: 'text', text: `echo: ${prompt}` }], stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 2 } });
            return;
          }
          res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
          res.write(sse('message_start', { message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 1 } } }));
          res.write(sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
          const delta = (text: string) => sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
          if (prompt !== 'forever') {
            for (const word of ['echo', ': ', prompt]) res.write(delta(word));
            res.write(sse('content_block_stop', { index: 0 }));
            res.write(sse('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }));
            res.end(sse('message_stop', {}));
            return;
          }
          // A model that writes until its client leaves: one token every 10 ms.
          const timer = setInterval(() => res.write(delta('token ')), 10);
          res.on('close', () => clearInterval(timer));
          return;
        }
        case '/json':
          json(200, { hello: url.searchParams.get('name') ?? 'world' }, { 'X-Upstream': 'yes' });
          return;
        case '/echo':
          json(200, { method: req.method, received: body, type: req.headers['content-type'] ?? null });
          return;
        case '/flaky': {
          // Fails `fail` times per id (503), then answers.
          const id = url.searchParams.get('id') ?? '';
          const failed = failures.get(id) ?? 0;
          if (failed < Number(url.searchParams.get('fail'))) {
            failures.set(id, failed + 1);
            json(503, { error: 'try again' });
          } else json(200, { ok: true, attempts: failed + 1 });
          return;
        }
        case '/redirect':
          res.writeHead(302, { Location: '/json?name=redirected' }).end('moved');
          return;
        case '/binary':
          res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
          res.end(BINARY);
          return;
        case '/large':
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end('a'.repeat(Number(url.searchParams.get('bytes'))));
          return;
        case '/drip': {
          // A body that never ends: a line every 10 ms until the client leaves.
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('line\n');
          const timer = setInterval(() => res.write('line\n'), 10);
          res.on('close', () => clearInterval(timer));
          return;
        }
        case '/lines': {
          // JSON Lines until the client leaves, in the type the query names.
          res.writeHead(200, { 'Content-Type': url.searchParams.get('type') ?? 'application/jsonl' });
          let sent = 0;
          res.write(`{"n":${sent++}}\n`);
          const timer = setInterval(() => res.write(`{"n":${sent++}}\n`), 10);
          res.on('close', () => clearInterval(timer));
          return;
        }
        case '/hang':
          return; // never answers
        default:
          res.writeHead(404).end();
      }
    });
  });
  cleanups.push(async () => {
    // Whatever each test did, with capture as without, no answer is left open at its end.
    await waitFor(() => open === 0);
    await server.close();
  });
  return { ...server, openRequests: () => open, received };
}

/** An upstream, and a function that starts capture to a collector of its own (called between the app's two runs). */
async function setUp(options: Json = {}) {
  const upstream = await startUpstream();
  return {
    upstream,
    async startCapture() {
      const collector = await collectorFor('usertrail');
      const middleware = capture('usertrail', collector, options);
      return { collector, middleware, events: (count: number) => eventsOf(collector, middleware, count) };
    },
  };
}

/** An event as a line to compare: method, path and query, status. */
const callOf = (event: Json) => `${event.request.verb} ${new URL(event.request.uri).pathname}${new URL(event.request.uri).search} ${event.response.status}`;

/** Headers that differ between two runs whatever capture does. */
const withoutDate = (headers: Array<[string, string]>) => headers.filter(([name]) => name !== 'date');

describe("Node's global fetch, as apps call it", () => {
  it('AbortSignal.timeout(): the app gets its TimeoutError, before the answer (599) or while reading the body (logged with its status, cut)', async () => {
    const { upstream, startCapture } = await setUp();
    const app = async () => {
      const beforeAnswer = await fetch(`${upstream.url}/hang`, { signal: AbortSignal.timeout(50) }).catch((error: Error) => error.name);
      const dripping = await fetch(`${upstream.url}/drip`, { signal: AbortSignal.timeout(300) });
      const whileReading = await dripping.text().catch((error: Error) => error.name);
      return { beforeAnswer, status: dripping.status, whileReading };
    };
    const without = await app();
    expect(without).toEqual({ beforeAnswer: 'TimeoutError', status: 200, whileReading: 'TimeoutError' });
    const { events } = await startCapture();
    expect(await app()).toEqual(without);
    const logged = await events(2);
    expect(logged.map(callOf).sort()).toEqual(['GET /drip 200', 'GET /hang 599']);
    const drip = logged.find((e) => e.request.uri.endsWith('/drip'))!;
    expect(drip.response.body).toMatch(/^(line\n)+$/);
    expect(drip.metadata).toEqual({ truncated: ['response'] });
    await waitFor(() => upstream.openRequests() === 0);
  });

  it("redirect: 'manual' gives the app the 302 and logs it; redirect: 'error' rejects as without capture and logs 599", async () => {
    const { upstream, startCapture } = await setUp();
    const app = async () => {
      const manual = await fetch(`${upstream.url}/redirect`, { redirect: 'manual' });
      const seen = await seenOf(manual);
      const refused = await fetch(`${upstream.url}/redirect?error`, { redirect: 'error' }).catch((error: Error) => `${error.name}: ${error.message}`);
      return { ...seen, headers: withoutDate(seen.headers), refused };
    };
    const without = await app();
    expect(without).toMatchObject({ status: 302, redirected: false, body: 'moved', refused: 'TypeError: fetch failed' });
    const { events } = await startCapture();
    expect(await app()).toEqual(without);
    const logged = await events(2);
    expect(logged.map(callOf).sort()).toEqual(['GET /redirect 302', 'GET /redirect?error 599']);
    expect(logged.find((e) => e.response.status === 302)!.response).toMatchObject({ headers: { location: '/json?name=redirected' }, body: 'moved' });
  });

  it('keepalive: the POST goes out and is logged with its body', async () => {
    const { upstream, startCapture } = await setUp();
    const app = async () => (await fetch(`${upstream.url}/echo`, { method: 'POST', keepalive: true, headers: { 'Content-Type': 'application/json' }, body: '{"beacon":1}' })).json();
    const without = await app();
    const { events } = await startCapture();
    expect(await app()).toEqual(without);
    const [event] = await events(1);
    expect(event).toMatchObject({ request: { verb: 'POST', body: { beacon: 1 } }, response: { status: 200, body: { method: 'POST', received: '{"beacon":1}' } } });
  });

  it('response.body piped to a file (Readable.fromWeb, stream.pipeline): the file is whole, the event cut at the cap, the upstream done', async () => {
    const { upstream, startCapture } = await setUp({ responseMaxBodySize: 1000 });
    const dir = mkdtempSync(join(tmpdir(), 'usertrail-download-'));
    const app = async (name: string) => {
      const answer = await fetch(`${upstream.url}/large?bytes=3000000`);
      await pipeline(Readable.fromWeb(answer.body as NodeReadableStream<Uint8Array>), createWriteStream(join(dir, name)));
      return readFileSync(join(dir, name)).length;
    };
    expect(await app('without')).toBe(3_000_000);
    const { events } = await startCapture();
    expect(await app('with')).toBe(3_000_000);
    const [event] = await events(1);
    expect([callOf(event!), event!.response.body.length, event!.metadata]).toEqual(['GET /large?bytes=3000000 200', 1000, { truncated: ['response'] }]);
    await waitFor(() => upstream.openRequests() === 0);
  });

  it('await response.arrayBuffer() of a binary: the same bytes for the app, base64 in the event', async () => {
    const { upstream, startCapture } = await setUp();
    const app = async () => Buffer.from(await (await fetch(`${upstream.url}/binary`)).arrayBuffer());
    expect((await app()).equals(BINARY)).toBe(true);
    const { events } = await startCapture();
    expect((await app()).equals(BINARY)).toBe(true);
    const [event] = await events(1);
    expect(event!.response.transfer_encoding).toBe('base64');
    expect(Buffer.from(event!.response.body, 'base64').equals(BINARY)).toBe(true);
  });

  it('a Request the app clones and reuses: each call sent and logged once with its body; a call fetch refuses (its body used, or sent with GET) rejected as without capture, and not logged', async () => {
    const { upstream, startCapture } = await setUp();
    const app = async () => {
      const template = new Request(`${upstream.url}/echo`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Call': 'template' }, body: '{"n":1}' });
      const answers: unknown[] = [];
      answers.push(await (await fetch(template.clone())).json());
      answers.push(await (await fetch(template.clone(), { headers: { 'X-Call': 'override' } })).json());
      // Refused by fetch before anything is sent: a GET carrying the Request's body.
      answers.push(await fetch(template.clone(), { method: 'GET' }).catch((error: Error) => `${error.name}: ${error.message}`));
      answers.push(await (await fetch(template)).json());
      // Refused too: its body is used.
      answers.push(await fetch(template).catch((error: Error) => `${error.name}: ${error.message}`));
      answers.push(template.bodyUsed);
      return answers;
    };
    const without = await app();
    expect([without[2], without[4]]).toEqual([expect.stringMatching(/^TypeError/), expect.stringMatching(/^TypeError/)]);
    const { events, middleware, collector } = await startCapture();
    expect(await app()).toEqual(without);
    const logged = await events(3);
    expect(logged.map((e) => [callOf(e), e.request.headers['x-call'], e.request.body])).toEqual([
      ['POST /echo 200', 'template', { n: 1 }],
      ['POST /echo 200', 'override', { n: 1 }],
      ['POST /echo 200', 'template', { n: 1 }],
    ]);
    await middleware.flush?.();
    expect(collector.events()).toHaveLength(3);
    expect(upstream.received).toHaveLength(6);
  });

  it("a Request carrying a body the app streams: the upstream gets all of it, the event the Request's first requestMaxBodySize bytes", async () => {
    const { upstream, startCapture } = await setUp({ requestMaxBodySize: 10 });
    const app = async () => {
      const body = streamOf(['one ', 'two ', 'three']);
      return (await fetch(new Request(`${upstream.url}/echo`, { method: 'POST', body, duplex: 'half' } as RequestInit))).json();
    };
    const without = await app();
    expect(without).toEqual({ method: 'POST', received: 'one two three', type: null });
    const { events } = await startCapture();
    expect(await app()).toEqual(without);
    const [event] = await events(1);
    expect([event!.request.body, event!.metadata]).toEqual(['one two th', { truncated: ['request'] }]);
  });

  it("a streamed body without duplex: 'half' is refused by fetch as without capture, and not logged", async () => {
    const { upstream, startCapture } = await setUp();
    const app = () =>
      Promise.all([
        fetch(`${upstream.url}/echo?stream`, { method: 'POST', body: new ReadableStream() }).catch((error: Error) => `${error.name}: ${error.message}`),
        fetch(`${upstream.url}/echo?iterable`, { method: 'POST', body: Readable.from(['a']) as unknown as BodyInit }).catch((error: Error) => `${error.name}: ${error.message}`),
      ]);
    const without = await app();
    expect(without).toEqual(Array(2).fill('TypeError: RequestInit: duplex option is required when sending a body.'));
    const { collector, middleware } = await startCapture();
    expect(await app()).toEqual(without);
    // A call the app makes next is the only one logged.
    await fetch(`${upstream.url}/json`);
    expect((await eventsOf(collector, middleware, 1)).map(callOf)).toEqual(['GET /json 200']);
    await middleware.flush?.();
    expect(collector.events()).toHaveLength(1);
    expect(upstream.received.map((r) => r.url)).toEqual(['/json']);
  });

  it('JSON Lines and NDJSON streams are logged without being read: the app leaving one closes it at once', async () => {
    const { upstream, startCapture } = await setUp();
    const { events } = await startCapture();
    for (const type of ['application/jsonl', 'application/x-ndjson']) {
      const answer = await fetch(`${upstream.url}/lines?type=${encodeURIComponent(type)}`);
      const reader = answer.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^\{"n":0\}/);
      await reader.cancel();
      // No copy of capture's keeps the stream: it closes now, not at maxOutgoingTimeout (30 s).
      await waitFor(() => upstream.openRequests() === 0);
    }
    const logged = await events(2);
    expect(logged.map((e) => [e.response.headers['content-type'], e.response.body])).toEqual([
      ['application/jsonl', undefined],
      ['application/x-ndjson', undefined],
    ]);
  });

  it('200 calls in parallel: each answered as without capture, logged once, none lost; once logged, capture keeps none of them', async () => {
    const { upstream, startCapture } = await setUp({ batchSize: 50, responseMaxBodySize: 1000 });
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    /** The app's calls, and how many of their Responses are still reachable once logged (after a full collection). */
    const app = async (logged: () => Promise<unknown>) => {
      const responses: Array<WeakRef<Response>> = [];
      const lengths = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const response = await fetch(`${upstream.url}/large?bytes=200000&call=${i}`);
          responses.push(new WeakRef(response));
          return (await response.text()).length;
        }),
      );
      await logged();
      await waitFor(() => upstream.openRequests() === 0);
      // WeakRefs hold their targets until the task that made them ends.
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      return { lengths, reachable: responses.filter((ref) => ref.deref() !== undefined).length };
    };
    const without = await app(async () => {});
    expect(without).toEqual({ lengths: Array(200).fill(200_000), reachable: 0 });
    const { events, middleware, collector } = await startCapture();
    expect(await app(() => events(200))).toEqual(without);
    await middleware.flush?.();
    const logged = collector.events();
    expect(logged).toHaveLength(200);
    expect(new Set(logged.map((e) => new URL(e.request.uri).search)).size).toBe(200);
    expect(logged.every((e) => e.response.status === 200 && e.response.body.length === 1000)).toBe(true);
  });

  it('a fetch started before startCaptureOutgoing() and finished after is answered, and not logged', async () => {
    const { upstream, startCapture } = await setUp();
    const started = fetch(`${upstream.url}/json?name=before`);
    const { collector, middleware } = await startCapture();
    expect(await (await started).json()).toEqual({ hello: 'before' });
    expect(await (await fetch(`${upstream.url}/json?name=after`)).json()).toEqual({ hello: 'after' });
    const logged = await eventsOf(collector, middleware, 1);
    await middleware.flush?.();
    expect(logged.map(callOf)).toEqual(['GET /json?name=after 200']);
  });

  it('stop() while calls are in flight: they reach the app as without capture and are logged once; calls after it are not', async () => {
    const { upstream, startCapture } = await setUp();
    const { collector, middleware } = await startCapture();
    const stop = cleanups.at(-1) as () => void;
    const viaFetch = fetch(`${upstream.url}/large?bytes=300000`);
    const viaHttp = new Promise<http.IncomingMessage>((resolve) => http.get(`${upstream.url}/json?name=http`, resolve));
    const early = await viaFetch;
    stop();
    expect(await early.text()).toHaveLength(300_000);
    const res = await viaHttp;
    let text = '';
    for await (const chunk of res) text += chunk;
    expect(JSON.parse(text)).toEqual({ hello: 'http' });
    expect(await (await fetch(`${upstream.url}/json?name=stopped`)).json()).toEqual({ hello: 'stopped' });
    const logged = await eventsOf(collector, middleware, 2);
    await middleware.flush?.();
    expect(logged.map(callOf).sort()).toEqual(['GET /json?name=http 200', 'GET /large?bytes=300000 200']);
    await waitFor(() => upstream.openRequests() === 0);
  });
});

describe("Stripe's SDK (23.2): node:http by default, or fetch", () => {
  /** A Stripe client talking to the fake API over plain HTTP, without retries (each call is one request). */
  const stripeAt = (upstream: Upstream, httpClient?: Stripe.HttpClient) =>
    new Stripe(STRIPE_KEY, { host: '127.0.0.1', port: new URL(upstream.url).port, protocol: 'http', maxNetworkRetries: 0, ...(httpClient ? { httpClient } : {}) });

  /** What an app sees of a customer created, one read, and a declined charge. */
  async function app(stripe: Stripe) {
    const created = await stripe.customers.create({ email: 'ada@example.com', metadata: { plan: 'pro' } });
    const read = await stripe.customers.retrieve('cus_1');
    const declined = await stripe.charges.create({ amount: 2000, currency: 'usd', source: 'tok_visa' }).then(
      () => {
        throw new Error('the fake API declines every charge');
      },
      (error: Stripe.errors.StripeError) => error,
    );
    return {
      created: { ...created, requestId: created.lastResponse.requestId, status: created.lastResponse.statusCode },
      read: { ...read, requestId: read.lastResponse.requestId },
      declined: { type: declined.type, code: declined.code, status: declined.statusCode, message: declined.message, requestId: declined.requestId },
    };
  }

  /** The three calls as logged: once each, form bodies recorded, the secret key nowhere. */
  function expectLogged(events: Json[], upstream: Upstream) {
    expect(events.map(callOf).sort()).toEqual(['GET /v1/customers/cus_1 200', 'POST /v1/charges 402', 'POST /v1/customers 200']);
    const create = events.find((e) => e.request.uri.endsWith('/v1/customers'))!;
    expect(create.request).toMatchObject({
      uri: `${upstream.url}/v1/customers`,
      headers: { authorization: 'Bearer *****', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=ada%40example.com&metadata[plan]=pro',
    });
    expect(create.response).toMatchObject({ headers: { 'request-id': 'req_create' }, body: { id: 'cus_1', metadata: { plan: 'pro' } } });
    expect(events.find((e) => e.response.status === 402)!.response.body).toMatchObject({ error: { code: 'card_declined' } });
    expect(JSON.stringify(events)).not.toContain(STRIPE_KEY);
  }

  it('its default client is node:http (httplib "node"): each call logged once, the key masked, the app sees the same, whenever the client was made', async () => {
    const { upstream, startCapture } = await setUp();
    // One client for both runs, made before the start: node:http is looked up at each call.
    const stripe = stripeAt(upstream);
    const without = await app(stripe);
    expect(without.declined).toMatchObject({ type: 'StripeCardError', status: 402, requestId: 'req_declined' });
    const { events } = await startCapture();
    expect(await app(stripe)).toEqual(without);
    expectLogged(await events(3), upstream);
    const userAgents = upstream.received.map((r) => JSON.parse(String(r.headers['x-stripe-client-user-agent'])).httplib);
    expect(new Set(userAgents)).toEqual(new Set(['node']));
    // Stripe's agent keeps its sockets for the next call; every answer is done.
    await waitFor(() => upstream.openRequests() === 0);
  });

  it('Stripe.createFetchHttpClient() goes through global fetch (httplib "fetch"): logged as the node:http calls are', async () => {
    const { upstream, startCapture } = await setUp();
    const without = await app(stripeAt(upstream, Stripe.createFetchHttpClient()));
    const { events } = await startCapture();
    // Made after the start: Stripe's fetch client keeps the fetch it finds when it is made.
    expect(await app(stripeAt(upstream, Stripe.createFetchHttpClient()))).toEqual(without);
    expectLogged(await events(3), upstream);
    expect(new Set(upstream.received.map((r) => JSON.parse(String(r.headers['x-stripe-client-user-agent'])).httplib))).toEqual(new Set(['fetch']));
    await waitFor(() => upstream.openRequests() === 0);
  });
});

describe("Anthropic's SDK (1.17, global fetch)", () => {
  // 1.17 sends the key as `Authorization: Bearer`; the API's documented `x-api-key` (which gateways
  // in front of it take) goes as a default header of the app's.
  const anthropicAt = (upstream: Upstream) => new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: upstream.url, maxRetries: 0, defaultHeaders: { 'x-api-key': ANTHROPIC_KEY } });
  const ask = (content: string) => ({ model: 'claude-test', max_tokens: 64, messages: [{ role: 'user' as const, content }] });

  /** A message, a streamed one read through `stream: true` and through `.stream()`, and two the app stops mid-answer. */
  async function app(client: Anthropic, upstream: Upstream) {
    const message = await client.messages.create(ask('hello'));
    const streamed: string[] = [];
    for await (const event of await client.messages.create({ ...ask('streamed'), stream: true })) streamed.push(event.type);
    const helper = client.messages.stream(ask('helper'));
    const helped = await helper.finalMessage();

    // The app leaves a stream after three tokens: by break, and by the helper's abort().
    let tokens = 0;
    for await (const event of await client.messages.create({ ...ask('forever'), stream: true })) {
      if (event.type === 'content_block_delta' && ++tokens === 3) break;
    }
    const aborted = client.messages.stream(ask('forever'));
    let helperTokens = 0;
    aborted.on('text', () => {
      if (++helperTokens === 3) aborted.abort();
    });
    const abortError = await aborted.done().catch((error: Error) => error.name);
    // Both streams closed at the upstream, as soon as the app left them.
    await waitFor(() => upstream.openRequests() === 0);
    return { message: message.content, streamed, helped: helped.content, abortError };
  }

  it("an answer the SDK retries (529 overloaded): each attempt logged once, the app getting the retry's message", async () => {
    const { upstream, startCapture } = await setUp();
    const app = async (prompt: string) => {
      const client = new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: upstream.url, maxRetries: 1 });
      return (await client.messages.create(ask(prompt))).content;
    };
    const without = await app('overloaded without');
    expect(without).toEqual([{ type: 'text', text: 'echo: overloaded without' }]);
    const { events } = await startCapture();
    expect(await app('overloaded with')).toEqual([{ type: 'text', text: 'echo: overloaded with' }]);
    const logged = await events(2);
    expect(logged.map((e) => [callOf(e), e.request.headers['x-stainless-retry-count'], e.response.body.error?.type ?? e.response.body.content[0].text])).toEqual([
      ['POST /v1/messages 529', '0', 'overloaded_error'],
      ['POST /v1/messages 200', '1', 'echo: overloaded with'],
    ]);
  });

  it('a client made before startCaptureOutgoing() keeps the unwrapped fetch it took: its calls are answered and not logged, and one warning says so and what to do; one made after is logged', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    onTestFinished(() => warn.mockRestore());
    const { upstream, startCapture } = await setUp();
    const before = anthropicAt(upstream);
    const { events, middleware, collector } = await startCapture();
    const after = anthropicAt(upstream);
    expect((await after.messages.create(ask('after'))).content).toEqual([{ type: 'text', text: 'echo: after' }]);
    // Calls through the wrapper, logged or not, warn of nothing.
    expect(warn).not.toHaveBeenCalled();
    expect((await before.messages.create(ask('before'))).content).toEqual([{ type: 'text', text: 'echo: before' }]);
    expect((await before.messages.create(ask('before, again'))).content).toEqual([{ type: 'text', text: 'echo: before, again' }]);
    const logged = await events(1);
    await middleware.flush?.();
    expect(collector.events()).toHaveLength(1);
    expect(logged[0]!.request.body.messages[0].content).toBe('after');
    expect(warn.mock.calls).toEqual([[expect.stringMatching(/^\[usertrail\/server\] an outgoing call went out unlogged: .*fetch taken before startCaptureOutgoing\(\).*make such clients after starting capture$/)]]);
  });

  it('logs each call once (a streamed answer without its body), the key masked; an app that leaves a stream closes it', async () => {
    const { upstream, startCapture } = await setUp();
    const without = await app(anthropicAt(upstream), upstream);
    expect(without).toMatchObject({ message: [{ text: 'echo: hello' }], helped: [{ text: 'echo: helper' }], abortError: 'APIUserAbortError' });
    expect(without.streamed).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    const { events } = await startCapture();
    expect(await app(anthropicAt(upstream), upstream)).toEqual(without);

    const logged = await events(5);
    expect(logged.map(callOf)).toEqual(Array(5).fill('POST /v1/messages 200'));
    const byPrompt = (prompt: string) => logged.filter((e) => e.request.body.messages[0].content === prompt);
    expect(byPrompt('hello')[0]).toMatchObject({
      request: { headers: { authorization: 'Bearer *****', 'x-api-key': '*****', 'content-type': 'application/json' }, body: { model: 'claude-test', max_tokens: 64 } },
      response: { headers: { 'content-type': 'application/json' }, body: { content: [{ text: 'echo: hello' }] } },
    });
    for (const streamed of [...byPrompt('streamed'), ...byPrompt('helper'), ...byPrompt('forever')]) {
      expect([streamed.request.body.stream, streamed.response.headers['content-type'], streamed.response.body]).toEqual([true, 'text/event-stream', undefined]);
    }
    expect(byPrompt('forever')).toHaveLength(2);
    expect(JSON.stringify(logged)).not.toContain(ANTHROPIC_KEY);
  });
});

describe('ofetch (1.5, global fetch)', () => {
  it('logs each attempt of a retried call once, the interceptors\' headers masked, the app getting what its interceptors made', async () => {
    const { upstream, startCapture } = await setUp();
    const app = async (run: string) => {
      const api = ofetch.create({
        baseURL: upstream.url,
        retry: 2,
        retryDelay: 0,
        retryStatusCodes: [503],
        onRequest({ options }) {
          options.headers.set('Authorization', 'Bearer sk_live_interceptor');
        },
        onResponse({ response }) {
          if (response._data && typeof response._data === 'object') response._data = { ...response._data, intercepted: true };
        },
      });
      const retried = await api('/flaky', { query: { id: run, fail: 2 } });
      const posted = await api('/echo', { method: 'POST', body: { amount: 1 } });
      return { retried, posted };
    };
    const without = await app('without');
    expect(without).toEqual({
      retried: { ok: true, attempts: 3, intercepted: true },
      posted: { method: 'POST', received: '{"amount":1}', type: 'application/json', intercepted: true },
    });
    const { events } = await startCapture();
    expect(await app('with')).toEqual(without);
    const logged = await events(4);
    expect(logged.map(callOf)).toEqual(['GET /flaky?id=with&fail=2 503', 'GET /flaky?id=with&fail=2 503', 'GET /flaky?id=with&fail=2 200', 'POST /echo 200']);
    expect(logged.map((e) => e.request.headers.authorization)).toEqual(Array(4).fill('Bearer *****'));
    expect(logged[3]).toMatchObject({ request: { headers: { 'content-type': 'application/json' }, body: { amount: 1 } }, response: { body: { received: '{"amount":1}' } } });
    expect(JSON.stringify(logged)).not.toContain('sk_live_interceptor');
  });

  it("responseType: 'stream': the app reads the whole stream, or stops one that never ends, which capture closes at maxOutgoingTimeout", async () => {
    const { upstream, startCapture } = await setUp({ responseMaxBodySize: 1000, maxOutgoingTimeout: 300 });
    const app = async () => {
      const whole = await ofetch(`${upstream.url}/large?bytes=300000`, { responseType: 'stream' });
      let length = 0;
      for await (const chunk of Readable.fromWeb(whole as NodeReadableStream<Uint8Array>)) length += (chunk as Buffer).length;
      const endless = await ofetch(`${upstream.url}/drip`, { responseType: 'stream' });
      const reader = endless.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      return { length, first };
    };
    const without = await app();
    expect(without).toEqual({ length: 300_000, first: 'line\n' });
    await waitFor(() => upstream.openRequests() === 0);
    const { events } = await startCapture();
    expect(await app()).toEqual(without);
    // The app's cancel does not reach the upstream while capture's copy reads (README): it closes
    // once capture has its responseMaxBodySize bytes, or at maxOutgoingTimeout.
    await waitFor(() => upstream.openRequests() === 0);
    const logged = await events(2);
    expect(logged.map((e) => [callOf(e), e.response.body.length, e.metadata])).toEqual([
      ['GET /large?bytes=300000 200', 1000, { truncated: ['response'] }],
      ['GET /drip 200', expect.any(Number), { truncated: ['response'] }],
    ]);
  });
});

describe('axios: its node:http adapter (the default in Node) and its fetch adapter', () => {
  /** What an app sees of an axios answer. */
  const seenOfAxios = (answer: AxiosResponse) => ({ status: answer.status, data: answer.data as unknown, type: answer.headers['content-type'] as unknown, upstream: answer.headers['x-upstream'] as unknown });

  for (const adapter of ['http', 'fetch'] as const) {
    it(`adapter '${adapter}': a JSON POST, a GET, a binary as arraybuffer, each logged once as the app saw it, the key masked`, async () => {
      const { upstream, startCapture } = await setUp();
      const client = axios.create({ baseURL: upstream.url, adapter, headers: { Authorization: 'Bearer sk_live_axios' } });
      const app = async () => {
        const posted = seenOfAxios(await client.post('/echo', { amount: 42 }));
        const got = seenOfAxios(await client.get('/json', { params: { name: 'axios' } }));
        const binary = await client.get<ArrayBuffer>('/binary', { responseType: 'arraybuffer' });
        return { posted, got, binary: Buffer.from(binary.data).equals(BINARY) };
      };
      const without = await app();
      expect(without).toMatchObject({ posted: { status: 200, data: { received: '{"amount":42}', type: 'application/json' } }, got: { data: { hello: 'axios' }, upstream: 'yes' }, binary: true });
      const { events } = await startCapture();
      expect(await app()).toEqual(without);
      const logged = await events(3);
      expect(logged.map(callOf).sort()).toEqual(['GET /binary 200', 'GET /json?name=axios 200', 'POST /echo 200']);
      const byPath = (path: string) => logged.find((e) => new URL(e.request.uri).pathname === path)!;
      expect(byPath('/echo')).toMatchObject({ request: { headers: { authorization: 'Bearer *****', 'content-type': 'application/json' }, body: { amount: 42 } } });
      expect(byPath('/json').response).toMatchObject({ headers: { 'x-upstream': 'yes' }, body: { hello: 'axios' } });
      expect(Buffer.from(byPath('/binary').response.body, 'base64').equals(BINARY)).toBe(true);
      expect(JSON.stringify(logged)).not.toContain('sk_live_axios');
      await waitFor(() => upstream.openRequests() === 0);
    });
  }
});
