/** The users page: the listed profiles (users, and anonymous ids not merged into one), most recently seen first. */
import type Database from 'better-sqlite3';
import type { FigureReader, ProfileFigures } from '../store.js';
import { CursorError, decodeCursor, toPage } from './paging.js';

type UserQueries = Pick<FigureReader, 'profiles' | 'profile' | 'mergedAnonymousIds'>;

export function createUserQueries({ db }: { db: Database.Database }): UserQueries {
  const s = {
    activeCount: db.prepare('SELECT COUNT(*) FROM profiles WHERE active = 1').pluck(),
    profilesAt: db.prepare('SELECT * FROM profiles WHERE active = 1 ORDER BY last_seen DESC, id LIMIT ? OFFSET ?'),
    profilesAfter: db.prepare(`SELECT * FROM profiles WHERE active = 1 AND (last_seen < @last_seen OR (last_seen = @last_seen AND id > @id))
    ORDER BY last_seen DESC, id LIMIT @limit`),
    profileById: db.prepare('SELECT * FROM profiles WHERE id = ?'),
    merged: db.prepare('SELECT anonymous_id FROM anonymous_ids WHERE merged_into = ? ORDER BY first_seen, anonymous_id').pluck(),
  };

  return {
    profiles(page) {
      const total = s.activeCount.get() as number;
      let rows: ProfileFigures[];
      // One row more than asked (toPage). Every active profile has a last_seen: its rows' own times
      // count (listings.ts).
      if (page.cursor !== undefined) {
        const [lastSeen, id] = decodeCursor(page.cursor);
        if (typeof lastSeen !== 'number' || typeof id !== 'string') throw new CursorError('cursor is not one this collector gave');
        rows = s.profilesAfter.all({ last_seen: lastSeen, id, limit: page.limit + 1 }) as ProfileFigures[];
      } else {
        rows = s.profilesAt.all(page.limit + 1, page.offset) as ProfileFigures[];
      }
      return toPage(rows, page.limit, total, (row) => [row.last_seen ?? 0, row.id]);
    },
    profile: (id) => s.profileById.get(id) as ProfileFigures | undefined,
    mergedAnonymousIds: (userId) => s.merged.all(userId) as string[],
  };
}
