/**
 * The collector's storage, behind one interface (`CollectorStore`): the identity rows the stitching
 * rules read and write, the items, and the figures the query API reads. Ingest and stitching use
 * only this interface; `openStore` is its SQLite implementation (sqlite/), so a PostgreSQL store
 * implements the same methods without touching ingest.ts or stitch.ts.
 *
 * Work that grows with the number of items never happens at query time: each item is stored with
 * whom it counts for (`profile`, `company`: the stitching rules applied), and per-profile,
 * per-company and per-hour figures are kept up to date in the ingest transaction (sqlite/figures.ts).
 * A merge or a company change back in time re-attributes the items concerned (a range of one
 * profile's items, found by index) and moves their figures. `recount()` rebuilds every figure from
 * the raw rows; the property test compares the two.
 *
 * Durability: WAL journal with `synchronous = FULL`, so a transaction is on disk when `commit`
 * returns, and the collector answers 2xx only after its transaction commits.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createFigures } from './sqlite/figures.js';
import { createIdentityRows } from './sqlite/identity-rows.js';
import { createMemberships } from './sqlite/memberships.js';
import { migrate, RECOUNT_BEFORE } from './sqlite/migrations.js';
import { createActivityQueries } from './sqlite/read-activity.js';
import { createCompanyQueries } from './sqlite/read-companies.js';
import { createEventQueries } from './sqlite/read-events.js';
import { createFunnelQueries } from './sqlite/read-funnel.js';
import { createUserQueries } from './sqlite/read-users.js';
import { needsUpgrade } from './sqlite/recount.js';
import { createRefs } from './sqlite/refs.js';
import { createSessions } from './sqlite/sessions.js';
import type { JsonObject } from './validate.js';

/** What `items` and `profiles` throw for a cursor they did not give; the query API answers 400. */
export { CursorError } from './sqlite/paging.js';
/** Its query plans are read by test/collector/session-lookups.test.ts and bench/collector.mjs. */
export { SESSION_LOOKUPS } from './sqlite/sessions.js';

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

/** Opens (creating and migrating as needed) the SQLite database at `path` (a file path, or ':memory:'). */
export function openStore(path: string): CollectorStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  const version = migrate(db);
  const refs = createRefs(db);
  const figures = createFigures({ db, refs });
  // Files from before the kept figures hold items without them, and files counted by older rules of
  // attribution hold other figures: copy and count once, as part of the upgrade.
  if (needsUpgrade(db) || (version > 0 && version < RECOUNT_BEFORE)) db.transaction(() => figures.recount())();

  return {
    // Reading: the dashboard's queries, by page.
    ...createEventQueries({ db, refs }),
    ...createUserQueries({ db }),
    ...createCompanyQueries({ db }),
    ...createFunnelQueries({ db, refs }),
    ...createActivityQueries({ db, refs }),
    // Identity: what stitch.ts reads and writes.
    ...createIdentityRows({ db, figures }),
    ...createMemberships({ db, refs, figures }),
    ...createSessions({ db, refs }),
    // Items.
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
    hasItem: figures.hasItem,
    insertItem: figures.insertItem,
    recount: () => db.transaction(() => figures.recount())(),
    close: () => db.close(),
  };
}
