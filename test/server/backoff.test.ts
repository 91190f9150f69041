// @vitest-environment node
/** Retry timing as pure functions: no timers, no network. */
import { describe, expect, it } from 'vitest';
import { backoffDelay, isRetryable, parseRetryAfter } from '../../src/server/index';

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
