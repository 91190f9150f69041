import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createLog } from '../src/log';
import { createPageViews, type ActionAt } from '../src/pageviews';
import type { Attribution } from '../src/wire';

const log = createLog(() => false);

// Issue 17: a Page View for a client-side navigation carries the title of the route navigated to.
// Routers set document.title after rendering, sometimes after loading the route's code or data, so
// a view waits for the title to change (up to a bound), rather than a fixed moment.

type View = [path: string, title: unknown];
let views: View[];
let stop: (() => void) | undefined;

/** Page views on, recording [pathname and hash, title] of each view sent; the load's own view is left out. */
const start = async () => {
  const pageViews = createPageViews({ track: (_name, metadata) => views.push([`${metadata.pathname}${metadata.hash}`, metadata.title]), who: () => ({ anonymous_id: 'a-1' }), log });
  pageViews.start();
  stop = pageViews.stop;
  // The load's own view, with the title the page has, once the bound has passed.
  await vi.advanceTimersByTimeAsync(1000);
  views.length = 0;
  return pageViews;
};

beforeEach(() => {
  vi.useFakeTimers();
  views = [];
  if (!document.head) document.documentElement.prepend(document.createElement('head'));
  document.head.innerHTML = '<title>Home</title>';
  history.replaceState(null, '', '/');
});
afterEach(async () => {
  stop?.();
  // Sends whatever still waits, so that nothing of one test is left for the next.
  dispatchEvent(new PageTransitionEvent('pagehide'));
  vi.useRealTimers();
});

it('a view waits for the title the router sets after a render delay, and leaves as soon as it is set', async () => {
  await start();
  history.pushState({}, '', '/reports');
  // The route loads its data first: the title comes 400 ms later, long after the old 50 ms wait.
  setTimeout(() => (document.title = 'Reports'), 400);
  await vi.advanceTimersByTimeAsync(399);
  expect(views).toEqual([]);
  await vi.advanceTimersByTimeAsync(1);
  // The view leaves in the task after the one that set the title (fake timers give a timeout set
  // while they run timers 1 ms, where a browser takes the next turn).
  await vi.advanceTimersByTimeAsync(1);
  expect(views).toEqual([['/reports', 'Reports']]);
});

it('a route that keeps the same title is sent with it once the bound passes, not before', async () => {
  await start();
  history.pushState({}, '', '/settings');
  await vi.advanceTimersByTimeAsync(999);
  expect(views).toEqual([]);
  await vi.advanceTimersByTimeAsync(1);
  expect(views).toEqual([['/settings', 'Home']]);
});

it('changes elsewhere in <head> (a style tag) do not send the view early', async () => {
  await start();
  history.pushState({}, '', '/styled');
  document.head.appendChild(document.createElement('style')).textContent = '.a{}';
  await vi.advanceTimersByTimeAsync(100);
  expect(views).toEqual([]);
  document.title = 'Styled';
  await vi.advanceTimersByTimeAsync(0);
  expect(views).toEqual([['/styled', 'Styled']]);
});

it('a <title> element replaced by a head manager, or added where there was none, is seen', async () => {
  await start();
  history.pushState({}, '', '/replaced');
  const title = document.createElement('title');
  title.textContent = 'Replaced';
  document.querySelector('title')!.replaceWith(title);
  await vi.advanceTimersByTimeAsync(0);
  document.head.innerHTML = '';
  history.pushState({}, '', '/added');
  document.title = 'Added';
  await vi.advanceTimersByTimeAsync(0);
  expect(views).toEqual([
    ['/replaced', 'Replaced'],
    ['/added', 'Added'],
  ]);
});

it('a redirect that sets each title a moment later sends both views, each with its own title', async () => {
  await start();
  history.pushState({}, '', '/login');
  // Fake timers: the router's own delays are the scenario, no test time passes.
  setTimeout(() => (document.title = 'Login'), 20);
  await vi.advanceTimersByTimeAsync(40);
  // The router redirects, and sets the title a moment later, as it did for /login.
  history.pushState({}, '', '/dashboard');
  setTimeout(() => (document.title = 'Dashboard'), 300);
  await vi.advanceTimersByTimeAsync(301);
  expect(views).toEqual([
    ['/login', 'Login'],
    ['/dashboard', 'Dashboard'],
  ]);
});

it('navigations that follow each other before any title is set are neither lost nor reordered', async () => {
  await start();
  for (const path of ['/a', '/b', '/c']) {
    history.pushState({}, '', path);
    await vi.advanceTimersByTimeAsync(10);
  }
  // Each earlier view left when the next navigation came, with the title the page had then.
  expect(views).toEqual([
    ['/a', 'Home'],
    ['/b', 'Home'],
  ]);
  document.title = 'C';
  await vi.advanceTimersByTimeAsync(0);
  expect(views.map(([path]) => path)).toEqual(['/a', '/b', '/c']);
  expect(views[2]).toEqual(['/c', 'C']);
  // Nothing more comes when the bounds of the earlier views would have passed.
  await vi.advanceTimersByTimeAsync(2000);
  expect(views).toHaveLength(3);
});

it("a router that swaps in the next page's title before its pushState, and puts the old one back for the history entry (Astro's ClientRouter), leaves the waiting view with its own page's title", async () => {
  await start();
  // A route that keeps the title: its view still waits when the visitor follows a link (within 1 s).
  history.pushState({}, '', '/reports');
  await vi.advanceTimersByTimeAsync(100);
  // Astro's navigation, in one task: the swap of <head> (the next page's title), then, a microtask
  // later (`await doSwap()`), moveToLocation: the old title back for the entry pushState leaves in
  // the history, pushState, and the new title again.
  document.title = 'About';
  await Promise.resolve();
  document.title = 'Home';
  history.pushState({}, '', '/about');
  document.title = 'About';
  await vi.advanceTimersByTimeAsync(0);
  expect(views).toEqual([
    ['/reports', 'Home'],
    ['/about', 'About'],
  ]);
});

it("replaceState to an anchor in the page (a scroll-spy's) is no view; to a hash router's route it is, but not to its query alone", async () => {
  await start();
  history.replaceState(null, '', '/#installation');
  history.replaceState(null, '', '/#usage');
  await vi.advanceTimersByTimeAsync(2000);
  expect(views).toEqual([]);
  // vue-router's router.replace() in hash mode.
  history.replaceState(null, '', '/#/settings');
  document.title = 'Settings';
  await vi.advanceTimersByTimeAsync(0);
  history.replaceState(null, '', '/#/settings?tab=billing');
  await vi.advanceTimersByTimeAsync(2000);
  expect(views).toEqual([['/#/settings', 'Settings']]);
});

it('trackPageView() while an automatic view waits sends the automatic one first', async () => {
  const pageViews = await start();
  history.pushState({}, '', '/auto');
  pageViews.trackPageView({ section: 'manual' });
  expect(views).toEqual([
    ['/auto', 'Home'],
    ['/auto', 'Home'],
  ]);
  await vi.advanceTimersByTimeAsync(2000);
  expect(views).toHaveLength(2);
});

it('a redirect by replaceState before the route showed its title is one view, of where it landed, from the page before; a replaceState after the title is a view of its own', async () => {
  const sent: Array<[path: unknown, title: unknown, referrer: unknown]> = [];
  const pageViews = createPageViews({ track: (_name, { pathname, title, referrer }) => sent.push([pathname, title, referrer]), who: () => ({ anonymous_id: 'a-1' }), log });
  pageViews.start();
  stop = pageViews.stop;
  await vi.advanceTimersByTimeAsync(1000);
  // A link to a page that moved: the router pushes it, then replaces it before rendering anything.
  history.pushState({}, '', '/legacy');
  await vi.advanceTimersByTimeAsync(20);
  history.replaceState({}, '', '/docs');
  document.title = 'Docs';
  await vi.advanceTimersByTimeAsync(0);
  // A sign-in replacing the login page, once the login page had its title.
  history.pushState({}, '', '/login');
  document.title = 'Log in';
  await vi.advanceTimersByTimeAsync(0);
  history.replaceState({}, '', '/account');
  document.title = 'Account';
  await vi.advanceTimersByTimeAsync(0);
  expect(sent).toEqual([
    ['/', 'Home', ''],
    ['/docs', 'Docs', 'http://app.example.test/'],
    ['/login', 'Log in', 'http://app.example.test/docs'],
    ['/account', 'Account', 'http://app.example.test/login'],
  ]);
});

it('a view sent later keeps the time, address and visitor of its navigation', async () => {
  const sent: Array<{ pathname: unknown; at: ActionAt }> = [];
  let visitor: Attribution = { anonymous_id: 'a-1' };
  const pageViews = createPageViews({ track: (_name, metadata, at) => sent.push({ pathname: metadata.pathname, at }), who: () => visitor, log });
  pageViews.start();
  stop = pageViews.stop;
  await vi.advanceTimersByTimeAsync(1000);
  sent.length = 0;
  const navigatedAt = new Date().toISOString();
  history.pushState({}, '', '/first');
  await vi.advanceTimersByTimeAsync(300);
  // A log-out while /first waits for its title: the view stays the navigating visitor's.
  visitor = { anonymous_id: 'a-2' };
  // The next navigation sends /first: with its own address and time, not those of /second.
  history.pushState({}, '', '/second');
  expect(sent).toEqual([{ pathname: '/first', at: { time: navigatedAt, uri: 'http://app.example.test/first', who: { anonymous_id: 'a-1' } } }]);
});

it('a document whose <head> a script removed still navigates, and its views leave at the bound', async () => {
  await start();
  document.head.remove();
  expect(() => history.pushState({}, '', '/headless')).not.toThrow();
  await vi.advanceTimersByTimeAsync(1000);
  expect(views).toEqual([['/headless', '']]);
});

it('a page hidden while a view waits for its title sends it at once (a hidden page may be discarded)', async () => {
  await start();
  history.pushState({}, '', '/backgrounded');
  Object.defineProperty(document, 'hidden', { value: true, configurable: true });
  try {
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  } finally {
    delete (document as { hidden?: boolean }).hidden;
  }
  expect(views).toEqual([['/backgrounded', 'Home']]);
  await vi.advanceTimersByTimeAsync(2000);
  expect(views).toHaveLength(1);
});

it('a page closed while a view waits for its title sends it at once', async () => {
  await start();
  history.pushState({}, '', '/leaving');
  dispatchEvent(new PageTransitionEvent('pagehide'));
  expect(views).toEqual([['/leaving', 'Home']]);
  await vi.advanceTimersByTimeAsync(2000);
  expect(views).toHaveLength(1);
});
