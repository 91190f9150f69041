import type { ResolvedOptions } from '../options.js';
import type { Item } from './outbox.js';

/** Largest request body: under the browser's 64 KB keepalive quota, so any batch can outlive its page. */
export const MAX_BATCH_BYTES = 60_000;

/** UTF-8 bytes of a batch's body: its items, the commas between them and the brackets. */
export const bodyBytes = (batch: Item[]): number => batch.reduce((sum, item) => sum + item.bytes + 1, 1);

/** Whether the items not in flight fill a request: MAX_BATCH_BYTES of body or more. */
export function fillRequest(items: Item[]): boolean {
  let bytes = 1;
  for (const item of items) {
    if (!item.sending) bytes += item.bytes + 1;
    if (bytes >= MAX_BATCH_BYTES) return true;
  }
  return false;
}

/** A batch's body: its items' JSON, as one array. */
export const bodyOf = (batch: Item[]): string => `[${batch.map((item) => item.json).join(',')}]`;

/**
 * The next request's items: the oldest waiting item and the waiting items of its kind after it,
 * at most `limit` of them and `MAX_BATCH_BYTES` of body (an item larger than that goes alone).
 */
export function nextBatch(items: Item[], limit: number): Item[] {
  const batch: Item[] = [];
  let bytes = 1;
  for (const item of items) {
    if (item.sending || item.kind != (batch[0] ?? item).kind) continue;
    bytes += item.bytes + 1;
    if (batch.length && (batch.length >= limit || bytes > MAX_BATCH_BYTES)) break;
    batch.push(item);
  }
  return batch;
}

/**
 * A full batch leaves at once, unless a request left less than this long ago: then it leaves when the
 * gap is over, carrying what arrived meanwhile, or at once if a whole request's worth (60 KB) waits.
 * Each request costs the page about a millisecond of main-thread time (Chromium, issue 18), so a page
 * making hundreds of API calls a second sends a few full requests a second, not dozens of small ones.
 */
export const REQUEST_GAP_MS = 250;

/** What decides when a request is due, besides the items waiting. */
export interface RequestTiming {
  options: Pick<ResolvedOptions, 'batchEnabled' | 'batchSize' | 'batchMaxTime'>;
  /** flush() was called, or items were adopted from a closed tab: they leave at once. */
  urgent: boolean;
  /** When the last request left (ms since epoch). */
  lastSentAt: number;
  now: number;
}

/**
 * When the next request is due (ms since epoch), backoff aside: at once when urgent or without
 * batching; while fewer than `batchSize` items wait, when the oldest has waited `batchMaxTime`; then
 * REQUEST_GAP_MS after the last request, or at once when a whole request's worth waits. A time "in
 * the future" (the clock was set back since, corrected by the system) counts as now, or the request
 * would wait for the clock.
 */
export function nextRequestAt(items: Item[], { options, urgent, lastSentAt, now }: RequestTiming): number {
  if (urgent || !options.batchEnabled) return 0;
  if (items.length < options.batchSize) return Math.min(items[0].at, now) + options.batchMaxTime;
  return fillRequest(items) ? 0 : Math.min(lastSentAt, now) + REQUEST_GAP_MS;
}
