/**
 * Whom an item counts for, as the stitching rules (stitch.ts) have left the identity rows: the user
 * it names, or else the user its anonymous id was merged into, or else that anonymous id (rules 1 to
 * 4); and the company it names, or else the one its profile belonged to when it happened (rule 5).
 */
import type Database from 'better-sqlite3';
import type { RefLookups } from './refs.js';

/** The company (its reference) an item of one profile counts for, by the item's time; null: none. */
export type CompanyAt = (time: number) => number | null;

export interface Attribution {
  /** The profile (User Id) an item carrying these ids counts for; null when it carries neither. */
  profileOf(sentUser: string | undefined, anonymousId: string | undefined): string | null;
  /** The company an item of `profileId` that names none counts for, at its time. */
  companyAt(profileId: string | null): CompanyAt;
  /** Forgets one profile's memberships (they changed), or every profile's (the transaction ended). */
  forgetMemberships(profileId?: string): void;
}

export function createAttribution({ db, refs }: { db: Database.Database; refs: RefLookups }): Attribution {
  const mergedInto = db.prepare('SELECT merged_into FROM anonymous_ids WHERE anonymous_id = ?').pluck();
  const memberships = db.prepare('SELECT company, since FROM memberships WHERE profile = ? ORDER BY since, seq');
  /** Each profile's memberships, read once per transaction; dropped when they change. */
  const companyAtByProfile = new Map<string, CompanyAt>();

  function readMemberships(profileId: string): CompanyAt {
    const ref = refs.findProfile(profileId);
    const list = ref === undefined ? [] : (memberships.all(ref) as { company: number; since: number }[]);
    if (list.length === 0) return () => null;
    return (time) => {
      // The latest membership from at or before `time` (ties: the later one). None before the first:
      // linking takes "any future web or API traffic", never the traffic before it (stitch.ts, rule 5).
      let found: { company: number } | undefined;
      for (const m of list) if (m.since <= time) found = m;
      return found === undefined ? null : found.company;
    };
  }

  return {
    profileOf: (sentUser, anonymousId) => sentUser ?? ((anonymousId && (mergedInto.get(anonymousId) as string | null | undefined)) || anonymousId) ?? null,

    companyAt(profileId) {
      if (profileId === null) return () => null;
      let companyAt = companyAtByProfile.get(profileId);
      if (!companyAt) companyAtByProfile.set(profileId, (companyAt = readMemberships(profileId)));
      return companyAt;
    },

    forgetMemberships: (profileId) => (profileId === undefined ? companyAtByProfile.clear() : void companyAtByProfile.delete(profileId)),
  };
}
