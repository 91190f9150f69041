/**
 * The events page and a user's timeline: items newest first, filtered by the stitched User Id, the
 * anonymous id carried, the company counted for, kind and time, each filter and the order by index.
 */
import type Database from 'better-sqlite3';
import type { FigureReader, ItemFilters, PageRequest, StoredItem } from '../store.js';
import { CursorError, decodeCursor, toPage } from './paging.js';
import { unpackPayload } from './payload.js';
import type { RefLookups } from './refs.js';
import { iso, KINDS, kindIndex, type KindIndex } from './rows.js';

type EventQueries = Pick<FigureReader, 'items' | 'timeline'>;

/**
 * An item with the ids its references stand for. The Identified User Id: the profile, unless it is
 * the item's own anonymous id (not merged).
 */
const ITEM_COLUMNS = `i.seq, i.kind, i.time, i.received_at, i.payload, i.packed, a.id AS anonymous_id, p.id AS profile_id,
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

/** Filters as SQL: the conditions, their parameters, and the references whose kept counts may answer the total. */
interface ItemWhere {
  where: string[];
  params: Record<string, number>;
  refs: { profile?: number; company?: number };
}

/** The filters as SQL; undefined when one names an id never seen, so no item matches. */
function itemWhere(f: ItemFilters, refs: RefLookups): ItemWhere | undefined {
  const where: string[] = [];
  const params: Record<string, number> = {};
  const counted: ItemWhere['refs'] = {};
  if (f.profile_id !== undefined) {
    const ref = refs.findProfile(f.profile_id);
    if (ref === undefined) return undefined;
    counted.profile = params.profile = ref;
    where.push('i.profile = @profile');
  }
  if (f.anonymous_id !== undefined) {
    const ref = refs.findProfile(f.anonymous_id);
    if (ref === undefined) return undefined;
    params.anon = ref;
    where.push('i.anon = @anon');
  }
  if (f.company_id !== undefined) {
    const ref = refs.findCompany(f.company_id);
    if (ref === undefined) return undefined;
    counted.company = params.company = ref;
    where.push('i.company = @company');
  }
  if (f.kind !== undefined) {
    params.kind = kindIndex(f.kind);
    where.push('i.kind = @kind');
  }
  if (f.since !== undefined) {
    params.since = Date.parse(f.since);
    where.push('i.time >= @since');
  }
  return { where, params, refs: counted };
}

export function createEventQueries({ db, refs }: { db: Database.Database; refs: RefLookups }): EventQueries {
  const s = {
    latestItems: db.prepare(`SELECT ${ITEM_COLUMNS} WHERE i.profile = ? ORDER BY i.time DESC, i.seq DESC LIMIT ?`),
    activityTotals: db.prepare('SELECT COALESCE(SUM(actions), 0) AS actions, COALESCE(SUM(events), 0) AS events FROM activity WHERE company = ?'),
    profileCounts: db.prepare('SELECT action_count AS actions, event_count AS events FROM profiles WHERE ref = ?'),
    companyCounts: db.prepare('SELECT action_count AS actions, event_count AS events FROM company_figures WHERE ref = ?'),
  };
  // The filters' SQL varies with which are given (a few dozen shapes): each shape is prepared once.
  const prepared = new Map<string, Database.Statement>();
  const statement = (sql: string): Database.Statement => {
    let found = prepared.get(sql);
    if (!found) prepared.set(sql, (found = db.prepare(sql)));
    return found;
  };

  /** A count kept as a figure, when the filters are ones that are kept. */
  function keptTotal(f: ItemFilters, counted: ItemWhere['refs']): number | undefined {
    if (f.since !== undefined || f.anonymous_id !== undefined || (f.profile_id !== undefined && f.company_id !== undefined)) return undefined;
    const counts = (
      counted.profile !== undefined ? s.profileCounts.get(counted.profile) : counted.company !== undefined ? s.companyCounts.get(counted.company) : s.activityTotals.get(0)
    ) as { actions: number; events: number } | undefined;
    if (!counts) return 0;
    return f.kind === 'action' ? counts.actions : f.kind === 'event' ? counts.events : counts.actions + counts.events;
  }

  function countItems({ where, params }: ItemWhere): number {
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return statement(`SELECT COUNT(*) FROM items i ${filter}`).pluck().get(params) as number;
  }

  function readPage({ where, params }: ItemWhere, page: PageRequest): StoredItem[] {
    const pageWhere = [...where];
    // One row more than asked: whether there is a next page (toPage).
    const pageParams: Record<string, number> = { ...params, limit: page.limit + 1, offset: 0 };
    if (page.cursor !== undefined) {
      const [time, seq] = decodeCursor(page.cursor);
      if (typeof time !== 'number' || typeof seq !== 'number') throw new CursorError('cursor is not one this collector gave');
      pageWhere.push('(i.time < @cursor_time OR (i.time = @cursor_time AND i.seq < @cursor_seq))');
      pageParams.cursor_time = time;
      pageParams.cursor_seq = seq;
    } else pageParams.offset = page.offset;
    const sql = `SELECT ${ITEM_COLUMNS} ${pageWhere.length ? `WHERE ${pageWhere.join(' AND ')}` : ''} ORDER BY i.time DESC, i.seq DESC LIMIT @limit OFFSET @offset`;
    return (statement(sql).all(pageParams) as Record<string, unknown>[]).map(toItem);
  }

  return {
    items(f, page) {
      const filters = itemWhere(f, refs);
      if (!filters) return { rows: [], total: 0, next_cursor: null };
      const total = keptTotal(f, filters.refs) ?? countItems(filters);
      return toPage(readPage(filters, page), page.limit, total, (item) => [Date.parse(item.time), item.seq]);
    },

    timeline(profileId, limit) {
      const ref = refs.findProfile(profileId);
      return ref === undefined ? [] : (s.latestItems.all(ref, limit) as Record<string, unknown>[]).map(toItem).reverse();
    },
  };
}
