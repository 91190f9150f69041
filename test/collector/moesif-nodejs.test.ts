// @vitest-environment node
/**
 * The real moesif-nodejs 3.11.0 (Moesif's own Express middleware) pointed at the collector with
 * `baseUri`: an Express app on 127.0.0.1 makes API calls through it, and the app's code sends users
 * and companies with updateUser, updateCompany and their batch forms. The collector must store and
 * stitch them, and answer the SDK's start-up requests (GET /v1/config, /v1/rules) as Moesif does for
 * an application with no rules, so that the SDK asks for its config once.
 */
import express from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import moesif from 'moesif-nodejs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { DEFAULT_APP_ID, startCollector, type RunningCollector } from '../../demo/collector/server.js';

let collector: RunningCollector;
let dir: string;
const log: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'usertrail-moesif-nodejs-'));
  collector = await startCollector({ port: 0, db: join(dir, 'collector.db'), log: (line) => log.push(line) });
});
afterAll(async () => {
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = async (path: string) => (await fetch(collector.url + path)).json();

it("takes moesif-nodejs's events, users and companies with the default application id, stitched, and is asked for its config once", async () => {
  const middleware = moesif({
    applicationId: DEFAULT_APP_ID,
    baseUri: collector.url,
    // moesif-nodejs types the request as object; it is Express's here.
    identifyUser: (req: object) => (req as express.Request).get('x-user') ?? undefined,
    identifyCompany: (req: object) => (req as express.Request).get('x-company') ?? undefined,
    batchSize: 2,
  });
  const app = express();
  app.use(middleware);
  app.get('/orders', (_req, res) => void res.json({ orders: [] }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const call = (headers: Record<string, string>) => fetch(`${api}/orders`, { headers }).then((r) => r.json());
    await call({ 'x-user': 'ann', 'x-company': 'acme' });
    await call({ 'x-user': 'ann', 'x-company': 'acme' });
    await call({ 'x-user': 'bob' });
    await call({ 'x-user': 'cy' });

    // The app's own calls: a user and a company, then both in batches. bob's call names no company,
    // and his users call, which does, comes after it: bob is globex's, his earlier call is not.
    await middleware.updateUser({ userId: 'ann', companyId: 'acme', metadata: { email: 'ann@acme.example' } });
    await middleware.updateCompany({ companyId: 'acme', companyDomain: 'acme.example', metadata: { plan: 'team' } });
    await middleware.updateUsersBatch([
      { userId: 'bob', companyId: 'globex', metadata: { email: 'bob@globex.example' } },
      { userId: 'cy', metadata: { email: 'cy@example.test' } },
    ]);
    await middleware.updateCompaniesBatch([{ companyId: 'globex', companyDomain: 'globex.example' }]);

    await vi.waitFor(async () => expect((await get('/api/events?kind=event')).total).toBe(4), { timeout: 10_000 });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }

  const ann = await get('/api/users/ann');
  expect(ann).toMatchObject({ identified_user_id: 'ann', company_id: 'acme', event_count: 2, metadata: { email: 'ann@acme.example' } });
  expect(await get('/api/users/bob')).toMatchObject({ company_id: 'globex', event_count: 1, metadata: { email: 'bob@globex.example' } });
  expect(await get('/api/users/cy')).toMatchObject({ company_id: null, event_count: 1 });
  expect(await get('/api/companies/acme')).toMatchObject({ company_domain: 'acme.example', metadata: { plan: 'team' }, user_count: 1, event_count: 2 });
  expect(await get('/api/companies/globex')).toMatchObject({ company_domain: 'globex.example', user_count: 1, event_count: 0 });
  const [event] = (await get('/api/events?user_id=bob')).events;
  expect(event).toMatchObject({ verb: 'GET', status: 200, company_id: null });
  expect(event.uri).toBe(`${api}/orders`);

  // Asked once each, before, between and after the events batches.
  expect(log.filter((line) => line === 'GET /v1/config 200')).toHaveLength(1);
  expect(log.filter((line) => line === 'GET /v1/rules 200')).toHaveLength(1);
});

it('answers the config and rules requests as Moesif does for an application with no rules', async () => {
  const headers = { 'X-Moesif-Application-Id': DEFAULT_APP_ID };
  const config = await fetch(`${collector.url}/v1/config`, { headers });
  expect(config.status).toBe(200);
  expect(await config.json()).toMatchObject({ sample_rate: 100, user_sample_rate: {}, company_sample_rate: {} });
  // moesif-nodejs asks again on every API call while this tag differs from the last one on an events
  // answer; a config that never changes needs none (http/ingest-api.ts).
  expect(config.headers.get('x-moesif-config-etag')).toBeNull();
  const rules = await fetch(`${collector.url}/v1/rules`, { headers });
  expect(rules.status).toBe(200);
  expect(await rules.json()).toEqual([]);
  const ingest = await fetch(`${collector.url}/v1/users`, { method: 'POST', headers, body: JSON.stringify({ user_id: 'dee' }) });
  expect(ingest.headers.get('x-moesif-config-etag')).toBeNull();
  expect((await fetch(`${collector.url}/v1/config`)).status).toBe(401);
});

it("keeps moesif-nodejs's API calls whose headers have several values, as Node gives them (two Set-Cookie headers are an array)", async () => {
  const middleware = moesif({ applicationId: DEFAULT_APP_ID, baseUri: collector.url, identifyUser: () => 'eve', batchSize: 2 });
  const app = express();
  app.use(middleware);
  app.post('/login', (_req, res) => {
    res.cookie('session', 'abc');
    res.cookie('theme', 'dark');
    res.setHeader('X-Attempts', 3);
    res.json({ ok: true });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const batches = (): string[] => log.filter((line) => line.startsWith('POST /v1/events/batch'));
  const before = batches().length;
  try {
    await fetch(`${api}/login`, { method: 'POST' });
    await fetch(`${api}/login`, { method: 'POST' });
    await vi.waitFor(() => expect(batches().length).toBeGreaterThan(before), { timeout: 10_000 });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(batches().at(-1)).toMatch(/^POST \/v1\/events\/batch 201 stored=2/);
  const [event] = (await get('/api/events?user_id=eve')).events;
  expect(event.response.headers['set-cookie']).toEqual(['session=abc; Path=/', 'theme=dark; Path=/']);
  expect(event.response.headers['x-attempts']).toBe(3);
});
