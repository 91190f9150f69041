/**
 * What the users and companies pages list about each profile and company, beyond its item counts:
 * whether a profile is listed (a user, or an anonymous id not merged into one), its company, when it
 * was identified, first and last seen, how far through the default funnel it got; and each company's
 * user count and first and last seen. Refreshed at the end of each transaction for what it touched.
 */
import type Database from 'better-sqlite3';
import type { CompanyFigures, ProfileFigures } from '../store.js';
import type { Refs } from './refs.js';
import { maxOf, minOf, ms } from './rows.js';

export interface Listings {
  /** A profile's listing figures from its rows and its item figures; keeps company user counts. */
  refreshProfile(id: string): void;
  refreshCompany(id: string): void;
}

export function createListings({ db, refs }: { db: Database.Database; refs: Pick<Refs, 'profileRef' | 'companyRef'> }): Listings {
  const s = {
    profileById: db.prepare('SELECT * FROM profiles WHERE id = ?'),
    userRow: db.prepare('SELECT identified_at, company_id FROM users WHERE user_id = ?'),
    anonymousRow: db.prepare('SELECT first_seen, merged_into, company_id FROM anonymous_ids WHERE anonymous_id = ?'),
    mergedFirstSeen: db.prepare('SELECT MIN(first_seen) AS first, MAX(first_seen) AS last FROM anonymous_ids WHERE merged_into = ?'),
    writeProfile: db.prepare(`UPDATE profiles SET active = @active, identified_at = @identified_at, company_id = @company_id,
      first_seen = @first_seen, last_seen = @last_seen, funnel_level = @funnel_level WHERE ref = @ref`),
    firstEventFrom: db.prepare('SELECT MIN(time) FROM items WHERE profile = ? AND kind = 1 AND time >= ?').pluck(),
    addUserCount: db.prepare('UPDATE company_figures SET user_count = user_count + ? WHERE ref = ?'),
    companyRow: db.prepare('SELECT first_seen FROM companies WHERE company_id = ?').pluck(),
    companyById: db.prepare('SELECT * FROM company_figures WHERE id = ?'),
    writeCompanySeen: db.prepare('UPDATE company_figures SET first_seen = ?, last_seen = ? WHERE ref = ?'),
  };

  /**
   * How far through the default funnel a profile got: its first action, then identified at or after
   * it, then an API call at or after that.
   */
  function funnelLevel(figures: ProfileFigures, identifiedAt: number | null): number {
    const acted = figures.first_action;
    if (acted === null) return 0;
    if (identifiedAt === null || identifiedAt < acted) return 1;
    if (figures.first_event === null || figures.last_event === null || figures.last_event < identifiedAt) return 2;
    if (figures.first_event >= identifiedAt) return 3;
    return s.firstEventFrom.get(figures.ref, identifiedAt) === null ? 2 : 3;
  }

  type UserRow = { identified_at: string; company_id: string | null };
  type AnonymousRow = { first_seen: string; merged_into: string | null; company_id: string | null };

  /**
   * First and last seen: its items' times, and when its rows were seen (a user's identification, its
   * merged anonymous ids' first sight).
   */
  function seenRange(id: string, before: ProfileFigures, user: UserRow | undefined, anonymous: AnonymousRow | undefined): { first: number | null; last: number | null } {
    let first = minOf(before.first_action, before.first_event);
    let last = maxOf(before.last_action, before.last_event);
    if (user) {
      const merged = s.mergedFirstSeen.get(id) as { first: string | null; last: string | null };
      first = minOf(minOf(first, ms(user.identified_at)), ms(merged.first));
      last = maxOf(maxOf(last, ms(user.identified_at)), ms(merged.last));
    } else if (anonymous) {
      first = minOf(first, ms(anonymous.first_seen));
      last = maxOf(last, ms(anonymous.first_seen));
    }
    return { first, last };
  }

  function refreshProfile(id: string): void {
    const ref = refs.profileRef(id);
    const before = s.profileById.get(id) as ProfileFigures;
    const user = s.userRow.get(id) as UserRow | undefined;
    const anonymous = s.anonymousRow.get(id) as AnonymousRow | undefined;
    const active = user !== undefined || (anonymous !== undefined && !anonymous.merged_into) ? 1 : 0;
    const { first, last } = seenRange(id, before, user, anonymous);
    const companyId = (user ? user.company_id : anonymous?.company_id) ?? null;
    const identifiedAt = user ? ms(user.identified_at) : null;
    s.writeProfile.run({ ref, active, identified_at: identifiedAt, company_id: companyId, first_seen: first, last_seen: last, funnel_level: funnelLevel(before, identifiedAt) });
    // A listed profile counts as one user of its company.
    const counted = before.active && before.company_id !== null ? before.company_id : null;
    const counts = active && companyId !== null ? companyId : null;
    if (counted !== counts) {
      if (counted !== null) s.addUserCount.run(-1, refs.companyRef(counted));
      if (counts !== null) s.addUserCount.run(1, refs.companyRef(counts));
    }
  }

  function refreshCompany(id: string): void {
    const figures = s.companyById.get(id) as CompanyFigures | undefined;
    const ref = figures?.ref ?? refs.companyRef(id);
    const rowFirst = ms(s.companyRow.get(id) as string | undefined);
    s.writeCompanySeen.run(minOf(rowFirst, figures?.first_item ?? null), maxOf(rowFirst, figures?.last_item ?? null), ref);
  }

  return { refreshProfile, refreshCompany };
}
