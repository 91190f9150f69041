/**
 * Every kept figure rebuilt from the raw rows: once when a file from before the figures (or counted
 * by older rules of attribution) is opened, and as the reference the property test checks the
 * figures kept at ingest against.
 */
import type Database from 'better-sqlite3';
import type { JsonObject } from '../validate.js';
import { transactionHash } from './items.js';
import { MS } from './migrations.js';
import { packPayload } from './payload.js';
import type { Refs } from './refs.js';
import { HOUR_MS } from './rows.js';

/** Every kept figure again from the raw rows, set-based and independent of the tallies (tallies.ts). */
export function recount(db: Database.Database, refs: Refs): void {
  upgradeItems(db, refs);
  // Make sure every id of a row has its reference.
  for (const id of db.prepare('SELECT user_id FROM users UNION SELECT anonymous_id FROM anonymous_ids').pluck().all() as string[]) refs.profileRef(id);
  for (const id of db.prepare('SELECT company_id FROM companies').pluck().all() as string[]) refs.companyRef(id);
  db.exec(`
    -- Whom each item counts for: the user it names, or the user its anonymous id was merged into, or that id.
    UPDATE items SET profile = COALESCE(sent_user,
      (SELECT p.ref FROM profiles a JOIN anonymous_ids r ON r.anonymous_id = a.id JOIN profiles p ON p.id = r.merged_into WHERE a.ref = items.anon),
      anon);
    -- The company it names, or its profile's membership at its time (none before the first).
    UPDATE items SET company = COALESCE(sent_company, (
      SELECT company FROM memberships WHERE profile = items.profile AND since <= items.time
      ORDER BY since DESC, seq DESC
      LIMIT 1));

    UPDATE profiles SET action_count = 0, event_count = 0, first_action = NULL, last_action = NULL, first_event = NULL, last_event = NULL;
    UPDATE profiles SET (action_count, first_action, last_action) = (SELECT COUNT(*), MIN(time), MAX(time) FROM items WHERE profile = profiles.ref AND kind = 0);
    UPDATE profiles SET (event_count, first_event, last_event) = (SELECT COUNT(*), MIN(time), MAX(time) FROM items WHERE profile = profiles.ref AND kind = 1);

    UPDATE profiles SET active = (id IN (SELECT user_id FROM users) OR id IN (SELECT anonymous_id FROM anonymous_ids WHERE merged_into IS NULL)),
      identified_at = (SELECT ${MS('identified_at')} FROM users WHERE user_id = profiles.id),
      company_id = COALESCE((SELECT company_id FROM users WHERE user_id = profiles.id), (SELECT company_id FROM anonymous_ids WHERE anonymous_id = profiles.id AND NOT EXISTS (SELECT 1 FROM users WHERE user_id = profiles.id)));
    -- The times a profile's rows were seen (a user's identification, its merged anonymous ids' first sight).
    CREATE TEMP TABLE seen AS
      SELECT p.ref, ${MS('u.identified_at')} AS t FROM profiles p JOIN users u ON u.user_id = p.id
      UNION ALL SELECT p.ref, ${MS('a.first_seen')} FROM profiles p JOIN anonymous_ids a ON a.merged_into = p.id WHERE p.id IN (SELECT user_id FROM users)
      UNION ALL SELECT p.ref, ${MS('a.first_seen')} FROM profiles p JOIN anonymous_ids a ON a.anonymous_id = p.id WHERE p.id NOT IN (SELECT user_id FROM users);
    CREATE INDEX temp.seen_ref ON seen (ref);
    UPDATE profiles SET
      first_seen = (SELECT MIN(x) FROM (SELECT first_action AS x UNION ALL SELECT first_event UNION ALL SELECT t FROM seen WHERE seen.ref = profiles.ref)),
      last_seen = (SELECT MAX(x) FROM (SELECT last_action AS x UNION ALL SELECT last_event UNION ALL SELECT t FROM seen WHERE seen.ref = profiles.ref));
    DROP TABLE temp.seen;

    UPDATE profiles SET funnel_level = CASE
      WHEN first_action IS NULL THEN 0
      WHEN identified_at IS NULL OR identified_at < first_action THEN 1
      WHEN EXISTS (SELECT 1 FROM items WHERE profile = profiles.ref AND kind = 1 AND time >= profiles.identified_at) THEN 3
      ELSE 2 END;

    UPDATE company_figures SET (action_count, event_count, first_item, last_item) =
      (SELECT COALESCE(SUM(kind = 0), 0), COALESCE(SUM(kind = 1), 0), MIN(time), MAX(time) FROM items WHERE company = company_figures.ref);
    UPDATE company_figures SET user_count = (SELECT COUNT(*) FROM profiles WHERE active = 1 AND company_id = company_figures.id);
    UPDATE company_figures SET
      first_seen = (SELECT MIN(x) FROM (SELECT first_item AS x UNION ALL SELECT ${MS('first_seen')} FROM companies WHERE company_id = company_figures.id)),
      last_seen = (SELECT MAX(x) FROM (SELECT last_item AS x UNION ALL SELECT ${MS('first_seen')} FROM companies WHERE company_id = company_figures.id));

    DELETE FROM profile_actions;
    INSERT INTO profile_actions (profile, name, first, last)
      SELECT profile, name, MIN(time), MAX(time) FROM items WHERE kind = 0 AND profile IS NOT NULL AND name IS NOT NULL GROUP BY profile, name;
    DELETE FROM activity;
    INSERT INTO activity (company, hour, actions, events)
      SELECT 0, time / ${HOUR_MS} * ${HOUR_MS}, SUM(kind = 0), SUM(kind = 1) FROM items GROUP BY 2;
    INSERT INTO activity (company, hour, actions, events)
      SELECT company, time / ${HOUR_MS} * ${HOUR_MS}, SUM(kind = 0), SUM(kind = 1) FROM items WHERE company IS NOT NULL GROUP BY 1, 2;
  `);
}

/** Whether the file holds items from before the kept figures (migration 4), which recount copies. */
export const needsUpgrade = (db: Database.Database): boolean =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items_v3'").get() !== undefined;

/** Copies the items of a file from before migration 4 into the compact table (figures follow from recount). */
function upgradeItems(db: Database.Database, refs: Refs): void {
  if (!needsUpgrade(db)) return;
  const insert = db.prepare(`INSERT INTO items (seq, kind, time, received_at, tx_hash, sent_user, anon, sent_company, name, packed, user_agent, session, payload)
    VALUES (@seq, @kind, @time, @received_at, @tx_hash, @sent_user, @anon, @sent_company, @name, @packed, @user_agent, @session, @payload)`);
  const chunk = db.prepare('SELECT * FROM items_v3 WHERE seq > ? ORDER BY seq LIMIT 10000');
  // In chunks: a connection cannot write while it iterates, and a large file must not be read whole.
  for (let after = 0; ; ) {
    const rows = chunk.all(after) as Record<string, string | number | null>[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const kind = row.kind === 'action' ? 'action' : 'event';
      const time = Date.parse(String(row.time));
      const ids = { user_id: row.user_id, anonymous_id: row.anonymous_id, company_id: row.company_id, action_name: kind === 'action' ? row.action_name : null, session_token: row.session_token };
      insert.run({
        ...packPayload(JSON.parse(String(row.payload)) as JsonObject, { ...stringsOf(ids), time }, refs),
        seq: row.seq,
        kind: kind === 'action' ? 0 : 1,
        time,
        received_at: Date.parse(String(row.received_at)),
        tx_hash: row.transaction_id === null ? null : transactionHash(kind, String(row.transaction_id)),
        sent_user: row.user_id === null ? null : refs.profileRef(String(row.user_id)),
        anon: row.anonymous_id === null ? null : refs.profileRef(String(row.anonymous_id)),
        sent_company: row.company_id === null ? null : refs.companyRef(String(row.company_id)),
        name: kind === 'action' && row.action_name !== null ? refs.nameRef(String(row.action_name)) : null,
      });
    }
    after = Number(rows[rows.length - 1]?.seq);
  }
  db.exec('DROP TABLE items_v3');
}

/** The string values among an old item's ids. */
const stringsOf = (ids: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(ids).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));

