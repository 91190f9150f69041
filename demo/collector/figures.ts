/**
 * Items and the figures kept about them, in SQLite: the half of the store that grows with traffic.
 *
 * Each item row carries whom it counts for (`profile`, `company`), as the stitching rules say now;
 * `profiles`, `company_figures`, `profile_actions` and `activity` hold counts, first and last times
 * and per-hour counts, changed by every item stored or moved. Changes are tallied in memory during a
 * transaction and written once at its end (`settle`), so a batch of fifty items of one visitor is one
 * write per figure, not fifty. A move that takes items away from a figure cannot lower a minimum or
 * maximum by arithmetic, so those are read again by index.
 *
 * Times are stored as milliseconds since 1970 (integers sort and index in a few bytes), ids as small
 * integer references to `profiles` and `company_figures`, and an item's transaction id as a 53-bit
 * hash checked against the stored item on a hit: these keep the store under 400 bytes per item.
 */
import type Database from 'better-sqlite3';
import type { NewItem } from './store.js';
import type { JsonObject } from './validate.js';

/** Migration 4: items in their compact form, and the kept figures. The v3 items are copied by `upgradeItems`. */
export const FIGURES_SQL = `
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
`;

const HOUR_MS = 3_600_000;
const KINDS = ['action', 'event'] as const;
type KindIndex = 0 | 1;

/**
 * A 53-bit hash of an item's kind and transaction id (cyrb53): an index key of 8 bytes instead of
 * ~40. Not unique: a hit is checked against the stored item's own transaction id (hasItem).
 */
export function transactionHash(kind: 'action' | 'event', transactionId: string): number {
  const text = `${kind}:${transactionId}`;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
const ms = (value: string | null | undefined): number | null => (value ? Date.parse(value) : null);
const minOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

/** An item row as stored. */
export interface ItemRecord {
  seq: number;
  kind: KindIndex;
  time: number;
  received_at: number;
  sent_user: number | null;
  anon: number | null;
  sent_company: number | null;
  name: number | null;
  profile: number | null;
  company: number | null;
  payload: string;
}

/** The references of ids and repeated strings, created on first sight. */
interface Refs {
  profileRef(id: string): number;
  companyRef(id: string): number;
  nameRef(name: string): number;
  sessionRef(token: string): number;
}

/** The figures of one profile, as kept. */
export interface ProfileFigures {
  ref: number;
  id: string;
  active: number;
  identified_at: number | null;
  company_id: string | null;
  action_count: number;
  event_count: number;
  first_action: number | null;
  last_action: number | null;
  first_event: number | null;
  last_event: number | null;
  first_seen: number | null;
  last_seen: number | null;
}

export interface CompanyFigures {
  ref: number;
  id: string;
  user_count: number;
  action_count: number;
  event_count: number;
  first_item: number | null;
  last_item: number | null;
  first_seen: number | null;
  last_seen: number | null;
}

/** An item for the query API: its row, and the ids its references stand for. */
export interface StoredItem {
  seq: number;
  kind: 'action' | 'event';
  time: string;
  received_at: string;
  anonymous_id: string | null;
  /** The profile it counts for (the User Id), and whether that profile is identified. */
  profile_id: string | null;
  identified_user_id: string | null;
  company_id: string | null;
  payload: JsonObject;
}

export interface ItemFilters {
  profile_id?: string;
  anonymous_id?: string;
  company_id?: string;
  kind?: 'action' | 'event';
  /** ISO time; items at or after it. */
  since?: string;
}

/** Where a page of items or profiles starts: after the last one of the previous page (keyset), or at an offset. */
export interface PageRequest {
  limit: number;
  offset: number;
  /** `next_cursor` of the previous page; takes precedence over offset. */
  cursor?: string;
}

export interface Paged<T> {
  rows: T[];
  total: number;
  next_cursor: string | null;
}

export type FunnelStepSpec = { type: 'action' } | { type: 'action_name'; name: string } | { type: 'identified' } | { type: 'event' } | { type: 'event_text'; matches: (verb: string, uri: string) => boolean };

export interface ActivityBucket {
  start: string;
  actions: number;
  events: number;
}

/** What the query API reads from the store. */
export interface FigureReader {
  items(filters: ItemFilters, page: PageRequest): Paged<StoredItem>;
  /** A profile's latest `limit` items, oldest first (its timeline). */
  timeline(profileId: string, limit: number): StoredItem[];
  profiles(page: PageRequest): Paged<ProfileFigures>;
  profile(id: string): ProfileFigures | undefined;
  /** The anonymous ids merged into a user, earliest first. */
  mergedAnonymousIds(userId: string): string[];
  companies(): CompanyFigures[];
  companyProfiles(companyId: string): ProfileFigures[];
  /** How many active profiles reach each step, in order (the funnel). */
  funnel(steps: FunnelStepSpec[]): { profiles: number; reached: number[] };
  activity(scope: { company_id?: string; profile_id?: string }, bucketMs: number): ActivityBucket[];
}

/** Counts and first and last times of one figure, per kind, changed during a transaction. */
class Tally {
  count: [number, number] = [0, 0];
  first: [number | null, number | null] = [null, null];
  last: [number | null, number | null] = [null, null];
  add(kind: KindIndex, time: number): void {
    this.count[kind]++;
    this.first[kind] = minOf(this.first[kind], time);
    this.last[kind] = maxOf(this.last[kind], time);
  }
}

export function createFigures(db: Database.Database) {
  const s = {
    profileRef: db.prepare('SELECT ref FROM profiles WHERE id = ?').pluck(),
    newProfile: db.prepare('INSERT INTO profiles (id) VALUES (?)'),
    profileById: db.prepare('SELECT * FROM profiles WHERE id = ?'),
    profileIdOf: db.prepare('SELECT id FROM profiles WHERE ref = ?').pluck(),
    companyRef: db.prepare('SELECT ref FROM company_figures WHERE id = ?').pluck(),
    newCompany: db.prepare('INSERT INTO company_figures (id) VALUES (?)'),
    companyIdOf: db.prepare('SELECT id FROM company_figures WHERE ref = ?').pluck(),
    nameRef: db.prepare('SELECT ref FROM names WHERE name = ?').pluck(),
    newName: db.prepare('INSERT INTO names (name) VALUES (?)'),
    nameOf: db.prepare('SELECT name FROM names WHERE ref = ?').pluck(),
    sessionRef: db.prepare('SELECT ref FROM sessions WHERE token = ?').pluck(),
    newSession: db.prepare('INSERT INTO sessions (token) VALUES (?)'),
    itemsWithHash: db.prepare('SELECT payload FROM items WHERE tx_hash = ? AND kind = ?').pluck(),
    insertItem: db.prepare(`INSERT INTO items (kind, time, received_at, tx_hash, sent_user, anon, sent_company, name, profile, company, packed, user_agent, session, payload)
      VALUES (@kind, @time, @received_at, @tx_hash, @sent_user, @anon, @sent_company, @name, @profile, @company, @packed, @user_agent, @session, @payload)`),
    mergedInto: db.prepare('SELECT merged_into FROM anonymous_ids WHERE anonymous_id = ?').pluck(),
    memberships: db.prepare('SELECT company, since FROM memberships WHERE profile = ? ORDER BY since, seq'),
    anonymousItems: db.prepare('SELECT * FROM items WHERE anon = ? AND sent_user IS NULL'),
    profileItemsWithoutCompany: db.prepare('SELECT * FROM items WHERE profile = ? AND sent_company IS NULL'),
    moveItem: db.prepare('UPDATE items SET profile = ?, company = ? WHERE seq = ?'),
    setCompany: db.prepare('UPDATE items SET company = ? WHERE seq = ?'),
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
   * A reference by its text, created on first sight. The references a transaction looked up are
   * remembered until it ends (a batch names the same visitor, session and user agent again and
   * again), and forgotten then: those of a transaction rolled back no longer exist.
   */
  const seenRefs: Map<string, number>[] = [];
  function referrer(find: Database.Statement, create: Database.Statement): (text: string) => number {
    const seen = new Map<string, number>();
    seenRefs.push(seen);
    return (text) => {
      let ref = seen.get(text);
      if (ref === undefined) {
        ref = (find.get(text) as number | undefined) ?? Number(create.run(text).lastInsertRowid);
        seen.set(text, ref);
      }
      return ref;
    };
  }
  const forgetRefs = (): void => seenRefs.forEach((seen) => seen.clear());
  const profileRef = referrer(s.profileRef, s.newProfile);
  const companyRef = referrer(s.companyRef, s.newCompany);
  const nameRef = referrer(s.nameRef, s.newName);
  const sessionRef = referrer(s.sessionRef, s.newSession);
  const refs: Refs = { profileRef, companyRef, nameRef, sessionRef };

  // ---- Tallies of the open transaction -------------------------------------------------------------
  const profileTallies = new Map<number, Tally>();
  const companyTallies = new Map<number, Tally>();
  const actionTallies = new Map<string, { profile: number; name: number; first: number; last: number }>();
  const activityTallies = new Map<string, { company: number; hour: number; counts: [number, number] }>();
  const dirtyProfiles = new Set<number>();
  const dirtyCompanies = new Set<number>();
  const dirtyActions = new Map<string, { profile: number; name: number }>();
  const touchedProfiles = new Set<string>();
  const touchedCompanies = new Set<string>();
  const touchedCompanyRefs = new Set<number>();
  /** Each profile's memberships, read once per transaction; dropped when they change. */
  const resolvers = new Map<string, (time: number) => number | null>();

  const tallyOf = (map: Map<number, Tally>, ref: number): Tally => {
    let tally = map.get(ref);
    if (!tally) map.set(ref, (tally = new Tally()));
    return tally;
  };
  function countActivity(company: number, time: number, kind: KindIndex, by: number): void {
    const hour = Math.floor(time / HOUR_MS) * HOUR_MS;
    const key = `${company}:${hour}`;
    let entry = activityTallies.get(key);
    if (!entry) activityTallies.set(key, (entry = { company, hour, counts: [0, 0] }));
    entry.counts[kind] += by;
  }

  /** Counts an item for its profile (whose id the caller may know) and company. */
  function add(item: Pick<ItemRecord, 'kind' | 'time' | 'profile' | 'company' | 'name'>, profileId?: string): void {
    if (item.profile !== null) {
      tallyOf(profileTallies, item.profile).add(item.kind, item.time);
      touchedProfiles.add(profileId ?? (s.profileIdOf.get(item.profile) as string));
      if (item.name !== null) {
        const key = `${item.profile}:${item.name}`;
        const entry = actionTallies.get(key);
        if (entry) {
          entry.first = Math.min(entry.first, item.time);
          entry.last = Math.max(entry.last, item.time);
        } else actionTallies.set(key, { profile: item.profile, name: item.name, first: item.time, last: item.time });
      }
    }
    countActivity(0, item.time, item.kind, 1);
    if (item.company !== null) {
      tallyOf(companyTallies, item.company).add(item.kind, item.time);
      countActivity(item.company, item.time, item.kind, 1);
      touchedCompanyRefs.add(item.company);
    }
  }

  /** Takes an item away from its profile's and company's figures (before it moves). */
  function remove(item: Pick<ItemRecord, 'kind' | 'time' | 'profile' | 'company' | 'name'>): void {
    if (item.profile !== null) {
      tallyOf(profileTallies, item.profile).count[item.kind]--;
      dirtyProfiles.add(item.profile);
      touchedProfiles.add(s.profileIdOf.get(item.profile) as string);
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

  /** The company an item of `profileId` at `time` counts for when it names none (stitch.ts, rule 5). */
  function companyResolver(profileId: string | null): (time: number) => number | null {
    if (profileId === null) return () => null;
    const cached = resolvers.get(profileId);
    if (cached) return cached;
    const resolver = readMemberships(profileId);
    resolvers.set(profileId, resolver);
    return resolver;
  }

  function readMemberships(profileId: string): (time: number) => number | null {
    const ref = s.profileRef.get(profileId) as number | undefined;
    const list = ref === undefined ? [] : (s.memberships.all(ref) as { company: number; since: number }[]);
    if (list.length === 0) return () => null;
    return (time) => {
      // The latest membership from at or before `time` (ties: the later one); none before the first
      // ("any future web or API traffic from a user to that company").
      let found: { company: number } | undefined;
      for (const m of list) if (m.since <= time) found = m;
      return found === undefined ? null : found.company;
    };
  }

  const resolveProfile = (sentUser: string | undefined, anonymousId: string | undefined): string | null =>
    sentUser ?? ((anonymousId && (s.mergedInto.get(anonymousId) as string | null | undefined)) || anonymousId) ?? null;

  // ---- Settling: write the tallies, fix extremes, refresh what was touched ----------------------
  function settle(): void {
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
    // Items moved away: a first or last time may have gone with them.
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
    for (const id of touchedProfiles) refreshProfile(id);
    for (const ref of touchedCompanyRefs) touchedCompanies.add(s.companyIdOf.get(ref) as string);
    for (const id of touchedCompanies) refreshCompany(id);
    discard();
  }

  /** Forgets the tallies: after settling, or when the transaction is rolled back. */
  function discard(): void {
    for (const map of [profileTallies, companyTallies, actionTallies, activityTallies, dirtyActions]) map.clear();
    for (const set of [dirtyProfiles, dirtyCompanies, touchedProfiles, touchedCompanies, touchedCompanyRefs]) set.clear();
    resolvers.clear();
    forgetRefs();
  }

  /** A profile's listing figures from its rows and its item figures; keeps company user counts. */
  function refreshProfile(id: string): void {
    const ref = profileRef(id);
    const before = s.profileById.get(id) as ProfileFigures;
    const user = s.userRow.get(id) as { identified_at: string; company_id: string | null } | undefined;
    const anonymous = s.anonymousRow.get(id) as { first_seen: string; merged_into: string | null; company_id: string | null } | undefined;
    const active = user !== undefined || (anonymous !== undefined && !anonymous.merged_into) ? 1 : 0;
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
    const companyId = (user ? user.company_id : anonymous?.company_id) ?? null;
    const identifiedAt = user ? ms(user.identified_at) : null;
    s.writeProfile.run({ ref, active, identified_at: identifiedAt, company_id: companyId, first_seen: first, last_seen: last, funnel_level: funnelLevel(before, identifiedAt) });
    const counted = before.active && before.company_id !== null ? before.company_id : null;
    const counts = active && companyId !== null ? companyId : null;
    if (counted !== counts) {
      if (counted !== null) s.addUserCount.run(-1, companyRef(counted));
      if (counts !== null) s.addUserCount.run(1, companyRef(counts));
    }
  }

  /** How far through the default funnel a profile got: its first action, then identified at or after it, then an API call at or after that. */
  function funnelLevel(figures: ProfileFigures, identifiedAt: number | null): number {
    const acted = figures.first_action;
    if (acted === null) return 0;
    if (identifiedAt === null || identifiedAt < acted) return 1;
    if (figures.first_event === null || figures.last_event === null || figures.last_event < identifiedAt) return 2;
    if (figures.first_event >= identifiedAt) return 3;
    return s.firstEventFrom.get(figures.ref, identifiedAt) === null ? 2 : 3;
  }

  function refreshCompany(id: string): void {
    const figures = s.companyById.get(id) as CompanyFigures | undefined;
    const ref = figures?.ref ?? companyRef(id);
    const rowFirst = ms(s.companyRow.get(id) as string | undefined);
    s.writeCompanySeen.run(minOf(rowFirst, figures?.first_item ?? null), maxOf(rowFirst, figures?.last_item ?? null), ref);
  }

  // ---- Items ------------------------------------------------------------------------------------

  function hasItem(kind: 'action' | 'event', transactionId: string): boolean {
    const stored = s.itemsWithHash.all(transactionHash(kind, transactionId), kind === 'action' ? 0 : 1) as string[];
    return stored.some((payload) => (JSON.parse(payload) as JsonObject).transaction_id === transactionId);
  }

  function insertItem(item: NewItem): void {
    const profileId = resolveProfile(item.user_id, item.anonymous_id);
    const time = Date.parse(item.time);
    const record = {
      kind: (item.kind === 'action' ? 0 : 1) as KindIndex,
      time,
      received_at: Date.parse(item.received_at),
      tx_hash: item.transaction_id === undefined ? null : transactionHash(item.kind, item.transaction_id),
      sent_user: item.user_id === undefined ? null : profileRef(item.user_id),
      anon: item.anonymous_id === undefined ? null : profileRef(item.anonymous_id),
      sent_company: item.company_id === undefined ? null : companyRef(item.company_id),
      name: item.kind === 'action' && item.action_name !== undefined ? nameRef(item.action_name) : null,
      profile: profileId === null ? null : profileRef(profileId),
      company: null as number | null,
      ...packPayload(item.payload, { ...item, time }, refs),
    };
    record.company = record.sent_company ?? companyResolver(profileId)(time);
    s.insertItem.run(record);
    add(record, profileId ?? undefined);
  }

  /** The items that carry only `anonymousId` now count for `toProfile` (a merge, or a first merge in time replacing another). */
  function moveAnonymousItems(anonymousId: string, _fromProfile: string, toProfile: string): void {
    const anon = s.profileRef.get(anonymousId) as number | undefined;
    if (anon === undefined) return;
    const to = profileRef(toProfile);
    const companyAt = companyResolver(toProfile);
    for (const row of s.anonymousItems.all(anon) as ItemRecord[]) {
      const company = row.sent_company ?? companyAt(row.time);
      if (row.profile === to && row.company === company) continue;
      remove(row);
      s.moveItem.run(to, company, row.seq);
      add({ ...row, profile: to, company });
    }
  }

  /** A profile's memberships changed: the items naming no company follow them. */
  function reattributeCompanies(profileId: string): void {
    resolvers.delete(profileId);
    const ref = s.profileRef.get(profileId) as number | undefined;
    if (ref === undefined) return;
    const companyAt = companyResolver(profileId);
    for (const row of s.profileItemsWithoutCompany.all(ref) as ItemRecord[]) {
      const company = companyAt(row.time);
      if (row.company === company) continue;
      remove(row);
      s.setCompany.run(company, row.seq);
      add({ ...row, company });
    }
  }

  return {
    hasItem,
    insertItem,
    moveAnonymousItems,
    reattributeCompanies,
    settle,
    discard,
    needsUpgrade: () => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items_v3'").get() !== undefined,
    touchProfile: (id: string) => void touchedProfiles.add(id),
    touchCompany: (id: string) => void touchedCompanies.add(id),
    recount: () => {
      try {
        recount(db, refs);
      } finally {
        forgetRefs();
      }
    },
    profileRef,
    companyRef,
    sessionRef,
    reader: createReader(db),
  };
}

/** SQL for an ISO time column in milliseconds since 1970. */
export const MS = (column: string): string => `CAST(ROUND((julianday(${column}) - 2440587.5) * 86400000) AS INTEGER)`;

/**
 * Every kept figure again from the raw rows, set-based and independent of the tallies above: the
 * upgrade of a file from before the figures, and the reference the property test checks against.
 */
function recount(db: Database.Database, refs: Refs): void {
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

/** Copies the items of a file from before migration 4 into the compact table (figures follow from recount). */
function upgradeItems(db: Database.Database, refs: Refs): void {
  const old = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'items_v3'").get();
  if (!old) return;
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

// ---- Payloads -----------------------------------------------------------------------------------

/**
 * What packPayload took out of a stored payload (bits of items.packed): values other columns hold
 * anyway. Taken out only when putting it back gives the item exactly as sent, key order included
 * where an answer shows it (request and response are shown whole; the top level only by field).
 */
const PACKED = { user: 1, anonymous: 2, company: 4, name: 8, requestTime: 16, userAgent: 32, responseTime: 64, session: 128 } as const;

const stringsOf = (ids: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(ids).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));

const isPlainObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The payload to store, without what columns hold: ids, the action name, the times, a user agent and a session token (by reference). */
function packPayload(
  payload: JsonObject,
  known: { user_id?: string; anonymous_id?: string; company_id?: string; action_name?: string; session_token?: string; time: number },
  refs: Pick<Refs, 'nameRef' | 'sessionRef'>,
): { payload: string; packed: number; user_agent: number | null; session: number | null } {
  const out: JsonObject = { ...payload };
  let packed = 0;
  let userAgent: number | null = null;
  let session: number | null = null;
  const take = (key: string, value: string | undefined, bit: number): void => {
    if (value !== undefined && out[key] === value) {
      delete out[key];
      packed |= bit;
    }
  };
  take('user_id', known.user_id, PACKED.user);
  take('anonymous_id', known.anonymous_id, PACKED.anonymous);
  take('company_id', known.company_id, PACKED.company);
  take('action_name', known.action_name, PACKED.name);
  if (known.session_token !== undefined && out.session_token === known.session_token) {
    session = refs.sessionRef(known.session_token);
    delete out.session_token;
    packed |= PACKED.session;
  }
  const time = new Date(known.time).toISOString();
  if (isPlainObject(out.request)) {
    const request: JsonObject = { ...out.request };
    const keys = Object.keys(request);
    if (keys[0] === 'time' && request.time === time) {
      delete request.time;
      packed |= PACKED.requestTime;
    }
    if (keys[keys.length - 1] === 'user_agent_string' && typeof request.user_agent_string === 'string') {
      userAgent = refs.nameRef(request.user_agent_string);
      delete request.user_agent_string;
      packed |= PACKED.userAgent;
    }
    out.request = request;
  }
  if (isPlainObject(out.response) && Object.keys(out.response)[0] === 'time' && out.response.time === time) {
    const { time: _time, ...rest } = out.response;
    out.response = rest;
    packed |= PACKED.responseTime;
  }
  return { payload: JSON.stringify(out), packed, user_agent: userAgent, session };
}

/** The item exactly as sent, from its stored row (packPayload undone). */
function unpackPayload(row: Record<string, unknown>): JsonObject {
  const payload = JSON.parse(row.payload as string) as JsonObject;
  const packed = row.packed as number;
  if (packed === 0) return payload;
  const time = iso(row.time as number) as string;
  if (packed & PACKED.user) payload.user_id = row.sent_user_id;
  if (packed & PACKED.anonymous) payload.anonymous_id = row.anonymous_id;
  if (packed & PACKED.company) payload.company_id = row.sent_company_id;
  if (packed & PACKED.name) payload.action_name = row.action_name;
  if (packed & PACKED.session) payload.session_token = row.session_token;
  if (isPlainObject(payload.request)) {
    let request = payload.request;
    if (packed & PACKED.requestTime) request = { time, ...request };
    if (packed & PACKED.userAgent) request = { ...request, user_agent_string: row.user_agent };
    payload.request = request;
  }
  if (packed & PACKED.responseTime && isPlainObject(payload.response)) payload.response = { time, ...payload.response };
  return payload;
}

// ---- Reading ------------------------------------------------------------------------------------

/** A keyset cursor: the sort key of the last row of a page. */
const encodeCursor = (parts: (string | number)[]): string => Buffer.from(JSON.stringify(parts)).toString('base64url');
function decodeCursor(cursor: string): unknown[] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts)) return parts;
  } catch {
    // answered below
  }
  throw new CursorError('cursor is not one this collector gave');
}

/** A cursor the client made up or mangled; the query API answers 400. */
export class CursorError extends Error {}

/**
 * The funnel for steps that kept figures answer, as one query over the active profiles: each step's
 * time is the profile's first matching time at or after the previous step's, read from the first
 * and last times kept; only when the previous step falls between them is the profile's index range
 * read (a seek). Nested selects carry each step's time to the next.
 */
function funnelQuery(db: Database.Database, steps: Exclude<FunnelStepSpec, { type: 'event_text' }>[]): { sql: string; params: Record<string, number> } {
  const params: Record<string, number> = { start: Number.MIN_SAFE_INTEGER };
  const firstFrom = (first: string, last: string, prev: string, seek: string): string =>
    `CASE WHEN ${prev} IS NULL OR ${first} IS NULL OR ${last} < ${prev} THEN NULL WHEN ${first} >= ${prev} THEN ${first} ELSE (${seek}) END`;
  // Named actions: the profile's first and last time of each, joined once (f<n>, l<n>).
  const joins: string[] = [];
  const named: string[] = [];
  steps.forEach((step, n) => {
    if (step.type !== 'action_name') return;
    params[`name${n}`] = (db.prepare('SELECT ref FROM names WHERE name = ?').pluck().get(step.name) as number | undefined) ?? -1;
    joins.push(`LEFT JOIN profile_actions a${n} ON a${n}.profile = p.ref AND a${n}.name = @name${n}`);
    named.push(`a${n}.first AS f${n}, a${n}.last AS l${n}`);
  });
  // A funnel that starts with a named action starts from the profiles that did it.
  const from = steps[0]?.type === 'action_name' ? `profile_actions a0 JOIN profiles p ON p.ref = a0.profile AND a0.name = @name0 ${joins.slice(1).join(' ')}` : `profiles p ${joins.join(' ')}`;
  let sql = `SELECT p.ref, p.first_action, p.last_action, p.first_event, p.last_event, p.identified_at, @start AS s${named.map((c) => `, ${c}`).join('')}
    FROM ${from} WHERE p.active = 1`;
  steps.forEach((step, n) => {
    const prev = n === 0 ? 's' : `s${n - 1}`;
    let expr: string;
    if (step.type === 'identified') expr = `CASE WHEN identified_at >= ${prev} THEN identified_at END`;
    else if (step.type === 'action' || step.type === 'event') {
      const [first, last, kind] = step.type === 'action' ? ['first_action', 'last_action', 0] : ['first_event', 'last_event', 1];
      expr = firstFrom(first, last, prev, `SELECT MIN(time) FROM items WHERE profile = ref AND kind = ${kind} AND time >= ${prev}`);
    } else {
      expr = firstFrom(`f${n}`, `l${n}`, prev, `SELECT MIN(time) FROM items WHERE profile = ref AND name = @name${n} AND kind = 0 AND time >= ${prev}`);
    }
    // OFFSET 0 keeps SQLite from flattening the levels, which would compute each step's time again
    // wherever the next step names it.
    sql = `SELECT *, ${expr} AS s${n} FROM (${sql} LIMIT -1 OFFSET 0)`;
  });
  return { sql: `SELECT ${steps.map((_, n) => `COUNT(s${n})`).join(', ')} FROM (${sql} LIMIT -1 OFFSET 0)`, params };
}

function createReader(db: Database.Database): FigureReader {
  const funnelInSql = (steps: FunnelStepSpec[]): number[] => {
    const { sql, params } = funnelQuery(db, steps as Exclude<FunnelStepSpec, { type: 'event_text' }>[]);
    return db.prepare(sql).raw().get(params) as number[];
  };
  const ref = {
    profile: db.prepare('SELECT ref FROM profiles WHERE id = ?').pluck(),
    company: db.prepare('SELECT ref FROM company_figures WHERE id = ?').pluck(),
    name: db.prepare('SELECT ref FROM names WHERE name = ?').pluck(),
  };
  // The Identified User Id: the profile, unless it is the item's own anonymous id (not merged).
  const itemColumns = `i.seq, i.kind, i.time, i.received_at, i.payload, i.packed, a.id AS anonymous_id, p.id AS profile_id,
    CASE WHEN i.sent_user IS NOT NULL OR i.profile <> i.anon THEN p.id END AS identified_user_id, c.id AS company_id,
    su.id AS sent_user_id, sc.id AS sent_company_id, n.name AS action_name, ua.name AS user_agent, st.token AS session_token
    FROM items i LEFT JOIN profiles a ON a.ref = i.anon LEFT JOIN profiles p ON p.ref = i.profile
    LEFT JOIN company_figures c ON c.ref = i.company LEFT JOIN profiles su ON su.ref = i.sent_user
    LEFT JOIN company_figures sc ON sc.ref = i.sent_company LEFT JOIN names n ON n.ref = i.name LEFT JOIN names ua ON ua.ref = i.user_agent
    LEFT JOIN sessions st ON st.ref = i.session`;
  const toItem = (row: Record<string, unknown>): StoredItem => ({
    seq: row.seq as number,
    kind: KINDS[row.kind as KindIndex],
    time: iso(row.time as number) as string,
    received_at: iso(row.received_at as number) as string,
    anonymous_id: (row.anonymous_id as string | null) ?? null,
    profile_id: (row.profile_id as string | null) ?? null,
    identified_user_id: (row.identified_user_id as string | null) ?? null,
    company_id: (row.company_id as string | null) ?? null,
    payload: unpackPayload(row),
  });
  const latestItems = db.prepare(`SELECT ${itemColumns} WHERE i.profile = ? ORDER BY i.time DESC, i.seq DESC LIMIT ?`);
  const profileById = db.prepare('SELECT * FROM profiles WHERE id = ?');
  const merged = db.prepare('SELECT anonymous_id FROM anonymous_ids WHERE merged_into = ? ORDER BY first_seen, anonymous_id').pluck();
  const activeCount = db.prepare('SELECT COUNT(*) FROM profiles WHERE active = 1').pluck();
  const defaultFunnel = db.prepare(
    'SELECT COALESCE(SUM(funnel_level >= 1), 0), COALESCE(SUM(funnel_level >= 2), 0), COALESCE(SUM(funnel_level >= 3), 0) FROM profiles WHERE active = 1',
  );
  const profilesAt = db.prepare('SELECT * FROM profiles WHERE active = 1 ORDER BY last_seen DESC, id LIMIT ? OFFSET ?');
  const profilesAfter = db.prepare(`SELECT * FROM profiles WHERE active = 1 AND (last_seen < @last_seen OR (last_seen = @last_seen AND id > @id))
    ORDER BY last_seen DESC, id LIMIT @limit`);
  const companies = db.prepare('SELECT f.* FROM company_figures f JOIN companies c ON c.company_id = f.id ORDER BY f.last_seen DESC, f.id');
  const companyProfiles = db.prepare('SELECT * FROM profiles WHERE active = 1 AND company_id = ? ORDER BY last_seen DESC, id');
  const activityTotals = db.prepare('SELECT COALESCE(SUM(actions), 0) AS actions, COALESCE(SUM(events), 0) AS events FROM activity WHERE company = ?');
  const profileCounts = db.prepare('SELECT action_count AS actions, event_count AS events FROM profiles WHERE ref = ?');
  const companyCounts = db.prepare('SELECT action_count AS actions, event_count AS events FROM company_figures WHERE ref = ?');

  /** A count kept as a figure, when the filters are ones that are kept. */
  function keptTotal(f: ItemFilters, refs: { profile?: number; company?: number }): number | undefined {
    if (f.since !== undefined || f.anonymous_id !== undefined || (f.profile_id !== undefined && f.company_id !== undefined)) return undefined;
    const counts = (
      refs.profile !== undefined ? profileCounts.get(refs.profile) : refs.company !== undefined ? companyCounts.get(refs.company) : activityTotals.get(0)
    ) as { actions: number; events: number } | undefined;
    if (!counts) return 0;
    return f.kind === 'action' ? counts.actions : f.kind === 'event' ? counts.events : counts.actions + counts.events;
  }

  return {
    items(f, page) {
      const where: string[] = [];
      const params: Record<string, number> = {};
      const refs: { profile?: number; company?: number } = {};
      const need = (value: unknown): value is number => typeof value === 'number';
      if (f.profile_id !== undefined) {
        const r = ref.profile.get(f.profile_id);
        if (!need(r)) return { rows: [], total: 0, next_cursor: null };
        refs.profile = params.profile = r;
        where.push('i.profile = @profile');
      }
      if (f.anonymous_id !== undefined) {
        const r = ref.profile.get(f.anonymous_id);
        if (!need(r)) return { rows: [], total: 0, next_cursor: null };
        params.anon = r;
        where.push('i.anon = @anon');
      }
      if (f.company_id !== undefined) {
        const r = ref.company.get(f.company_id);
        if (!need(r)) return { rows: [], total: 0, next_cursor: null };
        refs.company = params.company = r;
        where.push('i.company = @company');
      }
      if (f.kind !== undefined) {
        params.kind = f.kind === 'action' ? 0 : 1;
        where.push('i.kind = @kind');
      }
      if (f.since !== undefined) {
        params.since = Date.parse(f.since);
        where.push('i.time >= @since');
      }
      const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const total = keptTotal(f, refs) ?? (db.prepare(`SELECT COUNT(*) FROM items i ${filter}`).pluck().get(params) as number);
      const pageWhere = [...where];
      // One row more than asked: whether there is a next page, without counting.
      const pageParams: Record<string, number> = { ...params, limit: page.limit + 1, offset: 0 };
      if (page.cursor !== undefined) {
        const [time, seq] = decodeCursor(page.cursor);
        if (typeof time !== 'number' || typeof seq !== 'number') throw new CursorError('cursor is not one this collector gave');
        pageWhere.push('(i.time < @cursor_time OR (i.time = @cursor_time AND i.seq < @cursor_seq))');
        pageParams.cursor_time = time;
        pageParams.cursor_seq = seq;
      } else pageParams.offset = page.offset;
      const sql = `SELECT ${itemColumns} ${pageWhere.length ? `WHERE ${pageWhere.join(' AND ')}` : ''} ORDER BY i.time DESC, i.seq DESC LIMIT @limit OFFSET @offset`;
      const rows = (db.prepare(sql).all(pageParams) as Record<string, unknown>[]).map(toItem);
      const more = rows.length > page.limit;
      if (more) rows.pop();
      const lastRow = rows[rows.length - 1];
      return { rows, total, next_cursor: more && lastRow ? encodeCursor([Date.parse(lastRow.time), lastRow.seq]) : null };
    },

    timeline(profileId, limit) {
      const r = ref.profile.get(profileId);
      return typeof r === 'number' ? (latestItems.all(r, limit) as Record<string, unknown>[]).map(toItem).reverse() : [];
    },

    profiles(page) {
      const total = activeCount.get() as number;
      let rows: ProfileFigures[];
      // Every active profile has a last_seen: its rows' own times count (refreshProfile).
      if (page.cursor !== undefined) {
        const [lastSeen, id] = decodeCursor(page.cursor);
        if (typeof lastSeen !== 'number' || typeof id !== 'string') throw new CursorError('cursor is not one this collector gave');
        rows = profilesAfter.all({ last_seen: lastSeen, id, limit: page.limit + 1 }) as ProfileFigures[];
      } else {
        rows = profilesAt.all(page.limit + 1, page.offset) as ProfileFigures[];
      }
      const more = rows.length > page.limit;
      if (more) rows.pop();
      const lastRow = rows[rows.length - 1];
      return { rows, total, next_cursor: more && lastRow ? encodeCursor([lastRow.last_seen ?? 0, lastRow.id]) : null };
    },

    profile: (id) => profileById.get(id) as ProfileFigures | undefined,
    mergedAnonymousIds: (userId) => merged.all(userId) as string[],
    companies: () => companies.all() as CompanyFigures[],
    companyProfiles: (companyId) => companyProfiles.all(companyId) as ProfileFigures[],

    funnel(steps) {
      const profiles = activeCount.get() as number;
      // The default funnel is kept per profile: count the levels.
      if (steps.map((step) => step.type).join() === 'action,identified,event') return { profiles, reached: defaultFunnel.raw().get() as number[] };
      if (steps.every((step) => step.type !== 'event_text')) return { profiles, reached: funnelInSql(steps) };
      // Each active profile's time of reaching the step so far (null: dropped out); '' before step 1.
      type Row = { ref: number; at: number | null };
      let reaching: Row[] = [];
      const reached: number[] = [];
      const firstAt = (first: number | null, last: number | null, at: number, seek: () => number | null): number | null =>
        first === null || last === null || last < at ? null : first >= at ? first : seek();
      const seekKind = db.prepare('SELECT MIN(time) FROM items WHERE profile = ? AND kind = ? AND time >= ?').pluck();
      const seekName = db.prepare('SELECT MIN(time) FROM items WHERE profile = ? AND name = ? AND kind = 0 AND time >= ?').pluck();
      for (const [n, step] of steps.entries()) {
        const next: Row[] = [];
        const all = n === 0;
        if (step.type === 'action' || step.type === 'event' || step.type === 'identified') {
          const rows = db.prepare('SELECT ref, first_action, last_action, first_event, last_event, identified_at FROM profiles WHERE active = 1').raw().all() as (number | null)[][];
          const previous = all ? undefined : new Map(reaching.map((r) => [r.ref, r.at as number]));
          for (const [ref, firstAction, lastAction, firstEvent, lastEvent, identifiedAt] of rows as [number, number | null, number | null, number | null, number | null, number | null][]) {
            const at = all ? -Infinity : previous?.get(ref);
            if (at === undefined) continue;
            let when: number | null;
            if (step.type === 'identified') when = identifiedAt !== null && identifiedAt >= at ? identifiedAt : null;
            else if (step.type === 'action') when = firstAt(firstAction, lastAction, at, () => seekKind.get(ref, 0, at) as number | null);
            else when = firstAt(firstEvent, lastEvent, at, () => seekKind.get(ref, 1, at) as number | null);
            if (when !== null) next.push({ ref, at: when });
          }
        } else if (step.type === 'action_name') {
          const name = ref.name.get(step.name) as number | undefined;
          if (name !== undefined) {
            const rows = db.prepare('SELECT profile, first, last FROM profile_actions WHERE name = ?').raw().all(name) as [number, number, number][];
            const previous = all ? undefined : new Map(reaching.map((r) => [r.ref, r.at as number]));
            const active = all ? new Set(db.prepare('SELECT ref FROM profiles WHERE active = 1').pluck().all() as number[]) : undefined;
            for (const [profile, first, last] of rows) {
              const at = all ? (active?.has(profile) ? -Infinity : undefined) : previous?.get(profile);
              if (at === undefined) continue;
              const when = firstAt(first, last, at, () => seekName.get(profile, name, at) as number | null);
              if (when !== null) next.push({ ref: profile, at: when });
            }
          }
        } else {
          // Text in "VERB uri" or "VERB /path": no figure can answer it, so each profile's calls are read.
          const calls = db.prepare('SELECT time, payload FROM items WHERE profile = ? AND kind = 1 AND time >= ? ORDER BY time, seq');
          const candidates = all ? (db.prepare('SELECT ref FROM profiles WHERE active = 1').pluck().all() as number[]).map((ref) => ({ ref, at: Number.MIN_SAFE_INTEGER })) : reaching;
          for (const { ref: profile, at } of candidates) {
            for (const call of calls.iterate(profile, at ?? Number.MIN_SAFE_INTEGER) as Iterable<{ time: number; payload: string }>) {
              const request = (JSON.parse(call.payload) as { request?: { verb?: string; uri?: string } }).request ?? {};
              if (step.matches(String(request.verb ?? ''), String(request.uri ?? ''))) {
                next.push({ ref: profile, at: call.time });
                break;
              }
            }
          }
        }
        reached.push(next.length);
        reaching = next;
        if (next.length === 0) {
          while (reached.length < steps.length) reached.push(0);
          break;
        }
      }
      return { profiles, reached };
    },

    activity(scope, bucketMs) {
      let rows: { hour: number; actions: number; events: number }[];
      if (scope.profile_id !== undefined) {
        const r = ref.profile.get(scope.profile_id);
        rows =
          typeof r === 'number'
            ? (db
                .prepare(`SELECT time / ${HOUR_MS} * ${HOUR_MS} AS hour, SUM(kind = 0) AS actions, SUM(kind = 1) AS events FROM items WHERE profile = ? GROUP BY 1 ORDER BY 1`)
                .all(r) as typeof rows)
            : [];
      } else {
        const company = scope.company_id === undefined ? 0 : (ref.company.get(scope.company_id) as number | undefined);
        rows = company === undefined ? [] : (db.prepare('SELECT hour, actions, events FROM activity WHERE company = ? ORDER BY hour').all(company) as typeof rows);
      }
      const buckets = new Map<number, ActivityBucket>();
      for (const row of rows) {
        if (row.actions === 0 && row.events === 0) continue;
        const start = Math.floor(row.hour / bucketMs) * bucketMs;
        const bucket = buckets.get(start) ?? { start: iso(start) as string, actions: 0, events: 0 };
        bucket.actions += row.actions;
        bucket.events += row.events;
        buckets.set(start, bucket);
      }
      return [...buckets.values()];
    },
  };
}
