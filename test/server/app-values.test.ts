// @vitest-environment node
/**
 * Values the app itself puts where the middleware reads them (`req.body` set by a validation layer
 * or an ORM, hooks), against a real Express app and a recording collector on 127.0.0.1: whatever
 * they are, the app keeps answering and the call is logged.
 */
import { afterEach, expect, it, onTestFinished, vi } from 'vitest';
import express from 'express';
import moesif, { type MoesifMiddleware, type MoesifOptions } from '../../src/server/index';
import { serversPerTest, startApp, waitFor } from './helpers';

const servers = serversPerTest();
let mw: MoesifMiddleware | undefined;

afterEach(() => {
  vi.restoreAllMocks();
});

async function appWith(routes: (app: express.Express) => void, options: Partial<MoesifOptions> = {}) {
  mw = moesif({ applicationId: 'app-1', baseUri: servers.collector.url, batchMaxTime: 10, ...options });
  const middleware = mw;
  servers.api = await startApp((app) => {
    app.use(middleware);
    routes(app);
  });
  return servers.api.url;
}

async function events(count: number) {
  await mw?.flush();
  return waitFor(() => servers.collector.events().length >= count && servers.collector.events());
}

it('records a req.body whose objects point back at each other (an ORM record) once, cycles marked', async () => {
  // A record as an ORM returns it: its relations lead back to it. Walked as a tree, two such links
  // are 2^32 visits before the depth limit, and the app's event loop never came back. The getters
  // count the reads and give up after a thousand, so that without a guard this test fails instead
  // of hanging.
  let reads = 0;
  const read = <T>(value: T): T => {
    reads += 1;
    if (reads > 1_000) throw new Error('walked without end');
    return value;
  };
  const order: Record<string, unknown> = { id: 7, total: 30, apiToken: 'tok_secret' };
  const customer: Record<string, unknown> = { id: 3, name: 'Ada' };
  Object.defineProperty(order, 'customer', { enumerable: true, get: () => read(customer) });
  Object.defineProperty(customer, 'orders', { enumerable: true, get: () => read([order, order]) });
  Object.defineProperty(order, 'self', { enumerable: true, get: () => read(order) });

  const url = await appWith((app) =>
    app.post('/orders', (req, res) => {
      req.body = order;
      res.status(201).json({ id: 7 });
    }),
  );
  const res = await fetch(`${url}/orders`, { method: 'POST' });
  expect(await res.json()).toEqual({ id: 7 });
  const [event] = await events(1);
  expect(event?.request.body).toEqual({
    id: 7,
    total: 30,
    apiToken: '*****',
    customer: { id: 3, name: 'Ada', orders: ['[Circular]', '[Circular]'] },
    self: '[Circular]',
  });
});

it('records values of req.body as JSON would write them (dates, decimals), not as empty objects', async () => {
  // A validation layer (zod's coerce, class-transformer) replaces req.body with typed values.
  const price = { cents: 1999, toJSON: () => '19.99' };
  const url = await appWith((app) =>
    app.post('/orders', express.json(), (req, res) => {
      req.body = { ...(req.body as object), placedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), price };
      res.status(201).json(req.body);
    }),
  );
  const res = await fetch(`${url}/orders`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"sku":"A1"}' });
  const sent = { sku: 'A1', placedAt: '2026-01-02T03:04:05.000Z', price: '19.99' };
  expect(await res.json()).toEqual(sent);
  const [event] = await events(1);
  expect(event?.request.body).toEqual(sent);
  expect(event?.response.body).toEqual(sent);
});

it("runs moesif-nodejs's quick start unchanged: startCaptureOutgoing() is accepted without a warning, and calls are logged", async () => {
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  // Its README, step 4a, right after creating the middleware: here it threw "is not a function" at start-up.
  const moesifMiddleware = moesif({ applicationId: 'app-1', baseUri: servers.collector.url, batchMaxTime: 10 });
  mw = moesifMiddleware;
  moesifMiddleware.startCaptureOutgoing();
  const stopCapture = moesifMiddleware.startCaptureOutgoing();
  onTestFinished(stopCapture); // outgoing calls: test/server/outgoing.test.ts
  servers.api = await startApp((app) => {
    app.use(moesifMiddleware);
    app.get('/ok', (_req, res) => void res.send('ok'));
  });
  expect(await (await fetch(`${servers.api.url}/ok`)).text()).toBe('ok');
  // The test's own fetch() is an outgoing call of this process: it is logged too.
  expect((await events(2)).map((e) => [e.direction, e.response.body]).sort()).toEqual([
    ['Incoming', 'ok'],
    ['Outgoing', 'ok'],
  ]);
  expect(warn).not.toHaveBeenCalled();
});

it('attributes a call to an id object (MongoDB ObjectId) or a BigInt id by its string, as moesif-nodejs does', async () => {
  // As bson's ObjectId: an object whose toString() is the id's hex; Prisma gives BigInt ids.
  class ObjectId {
    constructor(private readonly hex: string) {}
    toString() {
      return this.hex;
    }
  }
  const url = await appWith(
    (app) => {
      app.use((req, _res, next) => {
        (req as express.Request & { user?: unknown }).user = { _id: new ObjectId('65a1f0c2e4b0a1b2c3d4e5f6'), orgId: 9007199254740993n };
        next();
      });
      app.get('/me', (_req, res) => void res.json({ ok: true }));
    },
    {
      identifyUser: (req) => (req.user as { _id: ObjectId })._id as unknown as string,
      identifyCompany: (req) => (req.user as { orgId: bigint }).orgId as unknown as string,
    },
  );
  expect(await (await fetch(`${url}/me`)).json()).toEqual({ ok: true });
  const [event] = await events(1);
  expect(event?.user_id).toBe('65a1f0c2e4b0a1b2c3d4e5f6');
  expect(event?.company_id).toBe('9007199254740993');
});
