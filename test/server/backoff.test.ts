// @vitest-environment node
/** Retry timing as pure functions: no timers, no network. */
import { describe, expect, it } from 'vitest';
import { backoffDelay, isRetryable, parseRetryAfter } from '../../src/server/index';
import { createPacing } from '../../src/server/pacing';

describe('backoffDelay', () => {
  it('draws from [0, base * 2^(attempt-1)) (full jitter)', () => {
    expect(backoffDelay(1, undefined, 1000, 60_000, () => 0)).toBe(0);
    expect(backoffDelay(1, undefined, 1000, 60_000, () => 0.999)).toBe(999);
    expect(backoffDelay(3, undefined, 1000, 60_000, () => 0.5)).toBe(2000);
  });

  it('never exceeds the maximum delay, however many attempts', () => {
    expect(backoffDelay(40, undefined, 1000, 60_000, () => 0.999)).toBeLessThan(60_000);
    expect(backoffDelay(1, 10 * 60_000, 1000, 60_000, () => 0)).toBe(60_000);
  });

  it('treats Retry-After as a floor', () => {
    expect(backoffDelay(1, 5000, 1000, 60_000, () => 0.1)).toBe(5000);
    expect(backoffDelay(10, 5000, 1000, 60_000, () => 0.5)).toBeGreaterThan(5000);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Mon, 01 Jan 2023 00:00:10 GMT', now)).toBe(0);
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('isRetryable', () => {
  it('retries no answer, timeouts, rate limits and server errors only', () => {
    expect([0, 408, 429, 500, 503].every(isRetryable)).toBe(true);
    expect([400, 401, 404, 413, 422].some(isRetryable)).toBe(false);
  });
});

describe('pacing (how hard the outbox may press the collector)', () => {
  const pacing = () => createPacing({ maxInFlight: 4, maxBatchBytes: 1000, retryBaseDelay: 1000, retryMaxDelay: 60_000, random: () => 0.5 });

  it('allows every request under way while the collector answers, and one probe after a failure until it answers again', () => {
    const p = pacing();
    expect(p.maxInFlight()).toBe(4);
    p.failed(undefined);
    expect(p.maxInFlight()).toBe(1);
    p.failed(undefined);
    expect(p.maxInFlight()).toBe(1);
    p.answered();
    expect(p.maxInFlight()).toBe(4);
  });

  it('counts failures in a row for the backoff, Retry-After as a floor, and starts over once the collector answers', () => {
    const p = pacing();
    expect(p.failed(undefined)).toEqual({ attempt: 1, delay: 500 });
    expect(p.failed(undefined)).toEqual({ attempt: 2, delay: 1000 });
    expect(p.failed(5000)).toEqual({ attempt: 3, delay: 5000 });
    p.answered();
    expect(p.failed(undefined)).toEqual({ attempt: 1, delay: 500 });
  });

  it('halves the batch byte limit to what a 413 refused, never raising it again', () => {
    const p = pacing();
    expect(p.byteLimit()).toBe(1000);
    expect(p.tooLarge(900)).toBe(450);
    expect(p.byteLimit()).toBe(450);
    // A larger batch refused after a smaller one (both were under way) leaves the limit as it is.
    expect(p.tooLarge(2000)).toBe(450);
    p.answered();
    expect(p.byteLimit()).toBe(450);
    expect(p.tooLarge(1)).toBe(1);
  });
});
