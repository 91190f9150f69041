/**
 * The kept figures' changes during one ingest transaction, in memory: counts and first and last
 * times per profile, per company and per profile and action name, and counts per hour (all items,
 * and per company), as items are stored or moved; which figures lost items (their first or last
 * time may have gone with them); and which listings to refresh. settle.ts writes them once at the
 * end, so a batch of fifty items of one visitor is one write per figure, not fifty.
 */
import type { RefLookups } from './refs.js';
import { HOUR_MS, maxOf, minOf, type ItemRecord, type KindIndex } from './rows.js';

/** What counting needs to know of an item. */
export type CountedItem = Pick<ItemRecord, 'kind' | 'time' | 'profile' | 'company' | 'name'>;

/** Counts and first and last times of one figure, per kind (0 actions, 1 API calls). */
export interface Tally {
  count: [number, number];
  first: [number | null, number | null];
  last: [number | null, number | null];
}

/** What a transaction changed, by reference. */
export interface Changes {
  profiles: Map<number, Tally>;
  companies: Map<number, Tally>;
  /** By `${profile}:${name}`. */
  actions: Map<string, { profile: number; name: number; first: number; last: number }>;
  /** By `${company}:${hour}`; company 0 is every item. */
  activity: Map<string, { company: number; hour: number; counts: [number, number] }>;
  /** Figures items moved away from. */
  moved: { profiles: Set<number>; companies: Set<number>; actions: Map<string, { profile: number; name: number }> };
  /** Listings to refresh. */
  touched: { profiles: Set<string>; companies: Set<string>; companyRefs: Set<number> };
}

export interface Tallies {
  readonly changes: Changes;
  /** Counts an item for its profile (whose id the caller may know) and company. */
  countItem(item: CountedItem, profileId?: string): void;
  /** Takes an item away from its profile's and company's figures (before it moves). */
  uncountItem(item: CountedItem): void;
  /** A profile's or company's rows changed: its listing is refreshed when the transaction settles. */
  touchProfile(id: string): void;
  touchCompany(id: string): void;
  /** Forgets every change: after settling, or when the transaction is rolled back. */
  discard(): void;
}

function tallyOf(map: Map<number, Tally>, ref: number): Tally {
  let tally = map.get(ref);
  if (!tally) map.set(ref, (tally = { count: [0, 0], first: [null, null], last: [null, null] }));
  return tally;
}

function addToTally(tally: Tally, kind: KindIndex, time: number): void {
  tally.count[kind]++;
  tally.first[kind] = minOf(tally.first[kind], time);
  tally.last[kind] = maxOf(tally.last[kind], time);
}

export function createTallies({ refs }: { refs: Pick<RefLookups, 'profileIdOf'> }): Tallies {
  const changes: Changes = {
    profiles: new Map(),
    companies: new Map(),
    actions: new Map(),
    activity: new Map(),
    moved: { profiles: new Set(), companies: new Set(), actions: new Map() },
    touched: { profiles: new Set(), companies: new Set(), companyRefs: new Set() },
  };

  function countActivity(company: number, time: number, kind: KindIndex, by: number): void {
    const hour = Math.floor(time / HOUR_MS) * HOUR_MS;
    const key = `${company}:${hour}`;
    let entry = changes.activity.get(key);
    if (!entry) changes.activity.set(key, (entry = { company, hour, counts: [0, 0] }));
    entry.counts[kind] += by;
  }

  function countAction(profile: number, name: number, time: number): void {
    const key = `${profile}:${name}`;
    const entry = changes.actions.get(key);
    if (entry) {
      entry.first = Math.min(entry.first, time);
      entry.last = Math.max(entry.last, time);
    } else changes.actions.set(key, { profile, name, first: time, last: time });
  }

  return {
    changes,

    countItem(item, profileId) {
      if (item.profile !== null) {
        addToTally(tallyOf(changes.profiles, item.profile), item.kind, item.time);
        changes.touched.profiles.add(profileId ?? refs.profileIdOf(item.profile));
        if (item.name !== null) countAction(item.profile, item.name, item.time);
      }
      countActivity(0, item.time, item.kind, 1);
      if (item.company !== null) {
        addToTally(tallyOf(changes.companies, item.company), item.kind, item.time);
        countActivity(item.company, item.time, item.kind, 1);
        changes.touched.companyRefs.add(item.company);
      }
    },

    uncountItem(item) {
      if (item.profile !== null) {
        tallyOf(changes.profiles, item.profile).count[item.kind]--;
        changes.moved.profiles.add(item.profile);
        changes.touched.profiles.add(refs.profileIdOf(item.profile));
        if (item.name !== null) changes.moved.actions.set(`${item.profile}:${item.name}`, { profile: item.profile, name: item.name });
      }
      countActivity(0, item.time, item.kind, -1);
      if (item.company !== null) {
        tallyOf(changes.companies, item.company).count[item.kind]--;
        changes.moved.companies.add(item.company);
        countActivity(item.company, item.time, item.kind, -1);
        changes.touched.companyRefs.add(item.company);
      }
    },

    touchProfile: (id) => void changes.touched.profiles.add(id),
    touchCompany: (id) => void changes.touched.companies.add(id),

    discard() {
      for (const map of [changes.profiles, changes.companies, changes.actions, changes.activity, changes.moved.actions]) map.clear();
      for (const set of [changes.moved.profiles, changes.moved.companies, changes.touched.profiles, changes.touched.companies, changes.touched.companyRefs]) set.clear();
    },
  };
}
