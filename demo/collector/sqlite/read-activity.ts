/** The activity chart: actions and API calls per hour or day, for everything, one profile or one company. */
import type Database from 'better-sqlite3';
import type { ActivityBucket, FigureReader } from '../store.js';
import type { RefLookups } from './refs.js';
import { HOUR_MS, iso } from './rows.js';

type ActivityQueries = Pick<FigureReader, 'activity'>;

type HourRow = { hour: number; actions: number; events: number };

export function createActivityQueries({ db, refs }: { db: Database.Database; refs: RefLookups }): ActivityQueries {
  // Per hour kept for everything (company 0) and per company; a profile's is read from its items.
  const companyHours = db.prepare('SELECT hour, actions, events FROM activity WHERE company = ? ORDER BY hour');
  const profileHours = db.prepare(`SELECT time / ${HOUR_MS} * ${HOUR_MS} AS hour, SUM(kind = 0) AS actions, SUM(kind = 1) AS events FROM items WHERE profile = ? GROUP BY 1 ORDER BY 1`);

  function hoursOf(scope: { company_id?: string; profile_id?: string }): HourRow[] {
    if (scope.profile_id !== undefined) {
      const profile = refs.findProfile(scope.profile_id);
      return profile === undefined ? [] : (profileHours.all(profile) as HourRow[]);
    }
    const company = scope.company_id === undefined ? 0 : refs.findCompany(scope.company_id);
    return company === undefined ? [] : (companyHours.all(company) as HourRow[]);
  }

  return {
    activity(scope, bucketMs) {
      const buckets = new Map<number, ActivityBucket>();
      for (const row of hoursOf(scope)) {
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
