import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createPageViews } from '../src/pageviews';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

it('a navigation 40 ms after another still waits its own 50 ms for its title', async () => {
  const views: Array<[string, unknown]> = [];
  const pageViews = createPageViews((_name, metadata) => views.push([String(metadata.pathname), metadata.title]));
  pageViews.start();
  history.pushState({}, '', '/login');
  // Fake timers: the router's own delays are the scenario, no test time passes.
  setTimeout(() => (document.title = 'Login'), 20);
  await vi.advanceTimersByTimeAsync(40);
  // The router redirects, and sets the title a moment later, as it did for /login.
  history.pushState({}, '', '/dashboard');
  setTimeout(() => (document.title = 'Dashboard'), 30);
  await vi.advanceTimersByTimeAsync(200);
  pageViews.stop();
  expect(views.slice(1)).toEqual([
    ['/login', 'Login'],
    ['/dashboard', 'Dashboard'],
  ]);
});
