/**
 * Random, seeded mixes of the seed's five identity scenarios ("User merging" in "Identifying
 * Customers"), with company changes, companies calls linked by session token and repeated items:
 * what the property tests of the collector send.
 */
import type { Kind } from '../../demo/collector/validate.js';

/** A small seeded generator (mulberry32), so that a failing run can be replayed from its seed. */
export function random(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)] as T;
  return { next, int, pick, chance: (p: number) => next() < p };
}
export type Random = ReturnType<typeof random>;

export interface Call {
  kind: Kind;
  body: Record<string, unknown>;
}

const BASE = Date.UTC(2025, 0, 1);
/** Times spread over three days, so hourly and daily figures have several buckets. */
const timeAt = (r: Random): string => new Date(BASE + r.int(3 * 24 * 60) * 60_000 + r.int(3) * 1000).toISOString();

/** The calls of one run: persons going through the seed's scenarios. */
export function scenario(r: Random, run: number): Call[] {
  const calls: Call[] = [];
  const companies = ['co-a', 'co-b', 'co-c'].map((c) => `${c}-${run}`);
  let tx = 0;
  const item = (ids: Record<string, unknown>): Call => {
    const time = timeAt(r);
    const transaction_id = `t${run}-${tx++}`;
    if (r.chance(0.5)) {
      return { kind: 'actions', body: { ...ids, transaction_id, action_name: r.pick(['Page View', 'Signed Up', 'Clicked Buy']), request: { time, uri: 'http://app.test/', verb: 'GET', user_agent_string: 'ua' } } };
    }
    const uri = r.pick(['http://api.test/orders', 'http://api.test/users/1', '/health']);
    return { kind: 'events', body: { ...ids, transaction_id, request: { time, uri, verb: r.pick(['GET', 'POST']), headers: {} }, response: { time, status: 200, headers: {} } } };
  };
  const some = (n: number, ids: Record<string, unknown>): void => {
    for (let i = 0; i < n; i++) {
      const call = item(ids);
      calls.push(call);
      if (r.chance(0.1)) calls.push(call); // a repeat: the same transaction id again
    }
  };
  // Profile fields that later calls change: the newest call by its own time must win each.
  const metadata = (): Record<string, unknown> => (r.chance(0.5) ? { metadata: { plan: r.pick(['free', 'team', 'pro']), ...(r.chance(0.5) ? { seats: r.int(20) } : {}) } } : {});
  const users = (ids: Record<string, unknown>): void =>
    void calls.push({ kind: 'users', body: { ...ids, modified_time: timeAt(r), ...(r.chance(0.3) ? { campaign: { utm_source: `s${r.int(3)}` } } : {}), ...metadata() } });
  const maybeCompany = (): Record<string, unknown> => (r.chance(0.4) ? { company_id: r.pick(companies) } : {});

  const persons = 3 + r.int(5);
  for (let p = 0; p < persons; p++) {
    const id = `${run}-${p}`;
    const anon = `anon-${id}`;
    const user = `user-${id}`;
    const session = `session-${id}`;
    switch (r.int(5)) {
      case 0: // no user id identified
        some(1 + r.int(4), { anonymous_id: anon, ...maybeCompany() });
        break;
      case 1: // identified after anonymous events
        some(1 + r.int(3), { anonymous_id: anon });
        users({ user_id: user, anonymous_id: anon, session_token: session, ...maybeCompany() });
        some(r.int(4), { user_id: user, anonymous_id: anon, ...maybeCompany() });
        some(r.int(2), { anonymous_id: anon });
        break;
      case 2: // one user on two devices
        some(1 + r.int(3), { anonymous_id: `${anon}-phone` });
        some(1 + r.int(3), { anonymous_id: `${anon}-laptop` });
        users({ user_id: user, anonymous_id: `${anon}-phone`, ...maybeCompany() });
        users({ user_id: user, anonymous_id: `${anon}-laptop`, ...maybeCompany() });
        some(r.int(3), { user_id: user });
        break;
      case 3: // two users on one device, no anonymous events
        users({ user_id: `${user}-1`, anonymous_id: anon, ...maybeCompany() });
        some(1 + r.int(3), { user_id: `${user}-1`, anonymous_id: anon });
        users({ user_id: `${user}-2`, anonymous_id: anon, ...maybeCompany() });
        some(1 + r.int(3), { user_id: `${user}-2`, anonymous_id: anon });
        break;
      default: // two users on one device, with anonymous events (no reset() between them)
        some(1 + r.int(3), { anonymous_id: anon });
        users({ user_id: `${user}-1`, anonymous_id: anon, session_token: session });
        some(r.int(3), { anonymous_id: anon, ...maybeCompany() });
        users({ user_id: `${user}-2`, anonymous_id: anon, ...maybeCompany() });
        some(r.int(3), { anonymous_id: anon });
    }
    // Another session of the user (a new log-in, identifySession()): a companies call of either
    // session links them.
    const later = r.chance(0.4);
    if (later) some(1 + r.int(2), { user_id: user, session_token: `${session}-later` });
    // A company change (possibly back in time), or a companies call linked by a session token: more
    // often the earlier one when there were two, which only a profile's every session can link.
    if (r.chance(0.3)) users({ user_id: user, company_id: r.pick(companies) });
    if (r.chance(later ? 0.6 : 0.3)) {
      const domain = r.chance(0.5) ? { company_domain: `${r.pick(['old', 'new'])}.example.test` } : {};
      calls.push({ kind: 'companies', body: { company_id: r.pick(companies), session_token: later && r.chance(0.3) ? `${session}-later` : session, modified_time: timeAt(r), ...domain, ...metadata() } });
    }
  }
  return calls;
}
