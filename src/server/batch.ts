/** What one request to the collector carries: pure functions over the queue's items (JSON strings). */

/** Characters in the first `count` items. */
export function charsOf(items: readonly string[], count: number): number {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += (items[i] as string).length;
  return sum;
}

/**
 * How many items from the front make the next batch: everything waiting, up to `maxCount` items and
 * `maxBytes` of body (UTF-8, brackets and commas included), and always at least one, so that an
 * item larger than the limit still goes, alone. 0 only when nothing waits.
 */
export function batchLength(items: readonly string[], maxCount: number, maxBytes: number): number {
  let count = 0;
  // The brackets, and a comma after each item but the last: each item below counts its own comma.
  let bytes = 1;
  const most = Math.min(items.length, maxCount);
  while (count < most) {
    const size = Buffer.byteLength(items[count] as string, 'utf8') + 1;
    if (count > 0 && bytes + size > maxBytes) break;
    bytes += size;
    count += 1;
  }
  return count;
}

/** A batch's request body: its items, each already JSON, as one array. */
export const batchBody = (batch: readonly string[]): string => `[${batch.join(',')}]`;
