/**
 * The kept figures' changes during one ingest transaction: counts and first and last times per
 * profile, per company and per profile and action name, and counts per hour (all items, and per
 * company). They are tallied in memory as items are stored or moved and written once at the end
 * (`settle`), so a batch of fifty items of one visitor is one write per figure, not fifty. A move
 * that takes items away cannot lower a minimum or raise a maximum by arithmetic, so those are read
 * again by index.
 */
import type Database from 'better-sqlite3';
import type { Listings } from './listings.js';
import type { RefLookups } from './refs.js';
import { HOUR_MS, maxOf, minOf, type ItemRecord, type KindIndex } from './rows.js';

/** What counting needs to know of an item. */
export type CountedItem = Pick<ItemRecord, 'kind' | 'time' | 'profile' | 'company' | 'name'>;

export interface Tallies {
  /** Counts an item for its profile (whose id the caller may know) and company. */
  countItem(item: CountedItem, profileId?: string): void;
  /** Takes an item away from its profile's and company's figures (before it moves). */
  uncountItem(item: CountedItem): void;
  /** A profile's or company's rows changed: refresh its listing at the end. */
  touchProfile(id: string): void;
  touchCompany(id: string): void;
  /** Writes the tallies, reads again the extremes that may have moved, and refreshes the listings touched. */
  settle(): void;
  /** Forgets the tallies: after settling, or when the transaction is rolled back. */
  discard(): void;
}

/** Counts and first and last times of one figure, per kind. */
interface Tally {
  count: [number, number];
  first: [number | null, number | null];
  last: [number | null, number | null];
}

export function createTallies({ db, refs, listings }: { db: Database.Database; refs: RefLookups; listings: Listings }): Tallies {
  const s = {
    addProfileFigures: db.prepare(`UPDATE profiles SET action_count = action_count + @actions, event_count = event_count + @events,
      first_action = CASE WHEN @first_action IS NULL THEN first_action ELSE MIN(COALESCE(first_action, @first_action), @first_action) END,
      last_action = CASE WHEN @last_action IS NULL THEN last_action ELSE MAX(COALESCE(last_action, @last_action), @last_action) END,
      first_event = CASE WHEN @first_event IS NULL THEN first_event ELSE MIN(COALESCE(first_event, @first_event), @first_event) END,
      last_event = CASE WHEN @last_event IS NULL THEN last_event ELSE MAX(COALESCE(last_event, @last_event), @last_event) END
      WHERE ref = @ref`),
    addCompanyFigures: db.prepare(`UPDATE company_figures SET action_count = action_count + @actions, event_count = event_count + @events,
      first_item = CASE WHEN @first IS NULL THEN first_item ELSE MIN(COALESCE(first_item, @first), @first) END,
      last_item = CASE WHEN @last IS NULL THEN last_item ELSE MAX(COALESCE(last_item, @last), @last) END
      WHERE ref = @ref`),
    addProfileAction: db.prepare(`INSERT INTO profile_actions (profile, name, first, last) VALUES (?, ?, ?, ?)
      ON CONFLICT (profile, name) DO UPDATE SET first = MIN(first, excluded.first), last = MAX(last, excluded.last)`),
    addActivity: db.prepare(`INSERT INTO activity (company, hour, actions, events) VALUES (?, ?, ?, ?)
      ON CONFLICT (company, hour) DO UPDATE SET actions = actions + excluded.actions, events = events + excluded.events`),
    dropEmptyActivity: db.prepare('DELETE FROM activity WHERE company = ? AND hour = ? AND actions = 0 AND events = 0'),
    profileKindRange: db.prepare('SELECT MIN(time) AS first, MAX(time) AS last FROM items WHERE profile = ? AND kind = ?'),
    setProfileKindRange: [
      db.prepare('UPDATE profiles SET first_action = ?, last_action = ? WHERE ref = ?'),
      db.prepare('UPDATE profiles SET first_event = ?, last_event = ? WHERE ref = ?'),
    ],
    companyFirst: db.prepare('SELECT time FROM items WHERE company = ? ORDER BY time LIMIT 1').pluck(),
    companyLast: db.prepare('SELECT time FROM items WHERE company = ? ORDER BY time DESC LIMIT 1').pluck(),
    setCompanyRange: db.prepare('UPDATE company_figures SET first_item = ?, last_item = ? WHERE ref = ?'),
    profileActionRange: db.prepare('SELECT MIN(time) AS first, MAX(time) AS last FROM items WHERE profile = ? AND name = ? AND kind = 0'),
    deleteProfileAction: db.prepare('DELETE FROM profile_actions WHERE profile = ? AND name = ?'),
    setProfileAction: db.prepare('UPDATE profile_actions SET first = ?, last = ? WHERE profile = ? AND name = ?'),
  };

  const profileTallies = new Map<number, Tally>();
  const companyTallies = new Map<number, Tally>();
  const actionTallies = new Map<string, { profile: number; name: number; first: number; last: number }>();
  const activityTallies = new Map<string, { company: number; hour: number; counts: [number, number] }>();
  // Figures items moved away from: their first or last time may have gone with them.
  const dirtyProfiles = new Set<number>();
  const dirtyCompanies = new Set<number>();
  const dirtyActions = new Map<string, { profile: number; name: number }>();
  // Listings to refresh.
  const touchedProfiles = new Set<string>();
  const touchedCompanies = new Set<string>();
  const touchedCompanyRefs = new Set<number>();

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

  function countActivity(company: number, time: number, kind: KindIndex, by: number): void {
    const hour = Math.floor(time / HOUR_MS) * HOUR_MS;
    const key = `${company}:${hour}`;
    let entry = activityTallies.get(key);
    if (!entry) activityTallies.set(key, (entry = { company, hour, counts: [0, 0] }));
    entry.counts[kind] += by;
  }

  function countAction(profile: number, name: number, time: number): void {
    const key = `${profile}:${name}`;
    const entry = actionTallies.get(key);
    if (entry) {
      entry.first = Math.min(entry.first, time);
      entry.last = Math.max(entry.last, time);
    } else actionTallies.set(key, { profile, name, first: time, last: time });
  }

  function countItem(item: CountedItem, profileId?: string): void {
    if (item.profile !== null) {
      addToTally(tallyOf(profileTallies, item.profile), item.kind, item.time);
      touchedProfiles.add(profileId ?? refs.profileIdOf(item.profile));
      if (item.name !== null) countAction(item.profile, item.name, item.time);
    }
    countActivity(0, item.time, item.kind, 1);
    if (item.company !== null) {
      addToTally(tallyOf(companyTallies, item.company), item.kind, item.time);
      countActivity(item.company, item.time, item.kind, 1);
      touchedCompanyRefs.add(item.company);
    }
  }

  function uncountItem(item: CountedItem): void {
    if (item.profile !== null) {
      tallyOf(profileTallies, item.profile).count[item.kind]--;
      dirtyProfiles.add(item.profile);
      touchedProfiles.add(refs.profileIdOf(item.profile));
      if (item.name !== null) dirtyActions.set(`${item.profile}:${item.name}`, { profile: item.profile, name: item.name });
    }
    countActivity(0, item.time, item.kind, -1);
    if (item.company !== null) {
      tallyOf(companyTallies, item.company).count[item.kind]--;
      dirtyCompanies.add(item.company);
      countActivity(item.company, item.time, item.kind, -1);
      touchedCompanyRefs.add(item.company);
    }
  }

  function writeTallies(): void {
    for (const [ref, t] of profileTallies) {
      s.addProfileFigures.run({ ref, actions: t.count[0], events: t.count[1], first_action: t.first[0], last_action: t.last[0], first_event: t.first[1], last_event: t.last[1] });
    }
    for (const [ref, t] of companyTallies) {
      s.addCompanyFigures.run({ ref, actions: t.count[0], events: t.count[1], first: minOf(t.first[0], t.first[1]), last: maxOf(t.last[0], t.last[1]) });
    }
    for (const a of actionTallies.values()) s.addProfileAction.run(a.profile, a.name, a.first, a.last);
    for (const a of activityTallies.values()) {
      if (a.counts[0] === 0 && a.counts[1] === 0) continue;
      s.addActivity.run(a.company, a.hour, a.counts[0], a.counts[1]);
      if (a.counts[0] < 0 || a.counts[1] < 0) s.dropEmptyActivity.run(a.company, a.hour);
    }
  }

  function readMovedExtremes(): void {
    for (const ref of dirtyProfiles) {
      for (const kind of [0, 1] as const) {
        const range = s.profileKindRange.get(ref, kind) as { first: number | null; last: number | null };
        s.setProfileKindRange[kind].run(range.first, range.last, ref);
      }
    }
    for (const ref of dirtyCompanies) s.setCompanyRange.run(s.companyFirst.get(ref) ?? null, s.companyLast.get(ref) ?? null, ref);
    for (const { profile, name } of dirtyActions.values()) {
      const range = s.profileActionRange.get(profile, name) as { first: number | null; last: number | null };
      if (range.first === null) s.deleteProfileAction.run(profile, name);
      else s.setProfileAction.run(range.first, range.last, profile, name);
    }
  }

  function refreshListings(): void {
    for (const id of touchedProfiles) listings.refreshProfile(id);
    for (const ref of touchedCompanyRefs) touchedCompanies.add(refs.companyIdOf(ref));
    for (const id of touchedCompanies) listings.refreshCompany(id);
  }

  function discard(): void {
    for (const map of [profileTallies, companyTallies, actionTallies, activityTallies, dirtyActions]) map.clear();
    for (const set of [dirtyProfiles, dirtyCompanies, touchedProfiles, touchedCompanies, touchedCompanyRefs]) set.clear();
  }

  return {
    countItem,
    uncountItem,
    touchProfile: (id) => void touchedProfiles.add(id),
    touchCompany: (id) => void touchedCompanies.add(id),
    settle() {
      writeTallies();
      readMovedExtremes();
      refreshListings();
    },
    discard,
  };
}
