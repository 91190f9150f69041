/**
 * Pages of items and profiles: by offset, or by keyset (`cursor`: the sort key of the last row of
 * the previous page, so a page deep in a long list is read as fast as the first).
 */
import type { Paged } from '../store.js';

/** A cursor the client made up or mangled: `items` and `profiles` throw it, the query API answers 400. */
export class CursorError extends Error {}

const encodeCursor = (parts: (string | number)[]): string => Buffer.from(JSON.stringify(parts)).toString('base64url');

/** The sort key a cursor holds; throws CursorError for one this collector did not give. */
export function decodeCursor(cursor: string): unknown[] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts)) return parts;
  } catch {
    // answered below
  }
  throw new CursorError('cursor is not one this collector gave');
}

/**
 * A page from rows read one more than asked: the extra row says there is a next page, without
 * counting; `sortKey` gives the cursor of the page's last row.
 */
export function toPage<T>(rows: T[], limit: number, total: number, sortKey: (row: T) => (string | number)[]): Paged<T> {
  const more = rows.length > limit;
  if (more) rows.pop();
  const lastRow = rows[rows.length - 1];
  return { rows, total, next_cursor: more && lastRow ? encodeCursor(sortKey(lastRow)) : null };
}
