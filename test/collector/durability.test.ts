// @vitest-environment node
import Database from 'better-sqlite3';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector } from '../../demo/collector/server.js';
import { action, apiCall, at, startTestCollector, tempDir, type TestCollector } from './support';

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
      const events = expected.events.events.map((e: Record<string, unknown>) => ({ ...e, user_id: e.profile_id, identified_user_id: e.user_id }));
      expect(await get('/api/events')).toMatchObject({ ...expected.events, events });
      expect(await get('/api/users')).toMatchObject(expected.users);
      expect(await get('/api/users/v3-user')).toMatchObject(expected.user);
      expect(await get('/api/companies')).toMatchObject(expected.companies);
      expect(await get('/api/funnel')).toMatchObject({ profiles: expected.funnel.profiles, steps: expected.funnel.steps.map((s: { users: number }) => ({ users: s.users })) });
    } finally {
      await collector.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
