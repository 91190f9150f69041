// @vitest-environment node
import Database from 'better-sqlite3';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector } from '../../demo/collector/server.js';
import { V8_LATER, V8_QUERIES } from './fixtures/collector-v8-journey';
import { action, apiCall, at, DEFAULT_APP_ID, startTestCollector, tempDir, type TestCollector } from './support';

let c: TestCollector | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

describe('durability', () => {
  it('keeps items, profiles and merges across a restart on the same file', async () => {
    c = await startTestCollector();
    const page = action({ anonymous_id: 'd-anon', time: at(1) });
    await c.post('/v1/actions', page);
    await c.post('/v1/users', { user_id: 'd-user', anonymous_id: 'd-anon', company_id: 'd-co', metadata: { plan: 'pro' } });
    await c.post('/v1/events', apiCall({ user_id: 'd-user', time: at(2) }));

    await c.restart();

    expect((await c.get('/api/users/d-user')).body).toMatchObject({ identified_user_id: 'd-user', anonymous_ids: ['d-anon'], company_id: 'd-co', metadata: { plan: 'pro' }, action_count: 1, event_count: 1 });
    // Idempotency survives too: the same transaction id is still known.
    expect((await c.post('/v1/actions', page)).body).toMatchObject({ stored: 0, duplicates: 1 });
    expect((await c.get('/api/events')).body.total).toBe(2);
  });

  it('has written an item to the file by the time it answers 2xx', async () => {
    c = await startTestCollector();
    await c.post('/v1/actions', action({ anonymous_id: 'd-now', time: at(1) }));
    // A second, independent connection sees the committed row while the collector still runs.
    const reader = new Database(c.dbPath, { readonly: true });
    try {
      expect(reader.prepare("SELECT COUNT(*) AS n FROM items JOIN profiles ON profiles.ref = items.anon WHERE profiles.id = 'd-now'").get()).toEqual({ n: 1 });
      expect(reader.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(reader.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(1);
    } finally {
      reader.close();
    }
  });

  it('upgrades a file written by the collector before the kept figures (schema 3) and answers as it did', async () => {
    // collector-v3.sql: a file the schema-3 collector (commit 2022776) wrote from a small journey (a
    // visitor merged on sign-up, a company, an anonymous call naming another company), dumped as SQL;
    // collector-v3-answers.json: that collector's answers for it.
    const dir = tempDir();
    const db = join(dir, 'collector.db');
    const old = new Database(db);
    old.exec(readFileSync(new URL('./fixtures/collector-v3.sql', import.meta.url), 'utf8'));
    old.close();
    const expected = JSON.parse(readFileSync(new URL('./fixtures/collector-v3-answers.json', import.meta.url), 'utf8'));
    const collector = await startCollector({ port: 0, db });
    try {
      const get = async (path: string) => (await fetch(collector.url + path)).json();
      // Events name the seed's User Id as user_id now (an anonymous visitor's is the anonymous id), and
      // the schema-3 answer's user_id is the Identified User Id.
      // And only traffic from when a profile joined a company counts for it ("any future web or API
      // traffic"): v3-anon's two docs visits came before v3-user joined v3-co at 12:00:04, v3-other's
      // page view before its call naming v3-other-co at 12:00:07. The schema-3 collector counted them.
      const beforeJoining = new Set(['v3-a-1', 'v3-a-2', 'v3-a-3']);
      const events = expected.events.events.map((e: Record<string, unknown>) => ({
        ...e,
        user_id: e.profile_id,
        identified_user_id: e.user_id,
        ...(beforeJoining.has(e.transaction_id as string) ? { company_id: null } : {}),
      }));
      expect(await get('/api/events')).toMatchObject({ ...expected.events, events });
      expect(await get('/api/users')).toMatchObject(expected.users);
      const timeline = expected.user.timeline.map((e: Record<string, unknown>) => ({ ...e, ...(beforeJoining.has(e.transaction_id as string) ? { company_id: null } : {}) }));
      expect(await get('/api/users/v3-user')).toMatchObject({ ...expected.user, timeline });
      const joined: Record<string, object> = {
        'v3-other-co': { first_seen: '2025-01-01T12:00:07.000Z', action_count: 0 },
        'v3-co': { first_seen: '2025-01-01T12:00:04.000Z', action_count: 1 },
      };
      const companies = expected.companies.companies.map((co: { company_id: string }) => ({ ...co, ...joined[co.company_id] }));
      expect(await get('/api/companies')).toMatchObject({ companies });
      expect(await get('/api/funnel')).toMatchObject({ profiles: expected.funnel.profiles, steps: expected.funnel.steps.map((s: { users: number }) => ({ users: s.users })) });
    } finally {
      await collector.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('counts again a file written before traffic from before a profile\'s first company stopped counting for it (schema 7)', async () => {
    // Schema 7 is schema 8 (migration 8 changed only how items count), so collector-v8.sql given what
    // the schema-7 collector stored is a schema-7 file: it counted v8-user's page views and sign-up,
    // from before the companies call of its session made it join v8-co at 12:00:05, for v8-co.
    const dir = tempDir();
    const dbPath = join(dir, 'collector.db');
    const old = new Database(dbPath);
    old.exec(readFileSync(new URL('./fixtures/collector-v8.sql', import.meta.url), 'utf8'));
    old.exec(`
      UPDATE items SET company = (SELECT ref FROM company_figures WHERE id = 'v8-co') WHERE profile = (SELECT ref FROM profiles WHERE id = 'v8-user');
      UPDATE company_figures SET action_count = 4, first_item = ${Date.parse(at(1))} WHERE id = 'v8-co';
      PRAGMA user_version = 7;`);
    old.close();
    const expected = JSON.parse(readFileSync(new URL('./fixtures/collector-v8-answers.json', import.meta.url), 'utf8')).before;

    const collector = await startCollector({ port: 0, db: dbPath });
    try {
      const get = async (path: string) => (await fetch(collector.url + path)).json();
      const events = await get('/api/events?limit=50');
      expect(events.events.filter((e: { company_id: string | null }) => e.company_id === null).map((e: { transaction_id: string }) => e.transaction_id)).toEqual(['v8-a-4', 'v8-a-3', 'v8-a-2', 'v8-a-1']);
      expect(events).toEqual(expected['/api/events?limit=50']);
      expect(await get('/api/companies/v8-co')).toEqual(expected['/api/companies/v8-co']);
    } finally {
      await collector.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a file written with session tokens by the schema-8 collector, answers as it did, and links its sessions', async () => {
    // collector-v8.sql: the schema-8 collector's file from V8_JOURNEY, dumped as SQL; its answers
    // before and after the V8_LATER calls, which link profiles and companies through session tokens
    // the file already held (collector-v8-answers.json, from that collector).
    const dir = tempDir();
    const db = join(dir, 'collector.db');
    const old = new Database(db);
    old.exec(readFileSync(new URL('./fixtures/collector-v8.sql', import.meta.url), 'utf8'));
    old.close();
    const expected = JSON.parse(readFileSync(new URL('./fixtures/collector-v8-answers.json', import.meta.url), 'utf8'));
    const collector = await startCollector({ port: 0, db });
    try {
      const answers = async () => Object.fromEntries(await Promise.all(V8_QUERIES.map(async (path) => [path, await (await fetch(collector.url + path)).json()])));
      expect(await answers()).toEqual(expected.before);
      for (const [path, body] of V8_LATER) {
        const res = await fetch(collector.url + path, { method: 'POST', headers: { 'X-Moesif-Application-Id': DEFAULT_APP_ID }, body: JSON.stringify(body) });
        expect(res.status).toBe(201);
      }
      // An item stored now has another arrival time than when the answers were recorded.
      const arrivedLater = (answer: unknown) => JSON.parse(JSON.stringify(answer), (key, value) => (key === 'received_at' ? undefined : value));
      expect(arrivedLater(await answers())).toEqual(arrivedLater(expected.after));
    } finally {
      await collector.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
