/**
 * The funnel: how many listed profiles reach each step in order, a profile reaching step n when it
 * reached step n - 1 and then, at or after that time, did what step n asks. Every step but
 * `event_text` is answered from the first and last times kept per profile (and per profile and
 * action name); `event_text` has no figure, so it reads the API calls of the profiles still in.
 */
import type Database from 'better-sqlite3';
import type { FigureReader, FunnelStepSpec } from '../store.js';
import type { RefLookups } from './refs.js';

type FunnelQueries = Pick<FigureReader, 'funnel'>;

type FigureStep = Exclude<FunnelStepSpec, { type: 'event_text' }>;

/**
 * The funnel for steps that kept figures answer, as one query over the active profiles: each step's
 * time is the profile's first matching time at or after the previous step's, read from the first
 * and last times kept; only when the previous step falls between them is the profile's index range
 * read (a seek). Nested selects carry each step's time to the next.
 */
function funnelQuery(steps: FigureStep[], nameRef: (name: string) => number | undefined): { sql: string; params: Record<string, number> } {
  const params: Record<string, number> = { start: Number.MIN_SAFE_INTEGER };
  const firstFrom = (first: string, last: string, prev: string, seek: string): string =>
    `CASE WHEN ${prev} IS NULL OR ${first} IS NULL OR ${last} < ${prev} THEN NULL WHEN ${first} >= ${prev} THEN ${first} ELSE (${seek}) END`;
  // Named actions: the profile's first and last time of each, joined once (f<n>, l<n>).
  const joins: string[] = [];
  const named: string[] = [];
  steps.forEach((step, n) => {
    if (step.type !== 'action_name') return;
    params[`name${n}`] = nameRef(step.name) ?? -1;
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

/** The first time a profile did something at or after `at`, from its first and last time of it; null: not after `at`. */
const firstAt = (first: number | null, last: number | null, at: number, seek: () => number | null): number | null =>
  first === null || last === null || last < at ? null : first >= at ? first : seek();

/**
 * When each profile still in the funnel reached the last step, by reference; undefined before the
 * first step (every active profile, from the start).
 */
type Reached = Map<number, number> | undefined;

export function createFunnelQueries({ db, refs }: { db: Database.Database; refs: RefLookups }): FunnelQueries {
  const s = {
    activeCount: db.prepare('SELECT COUNT(*) FROM profiles WHERE active = 1').pluck(),
    defaultFunnel: db
      .prepare('SELECT COALESCE(SUM(funnel_level >= 1), 0), COALESCE(SUM(funnel_level >= 2), 0), COALESCE(SUM(funnel_level >= 3), 0) FROM profiles WHERE active = 1')
      .raw(),
    activeRefs: db.prepare('SELECT ref FROM profiles WHERE active = 1').pluck(),
    activeFigures: db.prepare('SELECT ref, first_action, last_action, first_event, last_event, identified_at FROM profiles WHERE active = 1').raw(),
    actionTimes: db.prepare('SELECT profile, first, last FROM profile_actions WHERE name = ?').raw(),
    seekKind: db.prepare('SELECT MIN(time) FROM items WHERE profile = ? AND kind = ? AND time >= ?').pluck(),
    seekName: db.prepare('SELECT MIN(time) FROM items WHERE profile = ? AND name = ? AND kind = 0 AND time >= ?').pluck(),
    callsFrom: db.prepare('SELECT time, payload FROM items WHERE profile = ? AND kind = 1 AND time >= ? ORDER BY time, seq'),
  };

  function reachByFigures(type: 'action' | 'event' | 'identified', previous: Reached): Map<number, number> {
    const next = new Map<number, number>();
    for (const [ref, firstAction, lastAction, firstEvent, lastEvent, identifiedAt] of s.activeFigures.all() as [number, number | null, number | null, number | null, number | null, number | null][]) {
      const at = previous ? previous.get(ref) : -Infinity;
      if (at === undefined) continue;
      let when: number | null;
      if (type === 'identified') when = identifiedAt !== null && identifiedAt >= at ? identifiedAt : null;
      else if (type === 'action') when = firstAt(firstAction, lastAction, at, () => s.seekKind.get(ref, 0, at) as number | null);
      else when = firstAt(firstEvent, lastEvent, at, () => s.seekKind.get(ref, 1, at) as number | null);
      if (when !== null) next.set(ref, when);
    }
    return next;
  }

  function reachByActionName(actionName: string, previous: Reached): Map<number, number> {
    const next = new Map<number, number>();
    const name = refs.findName(actionName);
    if (name === undefined) return next;
    const active = previous ? undefined : new Set(s.activeRefs.all() as number[]);
    for (const [profile, first, last] of s.actionTimes.all(name) as [number, number, number][]) {
      const at = previous ? previous.get(profile) : active?.has(profile) ? -Infinity : undefined;
      if (at === undefined) continue;
      const when = firstAt(first, last, at, () => s.seekName.get(profile, name, at) as number | null);
      if (when !== null) next.set(profile, when);
    }
    return next;
  }

  /** Text in "VERB uri" or "VERB /path": no figure can answer it, so each profile's calls are read. */
  function reachByCallText(matches: (verb: string, uri: string) => boolean, previous: Reached): Map<number, number> {
    const next = new Map<number, number>();
    const candidates = previous ?? new Map((s.activeRefs.all() as number[]).map((ref) => [ref, Number.MIN_SAFE_INTEGER]));
    for (const [profile, at] of candidates) {
      for (const call of s.callsFrom.iterate(profile, at) as Iterable<{ time: number; payload: string }>) {
        const request = (JSON.parse(call.payload) as { request?: { verb?: string; uri?: string } }).request ?? {};
        if (matches(String(request.verb ?? ''), String(request.uri ?? ''))) {
          next.set(profile, call.time);
          break;
        }
      }
    }
    return next;
  }

  const reach = (step: FunnelStepSpec, previous: Reached): Map<number, number> =>
    step.type === 'action_name' ? reachByActionName(step.name, previous) : step.type === 'event_text' ? reachByCallText(step.matches, previous) : reachByFigures(step.type, previous);

  return {
    funnel(steps) {
      const profiles = s.activeCount.get() as number;
      // The default funnel is kept per profile: count the levels.
      if (steps.map((step) => step.type).join() === 'action,identified,event') return { profiles, reached: s.defaultFunnel.get() as number[] };
      if (steps.every((step) => step.type !== 'event_text')) {
        // Prepared per request: its SQL follows the steps asked for.
        const { sql, params } = funnelQuery(steps as FigureStep[], refs.findName);
        return { profiles, reached: db.prepare(sql).raw().get(params) as number[] };
      }
      const reached: number[] = [];
      let previous: Reached;
      for (const step of steps) {
        previous = reach(step, previous);
        reached.push(previous.size);
        if (previous.size === 0) break;
      }
      while (reached.length < steps.length) reached.push(0);
      return { profiles, reached };
    },
  };
}
