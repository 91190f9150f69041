/**
 * Company memberships over time (stitching rule 5): a profile belongs to a company from a
 * membership's `since` until its next one. Profiles and companies by reference, times in
 * milliseconds. A change re-attributes the profile's items that name no company (items.ts), and the
 * latest membership's company is written to the profile's row.
 */
import type Database from 'better-sqlite3';
import type { IdentityStore } from '../store.js';
import type { Figures } from './figures.js';
import type { Refs } from './refs.js';

type Memberships = Pick<IdentityStore, 'join' | 'copyMemberships' | 'dropCopiedMemberships'>;

interface Dependencies {
  db: Database.Database;
  refs: Pick<Refs, 'profileRef' | 'companyRef'>;
  figures: Pick<Figures, 'touchProfile' | 'reattributeCompanies'>;
}

export function createMemberships({ db, refs, figures }: Dependencies): Memberships {
  const s = {
    ownCompanyAt: db.prepare('SELECT company FROM memberships WHERE profile = ? AND since <= ? AND copied_from IS NULL ORDER BY since DESC, seq DESC LIMIT 1').pluck(),
    latestCompany: db.prepare('SELECT c.id FROM memberships m JOIN company_figures c ON c.ref = m.company WHERE m.profile = ? ORDER BY m.since DESC, m.seq DESC LIMIT 1').pluck(),
    insertMembership: db.prepare('INSERT INTO memberships (profile, company, since) VALUES (?, ?, ?)'),
    hasOwnMembership: db.prepare('SELECT 1 FROM memberships WHERE profile = ? AND company = ? AND since = ? AND copied_from IS NULL'),
    nextOwnMembership: db.prepare('SELECT since FROM memberships WHERE profile = ? AND since > ? AND copied_from IS NULL ORDER BY since LIMIT 1').pluck(),
    // The items of a profile that named a company themselves: its own (user), or an anonymous id's own.
    companyNamingItems: db.prepare(`
    SELECT sent_company AS company, time FROM items WHERE profile = @ref AND sent_user = @ref AND sent_company IS NOT NULL AND time > @after AND time < @until
    UNION ALL
    SELECT sent_company, time FROM items WHERE anon = @ref AND sent_user IS NULL AND sent_company IS NOT NULL AND time > @after AND time < @until
    ORDER BY 2`),
    copyMemberships: db.prepare('INSERT INTO memberships (profile, company, since, copied_from) SELECT @to, company, since, @from FROM memberships WHERE profile = @from ORDER BY seq'),
    dropCopiedMemberships: db.prepare('DELETE FROM memberships WHERE profile = @to AND copied_from = @from'),
    setUserCompany: db.prepare('UPDATE users SET company_id = ? WHERE user_id = ?'),
    setAnonymousCompany: db.prepare('UPDATE anonymous_ids SET company_id = ? WHERE anonymous_id = ?'),
  };

  /** The latest membership's company of a profile, written to its row. */
  function settleCompany(profileId: string): string | null {
    const companyId = (s.latestCompany.get(refs.profileRef(profileId)) as string | undefined) ?? null;
    s.setUserCompany.run(companyId, profileId);
    s.setAnonymousCompany.run(companyId, profileId);
    figures.touchProfile(profileId);
    return companyId;
  }

  /**
   * A membership that changes the company from `since` on (one arriving back in time): the later
   * items that named another company before the next membership were skipped as already members,
   * and now mark a change again, as they would have had they arrived after it.
   */
  function restoreItemMemberships(profile: number, company: number, since: number): void {
    const until = s.nextOwnMembership.get(profile, since) as number | undefined;
    let current = company;
    const rows = s.companyNamingItems.all({ ref: profile, after: since, until: until ?? Number.MAX_SAFE_INTEGER }) as { company: number; time: number }[];
    for (const row of rows) {
      if (row.company === current) continue;
      s.insertMembership.run(profile, row.company, row.time);
      current = row.company;
    }
  }

  return {
    join(profileId, companyId, sinceIso, always = false) {
      const profile = refs.profileRef(profileId);
      const company = refs.companyRef(companyId);
      const since = Date.parse(sinceIso);
      const before = s.ownCompanyAt.get(profile, since);
      if (before === company && (!always || s.hasOwnMembership.get(profile, company, since))) return settleCompany(profileId);
      s.insertMembership.run(profile, company, since);
      if (before !== company) restoreItemMemberships(profile, company, since);
      figures.reattributeCompanies(profileId);
      return settleCompany(profileId);
    },
    copyMemberships(fromProfile, toProfile) {
      const profiles = { from: refs.profileRef(fromProfile), to: refs.profileRef(toProfile) };
      s.dropCopiedMemberships.run(profiles);
      s.copyMemberships.run(profiles);
      figures.reattributeCompanies(toProfile);
      return settleCompany(toProfile);
    },
    dropCopiedMemberships(fromProfile, toProfile) {
      if (s.dropCopiedMemberships.run({ from: refs.profileRef(fromProfile), to: refs.profileRef(toProfile) }).changes > 0) figures.reattributeCompanies(toProfile);
      return settleCompany(toProfile);
    },
  };
}
