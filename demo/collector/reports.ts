/**
 * The read side of the collector: events, stitched profiles, companies, the funnel and activity over
 * time, as the query API answers them. Everything is read from the figures the store keeps up to date
 * at ingest (sqlite/figures.ts), so no answer reads more than its page of rows plus a few rows per profile
 * shown; the stitching rules are already applied to what is stored.
 */
import type { AnonymousRow, CollectorStore, FunnelStepSpec, PageRequest, ProfileFigures, StoredItem, UserRow } from './store.js';
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
}

export interface FunnelStep {
  step: string;
  label: string;
  spec: FunnelStepSpec;
}

export const DEFAULT_FUNNEL_STEPS = ['action', 'identified', 'event'];

/** The buckets of the activity chart. */
export const ACTIVITY_BUCKETS = { hour: 3_600_000, day: 86_400_000 } as const;
export type ActivityBucketName = keyof typeof ACTIVITY_BUCKETS;

/**
 * What `event:<text>` is matched against: "VERB uri" and "VERB /path", so `event:POST /orders`
 * works whatever host the API runs on.
 */
function callText(verb: string, uri: string): string[] {
  let path = uri;
  try {
    path = new URL(uri).pathname;
  } catch {
    // a relative uri is its own path
  }
  return [`${verb} ${uri}`, `${verb} ${path}`];
}

/**
 * Parses one funnel step: `action` (any action, page views included), `action:<name>`,
 * `identified`, `event` (any API call) or `event:<text found in "VERB uri" or "VERB /path">`.
 */
export function parseFunnelStep(spec: string): FunnelStep | undefined {
  const [type, ...rest] = spec.split(':');
  const arg = rest.join(':');
  if (type === 'identified' && !arg) return { step: spec, label: 'Identified (signed up)', spec: { type: 'identified' } };
  if (type === 'action') {
    return arg
      ? { step: spec, label: `Action "${arg}"`, spec: { type: 'action_name', name: arg } }
      : { step: spec, label: 'First page view or action', spec: { type: 'action' } };
  }
  if (type === 'event') {
    return arg
      ? { step: spec, label: `API call matching "${arg}"`, spec: { type: 'event_text', matches: (verb, uri) => callText(verb, uri).some((t) => t.includes(arg)) } }
      : { step: spec, label: 'First API call', spec: { type: 'event' } };
  }
  return undefined;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const objectOr = (value: unknown): JsonObject => (typeof value === 'object' && value !== null ? (value as JsonObject) : {});

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

/** The next offset of an offset-paged answer (null on the last page, and when paging by cursor). */
const nextOffset = (page: PageRequest, shown: number, total: number): number | null =>
  page.cursor === undefined && page.offset + shown < total ? page.offset + shown : null;

/** An item as the query API shows it: who it counts for after stitching, and what it carried. */
function toEvent(item: StoredItem) {
  const { payload } = item;
  const request = objectOr(payload.request);
  const response = objectOr(payload.response);
  const isEvent = item.kind === 'event';
  return {
    seq: item.seq,
    kind: item.kind,
    time: item.time,
    received_at: item.received_at,
    transaction_id: (payload.transaction_id as string | undefined) ?? null,
    action_name: isEvent ? null : ((payload.action_name as string | undefined) ?? null),
    verb: (request.verb as string | undefined) ?? null,
    uri: (request.uri as string | undefined) ?? null,
    status: isEvent ? ((response.status as number | undefined) ?? null) : null,
    // The seed's two ids, as on a profile: "No User Id identified: [...] Identified User Id is null.
    // User Id is set to a generated Anonymous Id." So user_id is the User Id of the profile the item
    // counts for (what `?user_id=` finds it by), null only for an item that carries no id at all.
    user_id: item.profile_id,
    identified_user_id: item.identified_user_id,
    anonymous_id: item.anonymous_id,
    company_id: item.company_id,
    /** The same as user_id (its name before user_id followed the seed). */
    profile_id: item.profile_id,
    session_token: (payload.session_token as string | undefined) ?? null,
    metadata: payload.metadata ?? null,
    request: payload.request ?? null,
    response: payload.response ?? null,
    tags: payload.tags ?? null,
  };
}

/** A profile's answer: its kept figures, and what its rows say (the user and the anonymous ids merged into it). */
function toProfile(store: CollectorStore, figures: ProfileFigures): Profile {
  const user = store.getUser(figures.id);
  const anonymousIds = user ? store.mergedAnonymousIds(figures.id) : [figures.id];
  const anons = anonymousIds.map((id) => store.getAnonymous(id)).filter((row): row is AnonymousRow => row !== undefined);
  const rows: (UserRow | AnonymousRow)[] = [...anons, ...(user ? [user] : [])];
  // First touch: the campaign recorded earliest on any of the person's ids.
  const firstTouch = rows.filter((r) => r.campaign).sort((a, b) => String(a.campaign_at).localeCompare(String(b.campaign_at)))[0];
  return {
    user_id: figures.id,
    identified_user_id: user ? user.user_id : null,
    anonymous_ids: anonymousIds,
    company_id: figures.company_id,
    identified_at: user ? user.identified_at : null,
    first_seen: iso(figures.first_seen),
    last_seen: iso(figures.last_seen),
    action_count: figures.action_count,
    event_count: figures.event_count,
    campaign: firstTouch ? firstTouch.campaign : null,
    // The person's metadata: what the anonymous ids collected, then the user's own on top. Spread,
    // not Object.assign: assigning a "__proto__" key sent as metadata would set the prototype and drop the key.
    metadata: rows.reduce<JsonObject>((merged, r) => ({ ...merged, ...r.metadata }), {}),
  };
}

export function createReports(store: CollectorStore) {
  const profileAnswer = (figures: ProfileFigures): Profile => toProfile(store, figures);

  /** The profile a User Id stands for: a merged anonymous id leads to its user. */
  const profileOf = (userId: string): string => store.getAnonymous(userId)?.merged_into ?? userId;

  function listEvents(f: EventFilters, page: PageRequest) {
    const { user_id, ...rest } = f;
    const result = store.items({ ...rest, ...(user_id === undefined ? {} : { profile_id: profileOf(user_id) }) }, page);
    return {
      events: result.rows.map(toEvent),
      total: result.total,
      limit: page.limit,
      offset: page.offset,
      next_offset: nextOffset(page, result.rows.length, result.total),
      next_cursor: result.next_cursor,
    };
  }

  function listCompanies() {
    const companies = store.companies().map((figures) => {
      const row = store.getCompany(figures.id);
      return {
        company_id: figures.id,
        company_domain: row?.company_domain ?? null,
        metadata: row?.metadata ?? {},
        campaign: row?.campaign ?? null,
        first_seen: iso(figures.first_seen),
        last_seen: iso(figures.last_seen),
        user_count: figures.user_count,
        action_count: figures.action_count,
        event_count: figures.event_count,
      };
    });
    return { companies };
  }

  return {
    listEvents,

    listUsers(page: PageRequest) {
      const result = store.profiles(page);
      const users = result.rows.map(profileAnswer);
      return { users, total: result.total, limit: page.limit, offset: page.offset, next_offset: nextOffset(page, users.length, result.total), next_cursor: result.next_cursor };
    },

    /**
     * One profile by its User Id. An anonymous id that was merged leads to the user it was merged
     * into (`requested_id` then says which id was asked for).
     */
    getUser(id: string) {
      const anon = store.getAnonymous(id);
      const profileId = store.getUser(id) ? id : (anon?.merged_into ?? (anon ? id : undefined));
      if (profileId === undefined) return undefined;
      const figures = store.profile(profileId);
      if (!figures?.active) return undefined;
      return { ...profileAnswer(figures), requested_id: id, timeline: store.timeline(profileId, 1000).map(toEvent) };
    },

    listCompanies,

    /** One company, its users, and its latest API calls. */
    getCompany(id: string) {
      const company = listCompanies().companies.find((c) => c.company_id === id);
      if (!company) return undefined;
      const users = store.companyProfiles(id).map(profileAnswer);
      const api_calls = listEvents({ company_id: id, kind: 'event' }, { limit: 100, offset: 0 }).events;
      return { ...company, users, api_calls };
    },

    /**
     * Unique stitched profiles reaching each step, in order: a profile reaches step n when it
     * reached step n - 1 and then, at or after that time, did what step n asks.
     */
    funnel(steps: FunnelStep[]) {
      const { profiles, reached } = store.funnel(steps.map((s) => s.spec));
      const rate = (part: number, whole: number): number | null => (whole > 0 ? Math.round((part / whole) * 10000) / 10000 : null);
      return {
        profiles,
        steps: steps.map((s, n) => ({
          step: s.step,
          label: s.label,
          users: reached[n] ?? 0,
          rate_from_previous: n === 0 ? rate(reached[0] ?? 0, profiles) : rate(reached[n] ?? 0, reached[n - 1] ?? 0),
          rate_from_first: rate(reached[n] ?? 0, reached[0] ?? 0),
        })),
      };
    },

    /** Actions and API calls per hour or day, for everything, one user (and the ids merged into it) or one company. */
    activity(scope: { user_id?: string; company_id?: string }, bucket: ActivityBucketName) {
      const profileId = scope.user_id === undefined ? undefined : profileOf(scope.user_id);
      const buckets = store.activity({ ...(profileId === undefined ? {} : { profile_id: profileId }), ...(scope.company_id === undefined ? {} : { company_id: scope.company_id }) }, ACTIVITY_BUCKETS[bucket]);
      return { bucket, buckets, actions: buckets.reduce((n, b) => n + b.actions, 0), events: buckets.reduce((n, b) => n + b.events, 0) };
    },
  };
}

export type Reports = ReturnType<typeof createReports>;
