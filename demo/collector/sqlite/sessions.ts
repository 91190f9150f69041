/**
 * Session tokens (by reference, sessions table): every token each profile was seen with, and every
 * token a companies call carried, so that a profile and a company that shared a session are linked
 * whichever call arrives first (stitch.ts).
 */
import type Database from 'better-sqlite3';
import type { IdentityStore } from '../store.js';
import type { Refs } from './refs.js';

type Sessions = Pick<IdentityStore, 'putProfileSession' | 'profilesWithSession' | 'putCompanySession' | 'companiesWithSession'>;

/**
 * The store's lookups by session token: every companies call carrying one, and every profile seen
 * with a new one, makes them. Each must find its rows by index (a scan would grow with every
 * profile ever seen); test/collector/session-lookups.test.ts reads their query plans.
 */
export const SESSION_LOOKUPS = {
  usersWithSession: `SELECT p.id FROM sessions t JOIN profile_sessions s ON s.session = t.ref AND s.anonymous = 0 JOIN profiles p ON p.ref = s.profile
    WHERE t.token = ? ORDER BY p.id`,
  anonymousWithSession: `SELECT a.anonymous_id, a.merged_into FROM sessions t JOIN profile_sessions s ON s.session = t.ref AND s.anonymous = 1
    JOIN profiles p ON p.ref = s.profile JOIN anonymous_ids a ON a.anonymous_id = p.id
    WHERE t.token = ? ORDER BY p.id`,
  companiesWithSession: `SELECT c.id AS company_id, s.since FROM sessions t JOIN company_sessions s ON s.session = t.ref JOIN company_figures c ON c.ref = s.company
    WHERE t.token = ? ORDER BY s.since, c.id`,
} as const;

export function createSessions({ db, refs }: { db: Database.Database; refs: Pick<Refs, 'profileRef' | 'companyRef' | 'sessionRef'> }): Sessions {
  const s = {
    putProfileSession: db.prepare('INSERT OR IGNORE INTO profile_sessions (session, anonymous, profile) VALUES (?, ?, ?)'),
    sessionUsers: db.prepare(SESSION_LOOKUPS.usersWithSession).pluck(),
    sessionAnonymous: db.prepare(SESSION_LOOKUPS.anonymousWithSession),
    putCompanySession: db.prepare(`
    INSERT INTO company_sessions (session, company, since) VALUES (?, ?, ?)
    ON CONFLICT (session, company) DO UPDATE SET since = MIN(since, excluded.since)`),
    sessionCompanies: db.prepare(SESSION_LOOKUPS.companiesWithSession),
  };

  return {
    putProfileSession: (sessionToken, profile) =>
      'user_id' in profile
        ? s.putProfileSession.run(refs.sessionRef(sessionToken), 0, refs.profileRef(profile.user_id)).changes > 0
        : s.putProfileSession.run(refs.sessionRef(sessionToken), 1, refs.profileRef(profile.anonymous_id)).changes > 0,
    profilesWithSession: (sessionToken) => ({
      users: s.sessionUsers.all(sessionToken) as string[],
      anonymous: s.sessionAnonymous.all(sessionToken) as { anonymous_id: string; merged_into: string | null }[],
    }),
    putCompanySession: (sessionToken, companyId, since) => void s.putCompanySession.run(refs.sessionRef(sessionToken), refs.companyRef(companyId), Date.parse(since)),
    companiesWithSession: (sessionToken) =>
      (s.sessionCompanies.all(sessionToken) as { company_id: string; since: number }[]).map((row) => ({ company_id: row.company_id, since: new Date(row.since).toISOString() })),
  };
}
