// @vitest-environment node
/**
 * "Times are the items' own, so order of arrival does not matter" (demo/collector/README.md): the
 * same calls, sent to the real collector over HTTP once in the order they happened and once shuffled
 * into random batches, must give the same answers on the query API: who each item counts for, each
 * profile (ids, company, first and last seen, counts, first touch, metadata), each company (its
 * domain and metadata too), the funnel.
 * Batches from an offline outbox, retries and two SDKs sending at once all reorder calls. Runs are
 * seeded: a failure names its seed.
 */
import { expect, it } from 'vitest';
import { DEFAULT_APP_ID, startCollector } from '../../demo/collector/server.js';
import { random, scenario, type Call, type Random } from './scenarios';

type Json = Record<string, any>;

/** When a call says it happened: the order a patient SDK would have sent it in. */
const happenedAt = (call: Call): string => String(call.body.modified_time ?? (call.body.request as Json | undefined)?.time ?? '');

/** Sends the calls in batches of one kind (up to 6 items), as they come. */
async function send(url: string, calls: Call[], r: Random): Promise<void> {
  const queue = [...calls];
  while (queue.length) {
    const first = queue.shift() as Call;
    const batch = [first];
    while (queue[0]?.kind === first.kind && batch.length < 1 + r.int(6)) batch.push(queue.shift() as Call);
    const res = await fetch(`${url}/v1/${first.kind}/batch`, {
      method: 'POST',
      headers: { 'X-Moesif-Application-Id': DEFAULT_APP_ID },
      body: JSON.stringify(batch.map((call) => call.body)),
    });
    expect(res.status).toBe(201);
  }
}

/** What the query API says, without what depends on arrival (arrival times, row numbers). */
async function answers(url: string) {
  const get = async (path: string): Promise<Json> => (await fetch(url + path)).json();
  const events = (await get('/api/events?limit=500')).events as Json[];
  const users = (await get('/api/users?limit=500')).users as Json[];
  const companies = (await get('/api/companies')).companies as Json[];
  const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
  return {
    items: events.map((e) => ({ key: `${e.kind} ${e.transaction_id}`, profile: e.profile_id, user: e.user_id, company: e.company_id })).sort(byKey),
    profiles: users.map(({ anonymous_ids, ...rest }) => ({ key: rest.user_id as string, ...rest, anonymous_ids: [...anonymous_ids].sort() })).sort(byKey),
    companies: companies.map((company) => ({ key: company.company_id as string, ...company })).sort(byKey),
    funnel: await get('/api/funnel'),
  };
}

it('gives the same profiles, companies and attribution whatever order the calls of the seed scenarios arrive in', { timeout: 180_000 }, async () => {
  for (let run = 0; run < 40; run++) {
    const seed = 5000 + run;
    const r = random(seed);
    const calls = scenario(r, run);
    const inOrder = [...calls].sort((a, b) => happenedAt(a).localeCompare(happenedAt(b)));
    const shuffled = [...calls];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j] as Call, shuffled[i] as Call];
    }
    const results = [];
    for (const order of [inOrder, shuffled]) {
      const collector = await startCollector({ port: 0, db: ':memory:' });
      try {
        await send(collector.url, order, r);
        results.push(await answers(collector.url));
      } finally {
        await collector.close();
      }
    }
    const [expected, actual] = results;
    expect(actual, `seed ${seed}`).toEqual(expected);
  }
});
