import { describe, expect, it } from 'vitest';
import { nextBatch, nextRequestAt, REQUEST_GAP_MS } from '../src/delivery/batch';
import type { Item } from '../src/delivery/outbox';
import { backoffDelay, isRetryable, parseRetryAfter } from '../src/delivery/backoff';

const MINUTES_5 = 300_000;

describe('backoffDelay', () => {
  it('waits a random time in [0, 1 s * 2^(attempt-1)) (full jitter)', () => {
    for (const [attempt, ceiling] of [[1, 1000], [2, 2000], [3, 4000], [5, 16_000], [9, 256_000]]) {
      expect(backoffDelay(attempt, undefined, undefined, undefined, () => 0), `attempt ${attempt}, random 0`).toBe(0);
      const top = backoffDelay(attempt, undefined, undefined, undefined, () => 0.999_999_9);
      expect(top, `attempt ${attempt}, random ~1`).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(ceiling - 1);
      expect(backoffDelay(attempt, undefined, undefined, undefined, () => 0.5)).toBe(ceiling / 2);
    }
  });

  it('never waits more than 5 minutes, however many attempts failed', () => {
    for (const attempt of [10, 20, 100, 1000]) {
      const top = backoffDelay(attempt, undefined, undefined, undefined, () => 0.999_999_9);
      expect(top).toBeLessThan(MINUTES_5);
      expect(top).toBeGreaterThanOrEqual(MINUTES_5 - 1);
      expect(backoffDelay(attempt, undefined, undefined, undefined, () => 0.5)).toBe(MINUTES_5 / 2);
    }
  });

  it('stays in range with the real Math.random', () => {
    for (let i = 0; i < 2000; i++) {
      const attempt = 1 + (i % 12);
      const delay = backoffDelay(attempt, undefined);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(MINUTES_5, 1000 * 2 ** (attempt - 1)));
      expect(Number.isInteger(delay)).toBe(true);
    }
  });

  it("never retries before the server's Retry-After", () => {
    expect(backoffDelay(1, 3000, undefined, undefined, () => 0)).toBe(3000);
    expect(backoffDelay(1, 3000, undefined, undefined, () => 0.999)).toBe(3000);
    // A longer jittered wait than the floor is kept.
    expect(backoffDelay(5, 3000, undefined, undefined, () => 0.5)).toBe(8000);
  });

  it('caps even a Retry-After at 5 minutes', () => {
    expect(backoffDelay(1, 3_600_000, undefined, undefined, () => 0)).toBe(MINUTES_5);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T12:00:00Z');

  it('reads delay-seconds as milliseconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });

  it('reads an HTTP date as the milliseconds until it', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
  });

  it('reads an HTTP date in the past as no wait', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 11:00:00 GMT', now)).toBe(0);
  });

  it('returns undefined for a missing or unreadable header', () => {
    for (const header of [undefined, null, '', 'soon', 'abc', 'in a minute']) {
      expect(parseRetryAfter(header, now), String(header)).toBeUndefined();
    }
  });
});

describe('isRetryable', () => {
  it.each([
    [0, true],
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [599, true],
    [200, false],
    [202, false],
    [204, false],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [413, false],
    [422, false],
    // The last 4xx: the boundary of "a server error" (nginx's 499, the client went away, is no reason to retry).
    [499, false],
  ])('status %i is retryable: %s', (status, expected) => {
    expect(isRetryable(status)).toBe(expected);
  });
});

// `at` doubles as the item's name below: item n was queued at n.
const item = (index: number, json: string, kind: Item['kind'] = 'actions'): Item => ({
  kind,
  json,
  bytes: Buffer.byteLength(json),
  at: index,
});
const bodyBytes = (batch: Item[]): number => Buffer.byteLength(`[${batch.map((entry) => entry.json).join(',')}]`);

/** Every batch nextBatch makes of `items`, in order, as the engine takes them (each marked as sending). */
const allBatches = (items: Item[], limit: number): Item[][] => {
  const batches: Item[][] = [];
  for (let batch; (batch = nextBatch(items, limit)).length; batches.push(batch)) for (const entry of batch) entry.sending = true;
  return batches;
};

describe('nextBatch', () => {
  it('takes at most `limit` items, oldest first, keeping order', () => {
    const items = Array.from({ length: 60 }, (_, index) => item(index, `{"n":${index}}`));
    const batches = allBatches(items, 25);
    expect(batches.map((batch) => batch.length)).toEqual([25, 25, 10]);
    expect(batches.flat().map((entry) => entry.at)).toEqual(items.map((entry) => entry.at));
  });

  it('keeps every request body within 60,000 bytes', () => {
    const items = Array.from({ length: 10 }, (_, index) => item(index, JSON.stringify({ n: index, pad: 'x'.repeat(20_000) })));
    const batches = allBatches(items, Infinity);
    for (const batch of batches) expect(bodyBytes(batch)).toBeLessThanOrEqual(60_000);
    expect(batches.map((batch) => batch.length)).toEqual([2, 2, 2, 2, 2]);
    expect(batches.flat().map((entry) => entry.at)).toEqual(items.map((entry) => entry.at));
  });

  it('fills a request up to exactly 60,000 bytes of body, and not one byte more', () => {
    // Two items, with the brackets and the comma: 29,998 + 29,999 + 3 = 60,000 bytes.
    expect(allBatches([item(0, 'x'.repeat(29_998)), item(1, 'x'.repeat(29_999))], Infinity).map((batch) => batch.length)).toEqual([2]);
    expect(allBatches([item(0, 'x'.repeat(29_998)), item(1, 'x'.repeat(30_000))], Infinity).map((batch) => batch.length)).toEqual([1, 1]);
  });

  it('counts multi-byte characters as their UTF-8 bytes, not as UTF-16 units', () => {
    // 10,000 euro signs: 10,000 UTF-16 units but 30,000 UTF-8 bytes each.
    const items = Array.from({ length: 4 }, (_, index) => item(index, JSON.stringify({ e: '€'.repeat(10_000) })));
    const batches = allBatches(items, Infinity);
    for (const batch of batches) expect(bodyBytes(batch)).toBeLessThanOrEqual(60_000);
    expect(batches.map((batch) => batch.length)).toEqual([1, 1, 1, 1]);
  });

  it('puts an item larger than the limit alone in its own batch', () => {
    const items = [item(0, '{"a":1}'), item(1, JSON.stringify({ big: 'x'.repeat(70_000) })), item(2, '{"c":3}')];
    expect(allBatches(items, 25).map((batch) => batch.map((entry) => entry.at))).toEqual([[0], [1], [2]]);
  });

  it("takes the oldest waiting item's kind only, and skips items already being sent", () => {
    const items = [item(0, '{}', 'users'), item(1, '{}'), item(2, '{}', 'users'), item(3, '{}', 'events')];
    items[0].sending = true;
    expect(nextBatch(items, 25).map((entry) => entry.at)).toEqual([1]);
    items[1].sending = true;
    expect(nextBatch(items, 25).map((entry) => entry.at)).toEqual([2]);
  });

  it('returns no batch for no waiting items', () => {
    expect(nextBatch([], 25)).toEqual([]);
  });
});

describe('nextRequestAt', () => {
  const options = { batchEnabled: true, batchSize: 3, batchMaxTime: 2500 };
  const NOW = 1_000_000;
  const waiting = (count: number, at = NOW - 100, pad = 0) => Array.from({ length: count }, () => item(at, JSON.stringify({ pad: 'x'.repeat(pad) })));
  /** Items waiting since NOW - 100 whose JSON is as long as each of `lengths`. */
  const sized = (...lengths: number[]) => lengths.map((length) => item(NOW - 100, 'x'.repeat(length)));
  const at = (items: Item[], changes: Partial<Parameters<typeof nextRequestAt>[1]> = {}) =>
    nextRequestAt(items, { options, urgent: false, lastSentAt: NOW - 10, now: NOW, ...changes });

  it.each([
    ['fewer than batchSize: when the oldest has waited batchMaxTime', waiting(2), {}, NOW - 100 + 2500],
    ['a flush or adopted items: at once', waiting(2), { urgent: true }, 0],
    ['batching off: at once', waiting(1), { options: { ...options, batchEnabled: false } }, 0],
    ['a full batch: REQUEST_GAP_MS after the last request', waiting(3), {}, NOW - 10 + REQUEST_GAP_MS],
    ['a full batch, the last request long ago: at once (a time in the past)', waiting(3), { lastSentAt: NOW - 60_000 }, NOW - 60_000 + REQUEST_GAP_MS],
    ["a whole request's worth waiting: at once", waiting(3, NOW - 100, 25_000), {}, 0],
    // With the brackets and the commas: 1 + 20,001 + 20,001 + 19,997 = 60,000 bytes of body, then one byte less.
    ['exactly a whole request (60,000 bytes of body): at once', sized(20_000, 20_000, 19_996), {}, 0],
    ['a byte short of a whole request: REQUEST_GAP_MS after the last request', sized(20_000, 20_000, 19_995), {}, NOW - 10 + REQUEST_GAP_MS],
    ['an item dated after now (the clock was set back): counted from now', waiting(2, NOW + 3_600_000), {}, NOW + 2500],
    ['a last request dated after now: the gap counted from now', waiting(3), { lastSentAt: NOW + 3_600_000 }, NOW + REQUEST_GAP_MS],
  ] as const)('%s', (_name, items, changes, expected) => {
    expect(at([...items], changes)).toBe(expected);
  });
});
