/**
 * SQLite storage: schema and migrations, and the few statements the collector needs. It knows
 * nothing of HTTP nor of the stitching rules (see stitch.ts); it only keeps rows.
 *
 * Durability: WAL journal with `synchronous = FULL`, so a transaction is on disk when `commit`
 * returns, and the collector answers 2xx only after its transaction commits.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ATTRIBUTED_VIEW_SQL, MEMBERSHIPS_SQL } from './stitch.js';
import type { JsonObject } from './validate.js';

/**
 * Each entry moves the schema from version i to i + 1 (`PRAGMA user_version`). Append only; never
 * edit an entry that has shipped, since existing files have already run it.
 */
const MIGRATIONS: string[] = [
  `
  -- Actions and API calls, as sent. user_id / anonymous_id / company_id are what the item carried;
  -- who the item counts for is decided when reading, through the attributed view (stitch.ts).
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

  -- Identified users: one row per user id ever seen (Identified User Id in the seed).
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

  -- Every anonymous id ever seen. merged_into is the identified user it was merged into, once and
  -- for good (stitch.ts explains why a second user never takes it over).
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
];

/** An action or API call as stored. */
export interface ItemRow {
  kind: 'action' | 'event';
  transaction_id?: string;
  time: string;
  received_at: string;
  user_id?: string;
  anonymous_id?: string;
  company_id?: string;
  session_token?: string;
  action_name?: string;
  verb?: string;
  uri?: string;
  status?: number;
  payload: JsonObject;
}

/** What profiles and companies have in common: metadata merged over time, a first-touch campaign. */
interface Described {
  session_token?: string | null;
  metadata: JsonObject;
  campaign: JsonObject | null;
  campaign_at?: string | null;
  updated_at: string;
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
  first_seen: string;
}

/** A row as SQLite gives it: JSON columns as text. */
type RawRow = Record<string, unknown> & { metadata?: string | null; campaign?: string | null };

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
const orNull = <T>(value: T | undefined): T | null => (value === undefined ? null : value);

/** Row objects with their JSON columns parsed. */
function parseRow<T>(row: unknown): T | undefined {
  if (!row) return undefined;
  const raw = row as RawRow;
  return { ...raw, metadata: JSON.parse(raw.metadata ?? '{}'), campaign: raw.campaign ? JSON.parse(raw.campaign) : null } as T;
}

/** Opens (creating and migrating as needed) the SQLite database at `path` (a file path, or ':memory:'). */
export function openStore(path: string) {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  migrate(db);

  const insertItem = db.prepare(`
    INSERT OR IGNORE INTO items (kind, transaction_id, time, received_at, user_id, anonymous_id, company_id,
      session_token, action_name, verb, uri, status, payload)
    VALUES (@kind, @transaction_id, @time, @received_at, @user_id, @anonymous_id, @company_id,
      @session_token, @action_name, @verb, @uri, @status, @payload)`);
  const getUser = db.prepare('SELECT * FROM users WHERE user_id = ?');
  const getAnonymous = db.prepare('SELECT * FROM anonymous_ids WHERE anonymous_id = ?');
  const getCompany = db.prepare('SELECT * FROM companies WHERE company_id = ?');
  const putUser = db.prepare(`
    INSERT INTO users (user_id, company_id, session_token, metadata, campaign, campaign_at, identified_at, updated_at)
    VALUES (@user_id, @company_id, @session_token, @metadata, @campaign, @campaign_at, @identified_at, @updated_at)
    ON CONFLICT (user_id) DO UPDATE SET company_id = excluded.company_id, session_token = excluded.session_token,
      metadata = excluded.metadata, campaign = excluded.campaign, campaign_at = excluded.campaign_at,
      identified_at = excluded.identified_at, updated_at = excluded.updated_at`);
  const putAnonymous = db.prepare(`
    INSERT INTO anonymous_ids (anonymous_id, merged_into, merged_at, company_id, session_token, metadata, campaign, campaign_at, first_seen, updated_at)
    VALUES (@anonymous_id, @merged_into, @merged_at, @company_id, @session_token, @metadata, @campaign, @campaign_at, @first_seen, @updated_at)
    ON CONFLICT (anonymous_id) DO UPDATE SET merged_into = excluded.merged_into, merged_at = excluded.merged_at,
      company_id = excluded.company_id, session_token = excluded.session_token, metadata = excluded.metadata,
      campaign = excluded.campaign, campaign_at = excluded.campaign_at, first_seen = excluded.first_seen,
      updated_at = excluded.updated_at`);
  const putCompany = db.prepare(`
    INSERT INTO companies (company_id, company_domain, session_token, metadata, campaign, campaign_at, first_seen, updated_at)
    VALUES (@company_id, @company_domain, @session_token, @metadata, @campaign, @campaign_at, @first_seen, @updated_at)
    ON CONFLICT (company_id) DO UPDATE SET company_domain = excluded.company_domain, session_token = excluded.session_token,
      metadata = excluded.metadata, campaign = excluded.campaign, campaign_at = excluded.campaign_at,
      first_seen = excluded.first_seen, updated_at = excluded.updated_at`);

  const companyAt = db.prepare('SELECT company_id FROM memberships WHERE profile_id = ? AND since <= ? ORDER BY since DESC, seq DESC LIMIT 1').pluck();
  const latestCompany = db.prepare('SELECT company_id FROM memberships WHERE profile_id = ? ORDER BY since DESC, seq DESC LIMIT 1').pluck();
  const insertMembership = db.prepare('INSERT INTO memberships (profile_id, company_id, since) VALUES (?, ?, ?)');
  const copyMemberships = db.prepare('INSERT INTO memberships (profile_id, company_id, since) SELECT ?, company_id, since FROM memberships WHERE profile_id = ? ORDER BY seq');
  // users.company_id and anonymous_ids.company_id hold the latest membership's company.
  const setUserCompany = db.prepare('UPDATE users SET company_id = ? WHERE user_id = ?');
  const setAnonymousCompany = db.prepare('UPDATE anonymous_ids SET company_id = ? WHERE anonymous_id = ?');
  const sessionProfiles = db.prepare(`
    SELECT user_id FROM users WHERE session_token = @s
    UNION SELECT merged_into FROM anonymous_ids WHERE session_token = @s AND merged_into IS NOT NULL
    UNION SELECT anonymous_id FROM anonymous_ids WHERE session_token = @s AND merged_into IS NULL`).pluck();

  /** The latest membership's company of a profile, written to its row. */
  const settleCompany = (profileId: string): string | null => {
    const companyId = (latestCompany.get(profileId) as string | undefined) ?? null;
    setUserCompany.run(companyId, profileId);
    setAnonymousCompany.run(companyId, profileId);
    return companyId;
  };

  return {
    db,
    /** Runs `fn` in one transaction: all of a request's writes land together or not at all. */
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    /** Stores an action or event. Returns false when its transaction_id is already stored. */
    insertItem(row: ItemRow): boolean {
      const info = insertItem.run({
        kind: row.kind,
        transaction_id: orNull(row.transaction_id),
        time: row.time,
        received_at: row.received_at,
        user_id: orNull(row.user_id),
        anonymous_id: orNull(row.anonymous_id),
        company_id: orNull(row.company_id),
        session_token: orNull(row.session_token),
        action_name: orNull(row.action_name),
        verb: orNull(row.verb),
        uri: orNull(row.uri),
        status: orNull(row.status),
        payload: JSON.stringify(row.payload),
      });
      return info.changes === 1;
    },
    getUser: (userId: string) => parseRow<UserRow>(getUser.get(userId)),
    getAnonymous: (anonymousId: string) => parseRow<AnonymousRow>(getAnonymous.get(anonymousId)),
    getCompany: (companyId: string) => parseRow<CompanyRow>(getCompany.get(companyId)),
    /** Writes a users row as returned by getUser, changed. */
    putUser: (row: UserRow) =>
      void putUser.run({ session_token: null, company_id: null, campaign_at: null, ...row, metadata: json(row.metadata ?? {}), campaign: json(row.campaign ?? undefined) }),
    putAnonymous: (row: AnonymousRow) =>
      void putAnonymous.run({ merged_into: null, merged_at: null, session_token: null, company_id: null, campaign_at: null, ...row, metadata: json(row.metadata ?? {}), campaign: json(row.campaign ?? undefined) }),
    putCompany: (row: CompanyRow) =>
      void putCompany.run({ company_domain: null, session_token: null, campaign_at: null, ...row, metadata: json(row.metadata ?? {}), campaign: json(row.campaign ?? undefined) }),
    /**
     * Makes `profileId` (a user id or an anonymous id) a member of `companyId` from `since`, unless
     * it already was then. Returns the company of its latest membership, also written to its row.
     */
    join(profileId: string, companyId: string, since: string): string | null {
      if (companyAt.get(profileId, since) !== companyId) insertMembership.run(profileId, companyId, since);
      return settleCompany(profileId);
    },
    /**
     * Gives `toProfile` the memberships of `fromProfile` (an anonymous id merging into a user).
     * Returns the company of its latest membership, also written to its row.
     */
    copyMemberships(fromProfile: string, toProfile: string): string | null {
      copyMemberships.run(toProfile, fromProfile);
      return settleCompany(toProfile);
    },
    /** The profiles last seen with `sessionToken`: users, and anonymous ids (or their users). */
    profilesWithSession: (sessionToken: string) => sessionProfiles.all({ s: sessionToken }) as string[],
    /** Read-only SQL for the reports module. */
    prepare: (sql: string) => db.prepare(sql),
    parseRow,
    close: () => db.close(),
  };
}

export type Store = ReturnType<typeof openStore>;

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this collector knows (${MIGRATIONS.length})`);
  }
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
