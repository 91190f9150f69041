/**
 * The collector's storage, behind one interface (`CollectorStore`): the identity rows the stitching
 * rules read and write, the items, and the figures the query API reads. Ingest and stitching use
 * only this interface; `openStore` is its SQLite implementation (this file and figures.ts), so a
 * PostgreSQL store implements the same methods without touching ingest.ts or stitch.ts.
 *
 * Work that grows with the number of items never happens at query time: each item is stored with
 * whom it counts for (`profile`, `company`: the stitching rules applied), and per-profile,
 * per-company and per-hour figures are kept up to date in the ingest transaction (figures.ts). A
 * merge or a company change back in time re-attributes the items concerned (a range of one profile's
 * items, found by index) and moves their figures. `recount()` rebuilds every figure from the raw
 * rows; the property test compares the two.
 *
 * Durability: WAL journal with `synchronous = FULL`, so a transaction is on disk when `commit`
 * returns, and the collector answers 2xx only after its transaction commits.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createFigures, FIGURES_SQL, MS, type FigureReader } from './figures.js';
import { ATTRIBUTED_VIEW_SQL, MEMBERSHIPS_SQL } from './stitch.js';
import type { JsonObject } from './validate.js';

// ---- The interface --------------------------------------------------------------------------------

/** An action or API call as ingest gives it to the store, after stitching. */
export interface NewItem {
  kind: 'action' | 'event';
  transaction_id?: string;
  time: string;
  received_at: string;
  user_id?: string;
  anonymous_id?: string;
  company_id?: string;
  action_name?: string;
  session_token?: string;
  /** The item exactly as sent. */
  payload: JsonObject;
}

/** What profiles and companies have in common: metadata merged over time, a first-touch campaign. */
interface Described {
  metadata: JsonObject;
  /** When the call that set each metadata field happened (its own time): the newest call wins a field. */
  metadata_times?: Record<string, string>;
  campaign: JsonObject | null;
  campaign_at?: string | null;
}

/** An identified user (`users` table). */
export interface UserRow extends Described {
  user_id: string;
  company_id?: string | null;
  identified_at: string;
}

/** An anonymous id (`anonymous_ids` table); merged_into is the user it was merged into, if any. */
export interface AnonymousRow extends Described {
  anonymous_id: string;
  merged_into?: string | null;
  merged_at?: string | null;
  company_id?: string | null;
  first_seen: string;
}

export interface CompanyRow extends Described {
  company_id: string;
  company_domain?: string | null;
  /** When the call that set company_domain happened. */
  company_domain_at?: string | null;
  first_seen: string;
}

/** The identity side: what stitch.ts reads and writes. */
export interface IdentityStore {
  getUser(userId: string): UserRow | undefined;
  getAnonymous(anonymousId: string): AnonymousRow | undefined;
  getCompany(companyId: string): CompanyRow | undefined;
  putUser(row: UserRow): void;
  /** Writes the row; when its `merged_into` changed, the items that carry only this id follow it. */
  putAnonymous(row: AnonymousRow): void;
  putCompany(row: CompanyRow): void;
  /**
   * Makes `profileId` (a user id or an anonymous id) a member of `companyId` from `since`. An item's
   * membership is kept only when the profile was not a member then by its own memberships (items
   * name their company again and again); `always` keeps it anyway, for a users call or a session
   * link, which cannot be read again later. Returns the company of its latest membership, also
   * written to its row.
   */
  join(profileId: string, companyId: string, since: string, always?: boolean): string | null;
  /**
   * Gives user `toProfile` the memberships of anonymous id `fromProfile`, in place of those it gave
   * before; returns the user's latest company.
   */
  copyMemberships(fromProfile: string, toProfile: string): string | null;
  /** Takes back from `toProfile` what copyMemberships gave it from `fromProfile`; returns its latest company. */
  dropCopiedMemberships(fromProfile: string, toProfile: string): string | null;
  /**
   * Records that a profile (a user, or an anonymous id) was seen with `sessionToken`; returns whether
   * that is new. A profile keeps every session it had: a companies call of an older one links it too.
   */
  putProfileSession(sessionToken: string, profile: { user_id: string } | { anonymous_id: string }): boolean;
  /** The users and the anonymous ids ever seen with `sessionToken`. */
  profilesWithSession(sessionToken: string): { users: string[]; anonymous: { anonymous_id: string; merged_into: string | null }[] };
  /** Records that a companies call carried `sessionToken` at `since` (the earliest such call counts). */
  putCompanySession(sessionToken: string, companyId: string, since: string): void;
  /** The companies identified with `sessionToken`, and when first. */
  companiesWithSession(sessionToken: string): { company_id: string; since: string }[];
}

/** The whole store: identity, items, figures, and reading. */
export interface CollectorStore extends IdentityStore, FigureReader {
  /** Runs `fn` in one transaction: all of a request's writes (items, rows, figures) land together or not at all. */
  transaction<T>(fn: () => T): T;
  /** Whether an action or event with this transaction id is stored. */
  hasItem(kind: 'action' | 'event', transactionId: string): boolean;
  /** Stores an item, counting it for its profile and company as the rows say now. */
  insertItem(item: NewItem): void;
  /** Rebuilds every kept figure from the raw rows (after a migration; the property test's reference). */
  recount(): void;
  close(): void;
}

// ---- SQLite -------------------------------------------------------------------------------------

/**
 * Each entry moves the schema from version i to i + 1 (`PRAGMA user_version`). Append only; never
 * edit an entry that has shipped, since existing files have already run it.
 */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE items (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind           TEXT NOT NULL CHECK (kind IN ('action', 'event')),
    transaction_id TEXT,
    time           TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    user_id        TEXT,
    anonymous_id   TEXT,
    company_id     TEXT,
    session_token  TEXT,
    action_name    TEXT,
    verb           TEXT,
    uri            TEXT,
    status         INTEGER,
    payload        TEXT NOT NULL,
    UNIQUE (kind, transaction_id)
  );
  CREATE INDEX items_time ON items (time);
  CREATE INDEX items_user ON items (user_id);
  CREATE INDEX items_anonymous ON items (anonymous_id);
  CREATE INDEX items_company ON items (company_id);

  CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    company_id    TEXT,
    session_token TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}',
    campaign      TEXT,
    campaign_at   TEXT,
    identified_at TEXT NOT NULL,
    updated_at    TEXT NOT NULL
  );

  CREATE TABLE anonymous_ids (
    anonymous_id  TEXT PRIMARY KEY,
    merged_into   TEXT,
    merged_at     TEXT,
    company_id    TEXT,
    session_token TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}',
    campaign      TEXT,
    campaign_at   TEXT,
    first_seen    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
  );
  CREATE INDEX anonymous_ids_merged_into ON anonymous_ids (merged_into);

  CREATE TABLE companies (
    company_id     TEXT PRIMARY KEY,
    company_domain TEXT,
    session_token  TEXT,
    metadata       TEXT NOT NULL DEFAULT '{}',
    campaign       TEXT,
    campaign_at    TEXT,
    first_seen     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
  );
  `,
  ATTRIBUTED_VIEW_SQL,
  MEMBERSHIPS_SQL,
  FIGURES_SQL,
  // copied_from: the anonymous id a user's membership was copied from, so that it can be taken back
  // when the id turns out to be another user's. company_sessions: every session token a companies
  // call carried, so that a profile seen with it later joins too (the two calls arrive in any order).
  `
  ALTER TABLE memberships ADD COLUMN copied_from TEXT;
  CREATE TABLE company_sessions (
    session_token TEXT NOT NULL,
    company_id    TEXT NOT NULL,
    since         TEXT NOT NULL,
    PRIMARY KEY (session_token, company_id)
  ) WITHOUT ROWID;
  INSERT INTO company_sessions (session_token, company_id, since)
    SELECT session_token, company_id, updated_at FROM companies WHERE session_token IS NOT NULL;
  `,
  // metadata_times, company_domain_at: when the call that set each metadata field (and the company's
  // domain) happened, so that the newest call by its own time wins it, not the last to arrive. Fields
  // stored before have no time, and any call with one replaces them.
  `
  ALTER TABLE users ADD COLUMN metadata_times TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE anonymous_ids ADD COLUMN metadata_times TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE companies ADD COLUMN metadata_times TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE companies ADD COLUMN company_domain_at TEXT;
  `,
  // profile_sessions: every session token each profile was seen with (the rows' session_token holds
  // only the latest to arrive), so that a companies call of any of its sessions links it, in any
  // order. Keyed by token first: that is how companies calls look profiles up. Files from before
  // know only each profile's latest token.
  `
  CREATE TABLE profile_sessions (
    session_token TEXT NOT NULL,
    anonymous     INTEGER NOT NULL,
    profile_id    TEXT NOT NULL,
    PRIMARY KEY (session_token, anonymous, profile_id)
  ) WITHOUT ROWID;
  INSERT OR IGNORE INTO profile_sessions (session_token, anonymous, profile_id)
    SELECT session_token, 0, user_id FROM users WHERE session_token IS NOT NULL;
  INSERT OR IGNORE INTO profile_sessions (session_token, anonymous, profile_id)
    SELECT session_token, 1, anonymous_id FROM anonymous_ids WHERE session_token IS NOT NULL;
  `,
  // No change of schema: items from before a profile's first company no longer count for that company
  // ("any future web or API traffic"). Files from before are counted again once (RECOUNT_BEFORE).
  `-- attribution: no company before the first membership`,
  // sessions: each session token once. Items (their payloads hold it no more: packed, figures.ts),
  // profile_sessions and company_sessions refer to it, and to profiles and companies, by number:
  // every page view carries its visitor's token, so the text repeated in each was most of what a
  // token cost. The session_token columns of users, anonymous ids and companies (the latest token to
  // arrive) go: profile_sessions and company_sessions keep every one. Items stored before keep the
  // token in their payload, and answer the same.
  `
  CREATE TABLE sessions (ref INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE);
  INSERT INTO sessions (token) SELECT session_token FROM profile_sessions UNION SELECT session_token FROM company_sessions;
  ALTER TABLE items ADD COLUMN session INTEGER;
  INSERT OR IGNORE INTO profiles (id) SELECT profile_id FROM profile_sessions;
  INSERT OR IGNORE INTO company_figures (id) SELECT company_id FROM company_sessions;

  ALTER TABLE profile_sessions RENAME TO profile_sessions_v8;
  CREATE TABLE profile_sessions (
    session   INTEGER NOT NULL,
    anonymous INTEGER NOT NULL,
    profile   INTEGER NOT NULL,
    PRIMARY KEY (session, anonymous, profile)
  ) WITHOUT ROWID;
  INSERT INTO profile_sessions (session, anonymous, profile)
    SELECT s.ref, v8.anonymous, p.ref FROM profile_sessions_v8 v8 JOIN sessions s ON s.token = v8.session_token JOIN profiles p ON p.id = v8.profile_id;
  DROP TABLE profile_sessions_v8;

  -- since: milliseconds since 1970, as the other kept times.
  ALTER TABLE company_sessions RENAME TO company_sessions_v8;
  CREATE TABLE company_sessions (
    session INTEGER NOT NULL,
    company INTEGER NOT NULL,
    since   INTEGER NOT NULL,
    PRIMARY KEY (session, company)
  ) WITHOUT ROWID;
  INSERT INTO company_sessions (session, company, since)
    SELECT s.ref, c.ref, ${MS('v8.since')} FROM company_sessions_v8 v8 JOIN sessions s ON s.token = v8.session_token JOIN company_figures c ON c.id = v8.company_id;
  DROP TABLE company_sessions_v8;

  ALTER TABLE users DROP COLUMN session_token;
  ALTER TABLE anonymous_ids DROP COLUMN session_token;
  ALTER TABLE companies DROP COLUMN session_token;
  `,
  // memberships by reference: the profile, the company and the anonymous id a copy came from as
  // numbers (profiles, company_figures), since in milliseconds. A signed-up visitor has several (its
  // users call, its companies call, the anonymous id's own and the user's copy of it, an item naming
  // the company back in time), each of which repeated two ids and a time as text.
  `
  INSERT OR IGNORE INTO profiles (id) SELECT profile_id FROM memberships UNION SELECT copied_from FROM memberships WHERE copied_from IS NOT NULL;
  INSERT OR IGNORE INTO company_figures (id) SELECT company_id FROM memberships;
  ALTER TABLE memberships RENAME TO memberships_v9;
  DROP INDEX memberships_profile;
  CREATE TABLE memberships (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    profile     INTEGER NOT NULL,
    company     INTEGER NOT NULL,
    since       INTEGER NOT NULL,
    copied_from INTEGER
  );
  CREATE INDEX memberships_profile ON memberships (profile, since);
  INSERT INTO memberships (seq, profile, company, since, copied_from)
    SELECT m.seq, p.ref, c.ref, ${MS('m.since')}, f.ref FROM memberships_v9 m
    JOIN profiles p ON p.id = m.profile_id JOIN company_figures c ON c.id = m.company_id LEFT JOIN profiles f ON f.id = m.copied_from
    ORDER BY m.seq;
  DROP TABLE memberships_v9;
  `,
  // updated_at (when a row was last written, by arrival) was written on every call and read by
  // nothing: the times that answers show are the calls' own (identified_at, first_seen, campaign_at).
  `
  ALTER TABLE users DROP COLUMN updated_at;
  ALTER TABLE anonymous_ids DROP COLUMN updated_at;
  ALTER TABLE companies DROP COLUMN updated_at;
  `,
];

/** A file whose schema version is below this (and above 0) was counted by older rules: openStore recounts it once. */
const RECOUNT_BEFORE = 8;

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

/** A row as SQLite gives it: JSON columns as text. */
type RawRow = Record<string, unknown> & { metadata?: string | null; metadata_times?: string | null; campaign?: string | null };

const json = (value: unknown): string | null => (value === undefined || value === null ? null : JSON.stringify(value));

/** A row's JSON columns as text. */
const jsonColumns = (row: Described) => ({ metadata: json(row.metadata ?? {}), metadata_times: json(row.metadata_times ?? {}), campaign: json(row.campaign) });

/** Row objects with their JSON columns parsed. */
export function parseRow<T>(row: unknown): T | undefined {
  if (!row) return undefined;
  const raw = row as RawRow;
  return {
    ...raw,
    metadata: JSON.parse(raw.metadata ?? '{}'),
    metadata_times: JSON.parse(raw.metadata_times ?? '{}'),
    campaign: raw.campaign ? JSON.parse(raw.campaign) : null,
  } as T;
}

/** Opens (creating and migrating as needed) the SQLite database at `path` (a file path, or ':memory:'). */
export function openStore(path: string): CollectorStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  const version = migrate(db);
  const figures = createFigures(db);
  // Files from before the kept figures hold items without them, and files counted by older rules of
  // attribution hold other figures: copy and count once, as part of the upgrade.
  if (figures.needsUpgrade() || (version > 0 && version < RECOUNT_BEFORE)) db.transaction(() => figures.recount())();

  const getUser = db.prepare('SELECT * FROM users WHERE user_id = ?');
  const getAnonymous = db.prepare('SELECT * FROM anonymous_ids WHERE anonymous_id = ?');
  const getCompany = db.prepare('SELECT * FROM companies WHERE company_id = ?');
  const putUser = db.prepare(`
    INSERT INTO users (user_id, company_id, metadata, metadata_times, campaign, campaign_at, identified_at)
    VALUES (@user_id, @company_id, @metadata, @metadata_times, @campaign, @campaign_at, @identified_at)
    ON CONFLICT (user_id) DO UPDATE SET company_id = excluded.company_id,
      metadata = excluded.metadata, metadata_times = excluded.metadata_times, campaign = excluded.campaign, campaign_at = excluded.campaign_at,
      identified_at = excluded.identified_at`);
  const putAnonymous = db.prepare(`
    INSERT INTO anonymous_ids (anonymous_id, merged_into, merged_at, company_id, metadata, metadata_times, campaign, campaign_at, first_seen)
    VALUES (@anonymous_id, @merged_into, @merged_at, @company_id, @metadata, @metadata_times, @campaign, @campaign_at, @first_seen)
    ON CONFLICT (anonymous_id) DO UPDATE SET merged_into = excluded.merged_into, merged_at = excluded.merged_at,
      company_id = excluded.company_id, metadata = excluded.metadata,
      metadata_times = excluded.metadata_times,
      campaign = excluded.campaign, campaign_at = excluded.campaign_at, first_seen = excluded.first_seen`);
  const putCompany = db.prepare(`
    INSERT INTO companies (company_id, company_domain, company_domain_at, metadata, metadata_times, campaign, campaign_at, first_seen)
    VALUES (@company_id, @company_domain, @company_domain_at, @metadata, @metadata_times, @campaign, @campaign_at, @first_seen)
    ON CONFLICT (company_id) DO UPDATE SET company_domain = excluded.company_domain, company_domain_at = excluded.company_domain_at,
      metadata = excluded.metadata, metadata_times = excluded.metadata_times, campaign = excluded.campaign, campaign_at = excluded.campaign_at,
      first_seen = excluded.first_seen`);
  const mergedInto = db.prepare('SELECT merged_into FROM anonymous_ids WHERE anonymous_id = ?').pluck();

  // Memberships name profiles and companies by reference (profiles, company_figures), times in milliseconds.
  const ownCompanyAt = db.prepare('SELECT company FROM memberships WHERE profile = ? AND since <= ? AND copied_from IS NULL ORDER BY since DESC, seq DESC LIMIT 1').pluck();
  const latestCompany = db.prepare('SELECT c.id FROM memberships m JOIN company_figures c ON c.ref = m.company WHERE m.profile = ? ORDER BY m.since DESC, m.seq DESC LIMIT 1').pluck();
  const insertMembership = db.prepare('INSERT INTO memberships (profile, company, since) VALUES (?, ?, ?)');
  const hasOwnMembership = db.prepare('SELECT 1 FROM memberships WHERE profile = ? AND company = ? AND since = ? AND copied_from IS NULL');
  const nextOwnMembership = db.prepare('SELECT since FROM memberships WHERE profile = ? AND since > ? AND copied_from IS NULL ORDER BY since LIMIT 1').pluck();
  // The items of a profile that named a company themselves: its own (user), or an anonymous id's own.
  const companyNamingItems = db.prepare(`
    SELECT sent_company AS company, time FROM items WHERE profile = @ref AND sent_user = @ref AND sent_company IS NOT NULL AND time > @after AND time < @until
    UNION ALL
    SELECT sent_company, time FROM items WHERE anon = @ref AND sent_user IS NULL AND sent_company IS NOT NULL AND time > @after AND time < @until
    ORDER BY 2`);
  const copyMemberships = db.prepare('INSERT INTO memberships (profile, company, since, copied_from) SELECT @to, company, since, @from FROM memberships WHERE profile = @from ORDER BY seq');
  const dropCopiedMemberships = db.prepare('DELETE FROM memberships WHERE profile = @to AND copied_from = @from');
  const setUserCompany = db.prepare('UPDATE users SET company_id = ? WHERE user_id = ?');
  const setAnonymousCompany = db.prepare('UPDATE anonymous_ids SET company_id = ? WHERE anonymous_id = ?');
  const putProfileSession = db.prepare('INSERT OR IGNORE INTO profile_sessions (session, anonymous, profile) VALUES (?, ?, ?)');
  const sessionUsers = db.prepare(SESSION_LOOKUPS.usersWithSession).pluck();
  const sessionAnonymous = db.prepare(SESSION_LOOKUPS.anonymousWithSession);
  const putCompanySession = db.prepare(`
    INSERT INTO company_sessions (session, company, since) VALUES (?, ?, ?)
    ON CONFLICT (session, company) DO UPDATE SET since = MIN(since, excluded.since)`);
  const sessionCompanies = db.prepare(SESSION_LOOKUPS.companiesWithSession);

  /** The latest membership's company of a profile, written to its row. */
  const settleCompany = (profileId: string): string | null => {
    const companyId = (latestCompany.get(figures.profileRef(profileId)) as string | undefined) ?? null;
    setUserCompany.run(companyId, profileId);
    setAnonymousCompany.run(companyId, profileId);
    figures.touchProfile(profileId);
    return companyId;
  };

  /**
   * A membership that changes the company from `since` on (one arriving back in time): the later
   * items that named another company before the next membership were skipped as already members,
   * and now mark a change again, as they would have had they arrived after it.
   */
  const restoreItemMemberships = (profile: number, company: number, since: number): void => {
    const until = nextOwnMembership.get(profile, since) as number | undefined;
    let current = company;
    const rows = companyNamingItems.all({ ref: profile, after: since, until: until ?? Number.MAX_SAFE_INTEGER }) as { company: number; time: number }[];
    for (const row of rows) {
      if (row.company === current) continue;
      insertMembership.run(profile, row.company, row.time);
      current = row.company;
    }
  };

  return {
    ...figures.reader,
    transaction<T>(fn: () => T): T {
      try {
        return db.transaction(() => {
          const result = fn();
          figures.settle();
          return result;
        })();
      } catch (err) {
        figures.discard();
        throw err;
      }
    },
    hasItem: (kind, transactionId) => figures.hasItem(kind, transactionId),
    insertItem: (item) => figures.insertItem(item),
    recount: () => db.transaction(() => figures.recount())(),

    getUser: (userId) => parseRow<UserRow>(getUser.get(userId)),
    getAnonymous: (anonymousId) => parseRow<AnonymousRow>(getAnonymous.get(anonymousId)),
    getCompany: (companyId) => parseRow<CompanyRow>(getCompany.get(companyId)),
    putUser(row) {
      putUser.run({ company_id: null, campaign_at: null, ...row, ...jsonColumns(row) });
      figures.touchProfile(row.user_id);
    },
    putAnonymous(row) {
      const before = (mergedInto.get(row.anonymous_id) as string | null | undefined) ?? null;
      putAnonymous.run({ merged_into: null, merged_at: null, company_id: null, campaign_at: null, ...row, ...jsonColumns(row) });
      const after = row.merged_into ?? null;
      figures.touchProfile(row.anonymous_id);
      if (after) figures.touchProfile(after);
      if (before !== after) figures.moveAnonymousItems(row.anonymous_id, before ?? row.anonymous_id, after ?? row.anonymous_id);
    },
    putCompany(row) {
      putCompany.run({ company_domain: null, company_domain_at: null, campaign_at: null, ...row, ...jsonColumns(row) });
      figures.touchCompany(row.company_id);
    },
    join(profileId, companyId, sinceIso, always = false) {
      const profile = figures.profileRef(profileId);
      const company = figures.companyRef(companyId);
      const since = Date.parse(sinceIso);
      const before = ownCompanyAt.get(profile, since);
      if (before === company && (!always || hasOwnMembership.get(profile, company, since))) return settleCompany(profileId);
      insertMembership.run(profile, company, since);
      if (before !== company) restoreItemMemberships(profile, company, since);
      figures.reattributeCompanies(profileId);
      return settleCompany(profileId);
    },
    copyMemberships(fromProfile, toProfile) {
      const refs = { from: figures.profileRef(fromProfile), to: figures.profileRef(toProfile) };
      dropCopiedMemberships.run(refs);
      copyMemberships.run(refs);
      figures.reattributeCompanies(toProfile);
      return settleCompany(toProfile);
    },
    dropCopiedMemberships(fromProfile, toProfile) {
      if (dropCopiedMemberships.run({ from: figures.profileRef(fromProfile), to: figures.profileRef(toProfile) }).changes > 0) figures.reattributeCompanies(toProfile);
      return settleCompany(toProfile);
    },
    putProfileSession: (sessionToken, profile) =>
      'user_id' in profile
        ? putProfileSession.run(figures.sessionRef(sessionToken), 0, figures.profileRef(profile.user_id)).changes > 0
        : putProfileSession.run(figures.sessionRef(sessionToken), 1, figures.profileRef(profile.anonymous_id)).changes > 0,
    profilesWithSession: (sessionToken) => ({
      users: sessionUsers.all(sessionToken) as string[],
      anonymous: sessionAnonymous.all(sessionToken) as { anonymous_id: string; merged_into: string | null }[],
    }),
    putCompanySession: (sessionToken, companyId, since) => void putCompanySession.run(figures.sessionRef(sessionToken), figures.companyRef(companyId), Date.parse(since)),
    companiesWithSession: (sessionToken) =>
      (sessionCompanies.all(sessionToken) as { company_id: string; since: number }[]).map((row) => ({ company_id: row.company_id, since: new Date(row.since).toISOString() })),
    close: () => db.close(),
  };
}

/** Runs the migrations a file lacks; returns the version the file had (0: a new file). */
function migrate(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this collector knows (${MIGRATIONS.length})`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] as string);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  return current;
}
