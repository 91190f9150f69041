/**
 * What the SQLite modules share about stored rows: the item row, kinds as numbers, and times as
 * milliseconds since 1970 (integers sort and index more compactly than text; answers show ISO
 * strings).
 */

export const HOUR_MS = 3_600_000;

/** items.kind: 0 an action, 1 an API call (event). */
export type KindIndex = 0 | 1;
export const KINDS = ['action', 'event'] as const;
export const kindIndex = (kind: 'action' | 'event'): KindIndex => (kind === 'action' ? 0 : 1);

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

export const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
export const ms = (value: string | null | undefined): number | null => (value ? Date.parse(value) : null);
export const minOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
export const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));
