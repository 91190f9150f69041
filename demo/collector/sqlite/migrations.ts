/**
 * The SQLite schema, as the list of steps that built it: a new file runs them all, an older file
 * the ones it lacks (`PRAGMA user_version` counts those it ran).
 */
import type Database from 'better-sqlite3';

/** SQL for an ISO time column in milliseconds since 1970. */
export const MS = (column: string): string => `CAST(ROUND((julianday(${column}) - 2440587.5) * 86400000) AS INTEGER)`;

/**
 * Each entry moves the schema from version i to i + 1 (`PRAGMA user_version`). Append only; never
 * edit an entry that has shipped, since existing files have already run it.
 */
const MIGRATIONS: string[] = [
  // Items as sent, and the identity rows.
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
  // The items joined to whom they counted for, then (migration 4 drops it for kept figures).
  `
  CREATE VIEW attributed AS
  SELECT i.*,
    COALESCE(i.user_id, a.merged_into) AS identified_user_id,
    COALESCE(i.user_id, a.merged_into, i.anonymous_id) AS profile_id,
    COALESCE(i.company_id, u.company_id,
      CASE WHEN i.user_id IS NULL AND a.merged_into IS NULL THEN a.company_id END) AS effective_company_id
  FROM items i
  LEFT JOIN anonymous_ids a ON a.anonymous_id = i.anonymous_id
  LEFT JOIN users u ON u.user_id = COALESCE(i.user_id, a.merged_into);
`,
  // Company membership over time, and the view reading it. A profile (a user id, or an unmerged
  // anonymous id) belongs to a membership's company from its `since` until the next one, so moving to
  // another company takes only the traffic after the move ("Moesif will associate any future web or
  // API traffic from a user to that company"), whatever order calls arrive in. Traffic from before
  // the profile's first membership counted for that first company here; since migration 8 it counts
  // for none, as the seed's "any future web or API traffic" says.
  `
  CREATE TABLE memberships (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    profile_id TEXT NOT NULL,
    company_id TEXT NOT NULL,
    since      TEXT NOT NULL
  );
  CREATE INDEX memberships_profile ON memberships (profile_id, since);
  INSERT INTO memberships (profile_id, company_id, since)
    SELECT user_id, company_id, identified_at FROM users WHERE company_id IS NOT NULL;
  INSERT INTO memberships (profile_id, company_id, since)
    SELECT anonymous_id, company_id, first_seen FROM anonymous_ids WHERE company_id IS NOT NULL;

  DROP VIEW attributed;
  CREATE VIEW attributed AS
  SELECT p.*,
    COALESCE(p.company_id,
      (SELECT m.company_id FROM memberships m WHERE m.profile_id = p.profile_id AND m.since <= p.time
        ORDER BY m.since DESC, m.seq DESC LIMIT 1),
      (SELECT m.company_id FROM memberships m WHERE m.profile_id = p.profile_id
        ORDER BY m.since, m.seq LIMIT 1)) AS effective_company_id
  FROM (
    SELECT i.*,
      COALESCE(i.user_id, a.merged_into) AS identified_user_id,
      COALESCE(i.user_id, a.merged_into, i.anonymous_id) AS profile_id
    FROM items i
    LEFT JOIN anonymous_ids a ON a.anonymous_id = i.anonymous_id
  ) p;
`,
  // Items in their compact form (payload.ts), and the kept figures (figures.ts). The items of the
  // older table (renamed items_v3) are copied into the new one by upgradeItems (recount.ts).
  `
  DROP VIEW attributed;
  DROP INDEX items_time;
  DROP INDEX items_user;
  DROP INDEX items_anonymous;
  DROP INDEX items_company;
  ALTER TABLE items RENAME TO items_v3;

  -- Every user id and anonymous id (one row per distinct id). active: a profile the query API lists
  -- (a user, or an anonymous id not merged into one).
  CREATE TABLE profiles (
    ref           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    active        INTEGER NOT NULL DEFAULT 0,
    identified_at INTEGER,
    company_id    TEXT,
    action_count  INTEGER NOT NULL DEFAULT 0,
    event_count   INTEGER NOT NULL DEFAULT 0,
    first_action  INTEGER,
    last_action   INTEGER,
    first_event   INTEGER,
    last_event    INTEGER,
    first_seen    INTEGER,
    last_seen     INTEGER,
    -- How far through the default funnel (a page view or action, then identified, then an API call)
    -- the profile got: 0 to 3.
    funnel_level  INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX profiles_recent ON profiles (last_seen DESC, id) WHERE active = 1;
  CREATE INDEX profiles_funnel ON profiles (funnel_level) WHERE active = 1;
  CREATE INDEX profiles_company ON profiles (company_id, last_seen DESC, id) WHERE active = 1;

  CREATE TABLE company_figures (
    ref          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    user_count   INTEGER NOT NULL DEFAULT 0,
    action_count INTEGER NOT NULL DEFAULT 0,
    event_count  INTEGER NOT NULL DEFAULT 0,
    first_item   INTEGER,
    last_item    INTEGER,
    first_seen   INTEGER,
    last_seen    INTEGER
  );
  CREATE INDEX company_figures_recent ON company_figures (last_seen DESC, id);

  -- Strings items repeat (action names, user agents), by reference.
  CREATE TABLE names (ref INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);

  -- kind: 0 action, 1 event. sent_user, anon, sent_company: the ids the item carried (profiles and
  -- company_figures refs); profile, company: whom it counts for after stitching. payload: the item
  -- as sent, less what \`packed\` says was taken out because a column holds it (packPayload).
  CREATE TABLE items (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         INTEGER NOT NULL,
    time         INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    tx_hash      INTEGER,
    sent_user    INTEGER,
    anon         INTEGER,
    sent_company INTEGER,
    name         INTEGER,
    profile      INTEGER,
    company      INTEGER,
    packed       INTEGER NOT NULL DEFAULT 0,
    user_agent   INTEGER,
    payload      TEXT NOT NULL
  );
  CREATE INDEX items_time ON items (time);
  CREATE INDEX items_kind ON items (kind, time);
  CREATE INDEX items_profile ON items (profile, time) WHERE profile IS NOT NULL;
  CREATE INDEX items_company ON items (company, time) WHERE company IS NOT NULL;
  CREATE INDEX items_anon ON items (anon, time) WHERE anon IS NOT NULL;
  CREATE INDEX items_tx ON items (tx_hash) WHERE tx_hash IS NOT NULL;

  -- When each profile first and last did each named action: custom funnel steps.
  CREATE TABLE profile_actions (
    profile INTEGER NOT NULL,
    name    INTEGER NOT NULL,
    first   INTEGER NOT NULL,
    last    INTEGER NOT NULL,
    PRIMARY KEY (profile, name)
  ) WITHOUT ROWID;
  CREATE INDEX profile_actions_name ON profile_actions (name);

  -- Actions and API calls per hour: company 0 is every item, others a company's (company_figures.ref).
  CREATE TABLE activity (
    company INTEGER NOT NULL,
    hour    INTEGER NOT NULL,
    actions INTEGER NOT NULL,
    events  INTEGER NOT NULL,
    PRIMARY KEY (company, hour)
  ) WITHOUT ROWID;
`,
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
  // sessions: each session token once. Items (their payloads hold it no more: packed, payload.ts),
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
export const RECOUNT_BEFORE = 8;

/** Runs the migrations a file lacks; returns the version the file had (0: a new file). */
export function migrate(db: Database.Database): number {
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
