// @vitest-environment node
/**
 * X-Moesif-Transaction-Id, side by side with the real moesif-nodejs 3.11: each SDK in an Express app
 * of its own on 127.0.0.1 (node:http2 for HTTP/2), logging to a recording collector of its own. What
 * the client gets (the header's name as sent, its value) and which id the event carries must be
 * the same.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createHttp2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import express from 'express';
import moesifNodejs from 'moesif-nodejs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import usertrail from '../../src/server/index';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { startApp, startRecorder, waitFor, type Recorder, type RunningApp } from './helpers';

type Sdk = 'moesif-nodejs' | 'usertrail';
// any: moesif-nodejs is JavaScript; both are called as the apps call them.
type Json = Record<string, any>;
type Factory = (options: Json) => Json & ((req: IncomingMessage, res: ServerResponse, next?: () => void) => void);
const FACTORY: Record<Sdk, Factory> = {
  'moesif-nodejs': moesifNodejs as unknown as Factory,
  usertrail: usertrail as unknown as Factory,
};
const SDKS: Sdk[] = ['moesif-nodejs', 'usertrail'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const CLIENT_ID = 'gateway-7f3c2a10-call-42';

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close();
});

/** The middleware of `sdk`, logging to a collector of its own. */
async function middlewareOf(sdk: Sdk, options: Json = {}) {
  const collector = await startRecorder(0, { contract: sdk === 'usertrail' });
  opened.push(collector);
  // usertrail/server's batches leave at once here; moesif-nodejs's after its shortest batchMaxTime (it refuses 500 or less).
  const timing = { batchMaxTime: sdk === 'usertrail' ? 10 : 501 };
  const middleware = FACTORY[sdk]({ applicationId: DEFAULT_APP_ID, baseUri: collector.url, ...timing, ...options });
  return { collector, middleware };
}

/** An Express app with the middleware of `sdk` mounted first (after `before`, when given). */
async function appOf(sdk: Sdk, options: Json, routes: (app: express.Express) => void, before?: (app: express.Express) => void) {
  const { collector, middleware } = await middlewareOf(sdk, options);
  const api: RunningApp = await startApp((app) => {
    before?.(app);
    app.use(middleware as unknown as express.RequestHandler);
    routes(app);
  });
  opened.push(api);
  return { collector, middleware, url: api.url };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header names as they came on the wire (Node lower-cases `headers`). */
  rawNames: string[];
  body: string;
}

/** One GET over node:http, so that the header names can be read as sent. */
function get(url: string, headers: Record<string, string> = {}, onResponse?: (res: IncomingMessage) => void): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      onResponse?.(res);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const rawNames = res.rawHeaders.filter((_, i) => i % 2 === 0);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawNames, body });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const events = (collector: Recorder, count: number) => waitFor(() => collector.events().length >= count && collector.events(), 10_000);
/**
 * The one event `sdk`'s middleware logged, once flushed, carries `id`: in its request headers (where
 * moesif-nodejs puts it) and, for usertrail/server, as its transaction_id.
 */
async function expectLoggedId(sdk: Sdk, { collector, middleware }: Awaited<ReturnType<typeof middlewareOf>>, id: string): Promise<void> {
  await middleware.flush?.();
  const [event] = await events(collector, 1);
  expect({ sdk, id: event?.request.headers['x-moesif-transaction-id'] }).toEqual({ sdk, id });
  if (sdk === 'usertrail') expect(event?.transaction_id).toBe(id);
}
const byPath = (list: Json[], path: string) => list.find((event) => new URL(event.request.uri).pathname === path);

describe('each logged call gets an X-Moesif-Transaction-Id response header, as with moesif-nodejs', () => {
  it('sends a new UUID, or echoes the id the client sent, under the lower-case name; the event carries that id', async () => {
    for (const sdk of SDKS) {
      const { collector, middleware, url } = await appOf(sdk, {}, (app) => {
        app.get(['/new', '/given'], (_req, res) => void res.json({ ok: true }));
      });
      const fresh = await get(`${url}/new`);
      const given = await get(`${url}/given`, { 'X-Moesif-Transaction-Id': CLIENT_ID });

      expect({ sdk, body: fresh.body }).toEqual({ sdk, body: '{"ok":true}' });
      // moesif-nodejs sets it with setHeader('x-moesif-transaction-id'): Node sends the name as set.
      expect({ sdk, names: fresh.rawNames.filter((name) => /transaction/i.test(name)) }).toEqual({ sdk, names: ['x-moesif-transaction-id'] });
      const freshId = String(fresh.headers['x-moesif-transaction-id']);
      expect({ sdk, freshId }).toEqual({ sdk, freshId: expect.stringMatching(UUID) });
      expect({ sdk, echoed: given.headers['x-moesif-transaction-id'] }).toEqual({ sdk, echoed: CLIENT_ID });

      await middleware.flush?.();
      const logged = await events(collector, 2);
      // moesif-nodejs puts the id in the event's request headers (it sends no transaction_id field).
      expect({ sdk, id: byPath(logged, '/new')?.request.headers['x-moesif-transaction-id'] }).toEqual({ sdk, id: freshId });
      expect({ sdk, id: byPath(logged, '/new')?.response.headers['x-moesif-transaction-id'] }).toEqual({ sdk, id: freshId });
      expect({ sdk, id: byPath(logged, '/given')?.request.headers['x-moesif-transaction-id'] }).toEqual({ sdk, id: CLIENT_ID });
      if (sdk === 'usertrail') {
        expect(byPath(logged, '/new')?.transaction_id).toBe(freshId);
        expect(byPath(logged, '/given')?.transaction_id).toBe(CLIENT_ID);
      }
    }
  }, 30_000);

  it('sends the header with the first chunk of a streamed answer, before the app ends it', async () => {
    for (const sdk of SDKS) {
      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      const { collector, middleware, url } = await appOf(sdk, {}, (app) => {
        app.get('/stream', (_req, res) => {
          res.setHeader('Content-Type', 'text/event-stream');
          res.write('data: 1\n\n');
          void released.then(() => res.end('data: 2\n\n'));
        });
      });
      let idWhileStreaming: unknown;
      // The answer's head arrives while the app still holds its end: only then is it released.
      const answer = await get(`${url}/stream`, {}, (res) => {
        idWhileStreaming = res.headers['x-moesif-transaction-id'];
        release();
      });
      expect({ sdk, body: answer.body }).toEqual({ sdk, body: 'data: 1\n\ndata: 2\n\n' });
      expect({ sdk, idWhileStreaming }).toEqual({ sdk, idWhileStreaming: expect.stringMatching(UUID) });
      await expectLoggedId(sdk, { collector, middleware }, idWhileStreaming as string);
    }
  }, 30_000);

  it('sends the header over HTTP/2 (the compatibility API), echoing the client id', async () => {
    for (const sdk of SDKS) {
      const { collector, middleware } = await middlewareOf(sdk);
      const server: Http2Server = createHttp2Server((req, res) =>
        middleware(req as unknown as IncomingMessage, res as unknown as ServerResponse, () => res.end('ok')),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      opened.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
      const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = client.request({ ':path': '/h2', 'x-moesif-transaction-id': CLIENT_ID });
        stream.on('response', (head) => resolve(head));
        stream.on('error', reject);
        stream.resume();
      }).finally(() => client.close());
      expect({ sdk, id: headers['x-moesif-transaction-id'] }).toEqual({ sdk, id: CLIENT_ID });
      await expectLoggedId(sdk, { collector, middleware }, CLIENT_ID);
    }
  }, 30_000);

  it('disableTransactionId: true sends no header and keeps the client id out of the event id', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (const sdk of SDKS) {
      const { collector, middleware, url } = await appOf(sdk, { disableTransactionId: true }, (app) => {
        app.get('/off', (_req, res) => void res.send('ok'));
      });
      const answer = await get(`${url}/off`, { 'X-Moesif-Transaction-Id': CLIENT_ID });
      expect({ sdk, header: answer.headers['x-moesif-transaction-id'] }).toEqual({ sdk, header: undefined });
      await middleware.flush?.();
      const [event] = await events(collector, 1);
      if (sdk === 'usertrail') expect(event?.transaction_id).toMatch(UUID);
    }
    // A known option now, not one "not supported by usertrail/server".
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  }, 30_000);
});

describe('where usertrail/server departs from moesif-nodejs, and why', () => {
  it('mounted after a middleware that already sent the head, leaves the header out instead of cutting the answer off', async () => {
    const streamedFirst = (app: express.Express) =>
      app.use((_req, res, next) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('head sent, ');
        next();
      });
    const routes = (app: express.Express) => app.get('/late', (_req, res) => void res.end('then the rest'));

    // moesif-nodejs's setHeader() throws ERR_HTTP_HEADERS_SENT; Express hands the error on, and its
    // final handler, finding the head sent, destroys the socket: the client never gets the rest.
    const theirs = await appOf('moesif-nodejs', {}, routes, streamedFirst);
    const cut = await get(`${theirs.url}/late`).then((answer) => answer.body, (error: Error) => error.message);
    expect(cut).not.toBe('head sent, then the rest');

    const ours = await appOf('usertrail', {}, routes, streamedFirst);
    const answer = await get(`${ours.url}/late`, { 'X-Moesif-Transaction-Id': CLIENT_ID });
    expect(answer.body).toBe('head sent, then the rest');
    expect(answer.headers['x-moesif-transaction-id']).toBeUndefined();
    await ours.middleware.flush?.();
    const [event] = await events(ours.collector, 1);
    expect(event?.transaction_id).toBe(CLIENT_ID);
  });

  it("logs the app's own id when it replaces the header, and a new one for a client id too long to store", async () => {
    const { collector, middleware, url } = await appOf('usertrail', {}, (app) => {
      app.get('/own', (_req, res) => void res.set('X-Moesif-Transaction-Id', 'app-chosen-1').send('ok'));
      app.get('/long', (_req, res) => void res.send('ok'));
    });
    expect((await get(`${url}/own`)).headers['x-moesif-transaction-id']).toBe('app-chosen-1');
    const long = await get(`${url}/long`, { 'X-Moesif-Transaction-Id': 'x'.repeat(600) });
    const longId = String(long.headers['x-moesif-transaction-id']);
    expect(longId).toMatch(UUID);
    await middleware.flush?.();
    const logged = await events(collector, 2);
    expect(byPath(logged, '/own')?.transaction_id).toBe('app-chosen-1');
    expect(byPath(logged, '/own')?.request.headers['x-moesif-transaction-id']).toBe('app-chosen-1');
    expect(byPath(logged, '/long')?.transaction_id).toBe(longId);
  });
});
