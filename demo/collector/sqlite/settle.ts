/**
 * The end of an ingest transaction: its tallied changes (tallies.ts) written to the kept figures,
 * one write per figure. A move that took items away cannot lower a minimum or raise a maximum by
 * arithmetic, so the first and last times of the figures items left are read again by index. Then
 * the listings of the profiles and companies touched are refreshed (listings.ts).
 */
import type Database from 'better-sqlite3';
import type { Listings } from './listings.js';
import type { RefLookups } from './refs.js';
import { maxOf, minOf } from './rows.js';
import type { Changes } from './tallies.js';

export function createSettle({ db, refs, listings }: { db: Database.Database; refs: Pick<RefLookups, 'companyIdOf'>; listings: Listings }): { settle(changes: Changes): void } {
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

  function writeTallies(changes: Changes): void {
    for (const [ref, t] of changes.profiles) {
      s.addProfileFigures.run({ ref, actions: t.count[0], events: t.count[1], first_action: t.first[0], last_action: t.last[0], first_event: t.first[1], last_event: t.last[1] });
    }
    for (const [ref, t] of changes.companies) {
      s.addCompanyFigures.run({ ref, actions: t.count[0], events: t.count[1], first: minOf(t.first[0], t.first[1]), last: maxOf(t.last[0], t.last[1]) });
    }
    for (const a of changes.actions.values()) s.addProfileAction.run(a.profile, a.name, a.first, a.last);
    for (const a of changes.activity.values()) {
      if (a.counts[0] === 0 && a.counts[1] === 0) continue;
      s.addActivity.run(a.company, a.hour, a.counts[0], a.counts[1]);
      if (a.counts[0] < 0 || a.counts[1] < 0) s.dropEmptyActivity.run(a.company, a.hour);
    }
  }

  function readMovedExtremes({ moved }: Changes): void {
    for (const ref of moved.profiles) {
      for (const kind of [0, 1] as const) {
        const range = s.profileKindRange.get(ref, kind) as { first: number | null; last: number | null };
        s.setProfileKindRange[kind].run(range.first, range.last, ref);
      }
    }
    for (const ref of moved.companies) s.setCompanyRange.run(s.companyFirst.get(ref) ?? null, s.companyLast.get(ref) ?? null, ref);
    for (const { profile, name } of moved.actions.values()) {
      const range = s.profileActionRange.get(profile, name) as { first: number | null; last: number | null };
      if (range.first === null) s.deleteProfileAction.run(profile, name);
      else s.setProfileAction.run(range.first, range.last, profile, name);
    }
  }

  function refreshListings({ touched }: Changes): void {
    for (const id of touched.profiles) listings.refreshProfile(id);
    for (const ref of touched.companyRefs) touched.companies.add(refs.companyIdOf(ref));
    for (const id of touched.companies) listings.refreshCompany(id);
  }

  return {
    settle(changes) {
      writeTallies(changes);
      readMovedExtremes(changes);
      refreshListings(changes);
    },
  };
}
