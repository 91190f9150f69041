/**
 * A page with no fetch and no Response, as jest-environment-jsdom is (jsdom has neither, and Jest does
 * not lend Node's): where apps' own Jest tests run the SDK (test/package/test-runners.test.ts runs it
 * there from the tarball). Before, init() failed there ("fetch is not defined", then "Response is not
 * defined" from capture), so the app's calls did nothing; and a queue that can never leave, kept and
 * retried, made jest.runAllTimers() run a day of heartbeats and drop it.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createCapture } from '../src/capture';
import { createMoesif } from '../src/moesif';

const errors: unknown[][] = [];

beforeEach(() => {
  vi.stubGlobal('fetch', undefined);
  vi.stubGlobal('Response', undefined);
  vi.useFakeTimers();
  for (const level of ['error', 'warn'] as const) vi.spyOn(console, level).mockImplementation((...args) => void errors.push(args));
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  errors.length = 0;
});

it('init(), start(), identifyUser() and track() work, and the SDK says nothing', () => {
  const moesif = createMoesif(createCapture);
  moesif.init({ applicationId: 'no-fetch-app' });
  moesif.start();
  moesif.identifyUser('user-1', { plan: 'pro' });
  moesif.track('Clicked', { button: 'hero' });
  const xhr = new XMLHttpRequest();
  xhr.open('GET', '/settings.json');
  expect(moesif.getUserId()).toBe('user-1');
  expect(moesif.getStats()).toMatchObject({ queued: 2, inOutbox: 2, sent: 0, dropped: 0 });
  expect(errors).toEqual([]);
});

it('what waits is held in memory with no timer of the SDK left: vi.runAllTimers() ends at once, nothing dropped, and flush() settles', async () => {
  const moesif = createMoesif(createCapture);
  moesif.init({ applicationId: 'no-fetch-timers' });
  moesif.track('Clicked');
  const before = Date.now();
  vi.runAllTimers();
  // The coalesced save (1 s) and the batch's wait (2.5 s): no heartbeat, no retry after them.
  expect(Date.now() - before).toBeLessThan(60_000);
  expect(vi.getTimerCount()).toBe(0);
  expect(moesif.getStats()).toMatchObject({ inOutbox: 1, dropped: 0 });
  expect(Object.keys(localStorage).filter((key) => key.includes('outbox'))).toEqual([]);
  await expect(moesif.flush()).resolves.toBeUndefined();
  expect(errors).toEqual([]);
});
