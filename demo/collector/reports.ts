/**
 * The read side of the collector: events, stitched profiles, companies and the funnel, all read
 * through the `attributed` view, so every answer reflects the merges made so far (stitch.mjs).
 * Sizes here are a developer's local traffic, so profiles are assembled in JavaScript where that is
 * clearer than SQL.
 */

import type { AnonymousRow, CompanyRow, Store, UserRow } from './store.js';
import type { JsonObject } from './validate.js';

export interface EventFilters {
  /** the stitched User Id (an identified user id, or an anonymous id) */
  user_id?: string;
  /** the anonymous id the item carried */
  anonymous_id?: string;
  /** the company the item counts for */
  company_id?: string;
  kind?: 'action' | 'event';
  /** ISO time; items at or after it */
  since?: string;
  limit: number;
  offset: number;
}

export interface Page {
  limit: number;
  offset: number;
}

/** A row of the `attributed` view: an item and whom it counts for. */
interface AttributedRow {
  seq: number;
  kind: 'action' | 'event';
  time: string;
  received_at: string;
  transaction_id: string | null;
  action_name: string | null;
  verb: string | null;
  uri: string | null;
  status: number | null;
  anonymous_id: string | null;
  session_token: string | null;
  payload: string;
  identified_user_id: string | null;
  profile_id: string | null;
  effective_company_id: string | null;
}

/** What the funnel reads of an item. */
type FunnelItem = Pick<AttributedRow, 'kind' | 'action_name' | 'verb' | 'uri' | 'time'> & { profile_id: string };

export interface FunnelStep {
  step: string;
  label: string;
  /** Absent for `identified`, which is read from the profile. */
  matches?: (item: FunnelItem) => boolean;
}

interface Stats {
  first_time: string | null;
  last_time: string | null;
  action_count: number;
  event_count: number;
}

export const DEFAULT_FUNNEL_STEPS = ['action', 'identified', 'event'];

/**
 * Parses one funnel step: `action` (any action, page views included), `action:<name>`,
 * `identified`, `event` (any API call) or `event:<text found in "VERB uri" or "VERB /path">`.
 */
export function parseFunnelStep(spec: string): FunnelStep | undefined {
  const [type, ...rest] = spec.split(':');
  const arg = rest.join(':');
  if (type === 'identified' && !arg) return { step: spec, label: 'Identified (signed up)' };
  if (type === 'action') {
    return arg
      ? { step: spec, label: `Action "${arg}"`, matches: (i) => i.kind === 'action' && i.action_name === arg }
      : { step: spec, label: 'First page view or action', matches: (i) => i.kind === 'action' };
  }
  if (type === 'event') {
    return arg
      ? { step: spec, label: `API call matching "${arg}"`, matches: (i) => i.kind === 'event' && callText(i).some((t) => t.includes(arg)) }
      : { step: spec, label: 'First API call', matches: (i) => i.kind === 'event' };
  }
  return undefined;
}

/**
 * What `event:<text>` is matched against: "VERB uri" and "VERB /path", so `event:POST /orders`
 * works whatever host the API runs on.
 */
function callText(item: Pick<AttributedRow, 'verb' | 'uri'>): string[] {
  const uri = item.uri ?? '';
  let path = uri;
  try {
    path = new URL(uri).pathname;
  } catch {
    // a relative uri is its own path
  }
  return [`${item.verb} ${uri}`, `${item.verb} ${path}`];
}

const min = (a: string | null | undefined, b: string | null | undefined): string | null => (!a ? b ?? null : !b ? a : a < b ? a : b);
const max = (a: string | null | undefined, b: string | null | undefined): string | null => (!a ? b ?? null : !b ? a : a > b ? a : b);

/** One stitched profile, as the query API shows it. */
export interface Profile {
  user_id: string;
  identified_user_id: string | null;
  anonymous_ids: string[];
  company_id: string | null;
  identified_at: string | null;
  first_seen: string | null;
  last_seen: string | null;
  action_count: number;
  event_count: number;
  campaign: JsonObject | null;
  metadata: JsonObject;
}

export function createReports(store: Store) {
  const itemStats = store.prepare(`
    SELECT profile_id, MIN(time) AS first_time, MAX(time) AS last_time,
      SUM(kind = 'action') AS action_count, SUM(kind = 'event') AS event_count
    FROM attributed WHERE profile_id IS NOT NULL GROUP BY profile_id`);
  const companyStats = store.prepare(`
    SELECT effective_company_id AS company_id, MIN(time) AS first_time, MAX(time) AS last_time,
      SUM(kind = 'action') AS action_count, SUM(kind = 'event') AS event_count
    FROM attributed WHERE effective_company_id IS NOT NULL GROUP BY effective_company_id`);
  const allUsers = store.prepare('SELECT * FROM users');
  const allAnonymous = store.prepare('SELECT * FROM anonymous_ids ORDER BY first_seen, anonymous_id');
  const allCompanies = store.prepare('SELECT * FROM companies');
  const profileItems = store.prepare('SELECT * FROM attributed WHERE profile_id = ? ORDER BY time, seq LIMIT 1000');
  const funnelItems = store.prepare(
    'SELECT profile_id, kind, action_name, verb, uri, time FROM attributed WHERE profile_id IS NOT NULL ORDER BY time, seq',
  );

  /** An item as the query API shows it: who it counts for after stitching, and what it carried. */
  function toEvent(row: AttributedRow) {
    const payload = JSON.parse(row.payload) as JsonObject;
    return {
      seq: row.seq,
      kind: row.kind,
      time: row.time,
      received_at: row.received_at,
      transaction_id: row.transaction_id,
      action_name: row.action_name,
      verb: row.verb,
      uri: row.uri,
      status: row.status,
      // Seed semantics: user_id is the Identified User Id the item counts for (null if anonymous).
      user_id: row.identified_user_id,
      anonymous_id: row.anonymous_id,
      company_id: row.effective_company_id,
      profile_id: row.profile_id,
      session_token: row.session_token,
      metadata: payload.metadata ?? null,
      request: payload.request ?? null,
      response: payload.response ?? null,
      tags: payload.tags ?? null,
    };
  }

  /**
   * Every profile: identified users (with the anonymous ids merged into them) and anonymous ids
   * not merged into anyone. Newest activity first.
   */
  function allProfiles(): Profile[] {
    const stats = new Map((itemStats.all() as (Stats & { profile_id: string })[]).map((r) => [r.profile_id, r]));
    const anonymous = allAnonymous.all().map((row) => store.parseRow<AnonymousRow>(row) as AnonymousRow);
    const mergedInto = new Map<string, AnonymousRow[]>();
    for (const a of anonymous) if (a.merged_into) mergedInto.set(a.merged_into, [...(mergedInto.get(a.merged_into) ?? []), a]);

    /** A user with the anonymous ids merged into it, or one anonymous id not merged (`anons` then holds it). */
    function profile(user: UserRow | undefined, anons: AnonymousRow[]): Profile {
      const first = anons[0] as AnonymousRow;
      const id = user ? user.user_id : first.anonymous_id;
      const s = stats.get(id);
      const rows: (UserRow | AnonymousRow)[] = [...anons, ...(user ? [user] : [])];
      // First touch: the campaign recorded earliest on any of the person's ids.
      const firstTouch = rows.filter((r) => r.campaign).sort((a, b) => String(a.campaign_at).localeCompare(String(b.campaign_at)))[0];
      let first_seen = s?.first_time ?? null;
      let last_seen = s?.last_time ?? null;
      for (const r of rows) {
        const seen = 'first_seen' in r ? r.first_seen : r.identified_at;
        first_seen = min(first_seen, seen);
        last_seen = max(last_seen, seen);
      }
      return {
        user_id: id,
        identified_user_id: user ? user.user_id : null,
        anonymous_ids: anons.map((a) => a.anonymous_id),
        company_id: (user ? user.company_id : first.company_id) ?? null,
        identified_at: user ? user.identified_at : null,
        first_seen,
        last_seen,
        action_count: s?.action_count ?? 0,
        event_count: s?.event_count ?? 0,
        campaign: firstTouch ? firstTouch.campaign : null,
        // The person's metadata: what the anonymous ids collected, then the user's own on top.
        metadata: Object.assign({}, ...rows.map((r) => r.metadata)),
      };
    }

    const profiles = [
      ...allUsers.all().map((raw) => {
        const user = store.parseRow<UserRow>(raw) as UserRow;
        return profile(user, mergedInto.get(user.user_id) ?? []);
      }),
      ...anonymous.filter((a) => !a.merged_into).map((a) => profile(undefined, [a])),
    ];
    return profiles.sort((a, b) => String(b.last_seen).localeCompare(String(a.last_seen)) || a.user_id.localeCompare(b.user_id));
  }

  const reports = {
    listEvents(f: EventFilters) {
      const where: string[] = [];
      if (f.user_id !== undefined) where.push('profile_id = @user_id');
      if (f.anonymous_id !== undefined) where.push('anonymous_id = @anonymous_id');
      if (f.company_id !== undefined) where.push('effective_company_id = @company_id');
      if (f.kind !== undefined) where.push('kind = @kind');
      if (f.since !== undefined) where.push('time >= @since');
      const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const params = Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined));
      const total = (store.prepare(`SELECT COUNT(*) AS n FROM attributed ${clause}`).get(params) as { n: number }).n;
      const rows = store.prepare(`SELECT * FROM attributed ${clause} ORDER BY time DESC, seq DESC LIMIT @limit OFFSET @offset`).all(params) as AttributedRow[];
      const next = f.offset + rows.length;
      return { events: rows.map(toEvent), total, limit: f.limit, offset: f.offset, next_offset: next < total ? next : null };
    },

    listUsers(page: Page) {
      const profiles = allProfiles();
      const users = profiles.slice(page.offset, page.offset + page.limit);
      const next = page.offset + users.length;
      return { users, total: profiles.length, limit: page.limit, offset: page.offset, next_offset: next < profiles.length ? next : null };
    },

    /**
     * One profile by its User Id. An anonymous id that was merged leads to the user it was merged
     * into (`requested_id` then says which id was asked for).
     */
    getUser(id: string) {
      const anon = store.getAnonymous(id);
      const profileId = store.getUser(id) ? id : anon?.merged_into ?? (anon ? id : undefined);
      if (profileId === undefined) return undefined;
      const profile = allProfiles().find((p) => p.user_id === profileId);
      if (!profile) return undefined;
      return { ...profile, requested_id: id, timeline: (profileItems.all(profileId) as AttributedRow[]).map(toEvent) };
    },

    listCompanies() {
      const stats = new Map((companyStats.all() as (Stats & { company_id: string })[]).map((r) => [r.company_id, r]));
      const profiles = allProfiles();
      const companies = allCompanies.all().map((raw) => {
        const c = store.parseRow<CompanyRow>(raw) as CompanyRow;
        const s = stats.get(c.company_id);
        return {
          company_id: c.company_id,
          company_domain: c.company_domain ?? null,
          metadata: c.metadata,
          campaign: c.campaign,
          first_seen: min(c.first_seen, s?.first_time),
          last_seen: max(c.first_seen, s?.last_time),
          user_count: profiles.filter((p) => p.company_id === c.company_id).length,
          action_count: s?.action_count ?? 0,
          event_count: s?.event_count ?? 0,
        };
      });
      companies.sort((a, b) => String(b.last_seen).localeCompare(String(a.last_seen)) || a.company_id.localeCompare(b.company_id));
      return { companies };
    },

    /** One company, its users, and its latest API calls. */
    getCompany(id: string) {
      const company = reports.listCompanies().companies.find((c) => c.company_id === id);
      if (!company) return undefined;
      const users = allProfiles().filter((p) => p.company_id === id);
      const api_calls = reports.listEvents({ company_id: id, kind: 'event', limit: 100, offset: 0 }).events;
      return { ...company, users, api_calls };
    },

    /**
     * Unique stitched profiles reaching each step, in order: a profile reaches step n when it
     * reached step n - 1 and then, at or after that time, did what step n asks.
     */
    funnel(steps: FunnelStep[]) {
      const itemsByProfile = new Map<string, FunnelItem[]>();
      for (const i of funnelItems.all() as FunnelItem[]) {
        const list = itemsByProfile.get(i.profile_id);
        if (list) list.push(i);
        else itemsByProfile.set(i.profile_id, [i]);
      }
      const profiles = allProfiles();
      const reached = steps.map(() => 0);
      for (const p of profiles) {
        const items = itemsByProfile.get(p.user_id) ?? [];
        let at = '';
        for (const [n, step] of steps.entries()) {
          let when: string | undefined;
          if (!step.matches) when = p.identified_at && p.identified_at >= at ? p.identified_at : undefined;
          else when = items.find((i) => i.time >= at && step.matches?.(i))?.time;
          if (when === undefined) break;
          reached[n]++;
          at = when;
        }
      }
      const rate = (part: number, whole: number): number | null => (whole > 0 ? Math.round((part / whole) * 10000) / 10000 : null);
      return {
        profiles: profiles.length,
        steps: steps.map((s, n) => ({
          step: s.step,
          label: s.label,
          users: reached[n],
          rate_from_previous: n === 0 ? rate(reached[0] ?? 0, profiles.length) : rate(reached[n] ?? 0, reached[n - 1] ?? 0),
          rate_from_first: rate(reached[n] ?? 0, reached[0] ?? 0),
        })),
      };
    },
  };
  return reports;
}

export type Reports = ReturnType<typeof createReports>;
