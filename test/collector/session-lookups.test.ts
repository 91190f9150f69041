// @vitest-environment node
/**
 * Lookups by session token happen on every companies call that carries one (moesif-browser-js's
 * identifyCompany() does) and for every profile seen with a new token. A scan of the users or
 * anonymous ids there grows with everyone ever seen, so each lookup must search an index: read
 * from SQLite's own query plans, on a file the collector filled over HTTP.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SESSION_LOOKUPS } from '../../demo/collector/store.js';
import { action, at, startTestCollector, type TestCollector } from './support';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
  const visitors = Array.from({ length: 200 }, (_, n) => n);
  await c.post('/v1/users/batch', visitors.map((n) => ({ anonymous_id: `sl-anon-${n}`, session_token: `sl-session-${n}`, ...(n % 2 ? { user_id: `sl-user-${n}` } : {}) })));
  await c.post('/v1/actions/batch', visitors.map((n) => action({ anonymous_id: `sl-anon-${n}`, session_token: `sl-session-${n}`, time: at(n % 60) })));
  await c.post('/v1/companies/batch', visitors.slice(0, 20).map((n) => ({ company_id: `sl-co-${n}`, session_token: `sl-session-${n}` })));
});
afterAll(async () => {
  await c.close();
});

it('finds the profiles and companies of a session token by index, never by scanning a table', () => {
  const db = new Database(c.dbPath, { readonly: true });
  try {
    for (const [name, sql] of Object.entries(SESSION_LOOKUPS)) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('sl-session-1') as { detail: string }[]).map((row) => row.detail);
      expect(plan.filter((step) => step.startsWith('SCAN')), `${name}: ${plan.join(' | ')}`).toEqual([]);
      expect(plan.some((step) => step.startsWith('SEARCH')), `${name}: ${plan.join(' | ')}`).toBe(true);
    }
  } finally {
    db.close();
  }
});

it('still links the profiles of a session to its company', async () => {
  expect((await c.get('/api/users/sl-user-1')).body).toMatchObject({ company_id: 'sl-co-1' });
  expect((await c.get('/api/users/sl-anon-2')).body).toMatchObject({ company_id: 'sl-co-2' });
});
