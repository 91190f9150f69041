// @vitest-environment node
/**
 * The kept figures (figures.ts) against a full recount. Each run draws a random mix of the seed's
 * five identity scenarios ("User merging": anonymous only; identified after anonymous events; one
 * user on two devices; two users on one device, with and without anonymous events) plus company
 * changes, companies calls linked by session token and duplicates, with random times; sends them in
 * random batches in a random order (so merges and memberships arrive before and after the items they
 * re-attribute); and after every batch compares every kept figure (who each item counts for,
 * per-profile, per-company, per-action and per-hour figures) with what `recount()` rebuilds from the
 * raw rows, set-based and independently of the incremental code. Runs are seeded: a failure names
 * its seed.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createIngest } from '../../demo/collector/ingest.js';
import { openStore } from '../../demo/collector/store.js';
import { checkItem } from '../../demo/collector/validate.js';
import type { FunnelStepSpec } from '../../demo/collector/store.js';
import { random, scenario, type Call } from './scenarios';

/** Every kept figure, in a stable order. */
function snapshot(db: Database.Database) {
  return {
    items: db.prepare('SELECT seq, profile, company FROM items ORDER BY seq').all(),
    profiles: db.prepare('SELECT * FROM profiles ORDER BY ref').all(),
    companies: db.prepare('SELECT * FROM company_figures ORDER BY ref').all(),
    actions: db.prepare('SELECT * FROM profile_actions ORDER BY profile, name').all(),
    activity: db.prepare('SELECT * FROM activity ORDER BY company, hour').all(),
  };
}

/** Funnels to check, as the query API parses them. */
const FUNNELS: FunnelStepSpec[][] = [
  [{ type: 'action' }, { type: 'identified' }, { type: 'event' }],
  [{ type: 'event' }, { type: 'action' }, { type: 'event' }],
  [{ type: 'action_name', name: 'Signed Up' }, { type: 'event' }],
  [{ type: 'identified' }, { type: 'action_name', name: 'Clicked Buy' }, { type: 'action_name', name: 'Page View' }],
  [{ type: 'action' }, { type: 'event_text', matches: (verb, uri) => `${verb} ${uri}`.includes('POST http://api.test/orders') }],
];

/**
 * The funnel as the first collector computed it, from every raw item: for each profile, each step's
 * first matching item at or after the previous step's time.
 */
function naiveFunnel(db: Database.Database, steps: FunnelStepSpec[]): number[] {
  const profiles = db.prepare('SELECT ref, identified_at FROM profiles WHERE active = 1').all() as { ref: number; identified_at: number | null }[];
  const items = db.prepare('SELECT i.profile, i.kind, n.name, i.time, i.payload FROM items i LEFT JOIN names n ON n.ref = i.name ORDER BY i.time, i.seq').all() as {
    profile: number; kind: number; name: string | null; time: number; payload: string;
  }[];
  const reached = steps.map(() => 0);
  for (const p of profiles) {
    const own = items.filter((i) => i.profile === p.ref);
    let at = Number.MIN_SAFE_INTEGER;
    for (const [n, step] of steps.entries()) {
      let when: number | undefined;
      if (step.type === 'identified') when = p.identified_at !== null && p.identified_at >= at ? p.identified_at : undefined;
      else {
        when = own.find((i) => {
          if (i.time < at) return false;
          if (step.type === 'action') return i.kind === 0;
          if (step.type === 'event') return i.kind === 1;
          if (step.type === 'action_name') return i.kind === 0 && i.name === step.name;
          const request = JSON.parse(i.payload).request;
          return i.kind === 1 && step.matches(request.verb, request.uri);
        })?.time;
      }
      if (when === undefined) break;
      reached[n] = (reached[n] ?? 0) + 1;
      at = when;
    }
  }
  return reached;
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('keeps every figure equal to a full recount, whatever the order and batching of the seed scenarios', { timeout: 120_000 }, () => {
  dir = mkdtempSync(join(tmpdir(), 'usertrail-figures-'));
  const totals = { merged: 0, inCompanies: 0, companies: 0 };
  for (let run = 0; run < 30; run++) {
    const seed = 1000 + run;
    const path = join(dir, `run-${run}.db`);
    const store = openStore(path);
    const ingest = createIngest(store);
    const reader = new Database(path, { readonly: true });
    try {
      const r = random(seed);
      const calls = scenario(r, run);
      // Out of order: shuffled, then sent in batches of one kind.
      for (let i = calls.length - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [calls[i], calls[j]] = [calls[j] as Call, calls[i] as Call];
      }
      while (calls.length) {
        const first = calls.shift() as Call;
        const batch = [first];
        while (calls[0]?.kind === first.kind && batch.length < 1 + r.int(6)) batch.push(calls.shift() as Call);
        const checked = batch.map((call) => {
          const result = checkItem(call.kind, call.body);
          if (!result.ok) throw new Error(`seed ${seed}: generated an invalid item: ${result.error}`);
          return result.value;
        });
        ingest.ingest(first.kind, checked as never);
        const kept = snapshot(reader);
        store.recount();
        expect(snapshot(reader), `seed ${seed}`).toEqual(kept);
      }
      for (const steps of FUNNELS) expect(store.funnel(steps).reached, `seed ${seed}, funnel ${JSON.stringify(steps)}`).toEqual(naiveFunnel(reader, steps));
      totals.merged += reader.prepare('SELECT COUNT(*) FROM anonymous_ids WHERE merged_into IS NOT NULL').pluck().get() as number;
      totals.inCompanies += reader.prepare('SELECT COUNT(*) FROM profiles WHERE active = 1 AND company_id IS NOT NULL').pluck().get() as number;
      totals.companies += reader.prepare('SELECT COUNT(DISTINCT company) FROM items').pluck().get() as number;
    } finally {
      reader.close();
      store.close();
    }
  }
  // The runs did exercise what the figures must survive: merges, profiles in companies, items moved between companies.
  expect(totals.merged).toBeGreaterThan(30);
  expect(totals.inCompanies).toBeGreaterThan(15);
  expect(totals.companies).toBeGreaterThan(30);
});
