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
