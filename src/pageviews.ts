import { listen } from './listeners.js';
import type { Log } from './log.js';
import { patch } from './patch.js';
import type { Attribution, Metadata } from './wire.js';
import { outsideZones } from './zones.js';

/**
 * How long a view of a client-side navigation waits for the new page's title. Routers set
 * document.title after rendering: React Router and the like in an effect after paint, later still
 * when the route loads its code or data first (issue 17). The view leaves as soon as the title
 * changes, so this bound is only paid by routes whose title stays the same.
 */
const TITLE_WAIT_MS = 1000;

/** When and where an action happened, and who the visitor was then, for one sent later than that. */
export interface ActionAt {
  time: string;
  uri: string;
  /** A reset() or another user's identifyUser() may come while a view waits for its title: the view stays the navigating visitor's. */
  who: Attribution;
}

export interface PageViewsDeps {
  /** Sends a view: the instance's track(), with when and where it happened. */
  track(name: string, metadata: Metadata, at: ActionAt): void;
  /** Who the visitor is now (the instance reads consent first: see createCallerCache in moesif.ts). */
  who: () => Attribution;
  log: Log;
}

/**
 * Where the visitor is, as a replaceState counts it: the path, and a hash router's route (`#/route`,
 * `#!/route`: vue-router's and React Router's hash modes) without its query. Not the query alone
 * (filters written to the address as they change), nor an anchor in the page (MkDocs Material writes
 * the section scrolled to with replaceState).
 */
const place = (): string => location.pathname + (/^#!?\//.test(location.hash) ? location.hash.split('?')[0] : '');

/**
 * Page views on load and on every client-side navigation: pushState, replaceState when the place
 * changes (see `place`), popstate, hashchange, and a restore from the back/forward cache; a redirect
 * or a back the router undoes withdraws a view still waiting for its title (see `withdraw`). A view
 * records the fields Moesif's plugin sends ({ pathname, title, host }) and the rest; its referrer is
 * the page viewed before it (the document's referrer for the first). The action name is the
 * plugin's too, so dashboards match.
 */
export function createPageViews({ track, who, log }: PageViewsDeps) {
  let on = false;
  /**
   * The last view's URL (none before the first, and forgotten when the page is closed) and place:
   * replaceState to another place is a view, to the same one with another query is not.
   */
  let last: { url?: string; place?: string } = {};
  /** The view before the last: where a redirect or an undone back or forward returns to while the last waits for its title. */
  let previous = last;
  const titleWait = createTitleWait();

  /**
   * Reads the address and time now and makes this URL the last viewed; the returned function sends
   * the view, reading the title when it runs. The view keeps the time and address of its navigation,
   * so it stays before what the visitor did next on that page, and keeps its own URL when the next
   * navigation sends it. The referrer is the page viewed before, or the document's referrer for the
   * first view (and for a page restored from the back/forward cache).
   */
  const beginView = (metadata?: Metadata): (() => void) => {
    const { href, pathname, host, search, hash } = location;
    const referrer = last.url ?? document.referrer;
    const at = { time: new Date().toISOString(), uri: href, who: who() };
    previous = last;
    last = { url: href, place: place() };
    return () => track('Page View', { pathname, title: document.title, host, search, hash, referrer, ...metadata }, at);
  };

  /**
   * While on, a view of the current URL, unless it is the one just viewed (routers often announce twice).
   * It runs inside the app's pushState and the page's own events, so a failure (reading the visitor from
   * storage that holds what no cookie can take, say) is one warning, never thrown there; the URL stays
   * unviewed, and the next navigation tries again.
   */
  const view = (): void => {
    if (!on || location.href == last.url) return;
    try {
      // Frameworks set document.title after the URL changes: the view waits for it (see createTitleWait).
      // A view still held is sent first, with the title it has by now.
      titleWait.flush();
      titleWait.hold(beginView());
    } catch (error) {
      // The error's name and message, as the browser words them (`URIError: URI malformed`).
      log.warn(`page view left out: ${error}`);
    }
  };
  /**
   * Withdraws the view still waiting for its title, as if it never began: the visitor never saw that
   * page, since the router rendered nothing of it (no title yet), and the history no longer leads there.
   * As an analytics user counts it, a redirect is one view, of where the visitor landed, from where
   * they came; a navigation the router cancels is none. (The view() that follows views the new URL, or
   * nothing when it is the one viewed before.)
   */
  const withdraw = (): void => {
    if (on && titleWait.drop()) last = previous;
  };
  /**
   * A replaceState to another place. While the last view waits for its title it is a redirect (the
   * router's on the first load, a route that replaces itself once rendered: React Router's
   * `<Navigate replace>`, a component's router.replace() on mount), after it a navigation of its own
   * (a sign-in replacing the login page).
   */
  const replaced = (): void => {
    withdraw();
    view();
  };
  /**
   * Back or forward. A router undoes one it cancels (unsaved changes: vue-router's guards, React
   * Router's useBlocker) with history.go() back to where the visitor was: a return to the page viewed
   * before, while the view of the page left still waits for its title, withdraws that view. (So does
   * a back within a moment of a click, before the page clicked to showed its title.)
   */
  const popped = (): void => {
    if (location.href == previous.url) withdraw();
    view();
  };

  // Made once and reused, so start/stop cycles never stack wrappers; off, they only pass calls through.
  const toggles = (['pushState', 'replaceState'] as const).map((name) =>
    patch(history, name, (original) => function (this: History) {
      const result = original.apply(this, arguments);
      // The app's router calls it inside its zone.js zone, if any: the view's timer is the SDK's (see zones.ts).
      if (name == 'pushState') outsideZones(view);
      else if (place() != last.place) outsideZones(replaced);
      return result;
    }),
  );
  const turn = (next: boolean): void => {
    on = next;
    // A page that froze History.prototype (SES's harden()) refuses our wrappers on `history`. Both are
    // left off then, as capture leaves a frozen API, and the page is told: its router's navigations are
    // seen only through popstate and hashchange.
    if (!toggles.map((toggle) => toggle(next)).includes(false)) return;
    for (const toggle of toggles) toggle(false);
    log.warn('trackPageViews: cannot see history.pushState (frozen by the page): call trackPageView() on each navigation');
  };

  // Added once, here, and idle while off; dispose() removes them.
  // A `pageshow` that is not a restore is the first load, viewed by start().
  const restored = (event: PageTransitionEvent): void => {
    if (event.persisted) view();
  };
  // Forgetting the URL makes a restore from the back/forward cache a new view of it.
  const closed = (): void => {
    last = { place: last.place };
    titleWait.flush();
  };
  // A mobile browser may discard a hidden page without any pagehide, and a view waiting for its
  // title lives in memory only.
  const hidden = (): void => {
    if (document.hidden) titleWait.flush();
  };
  const stopListening = [
    listen(window, { popstate: popped, hashchange: view, pageshow: restored }),
    // Capture phase: they run before delivery's own listeners (pagehide on window, visibilitychange
    // on the document), so a waiting view leaves with the final flush.
    listen(window, { pagehide: closed, visibilitychange: hidden }, true),
  ];

  return {
    start(): void {
      if (on) return;
      turn(true);
      view();
    },
    stop: () => turn(false),
    /**
     * For routers that announce navigations themselves, and sites that keep `trackPageViews` off.
     * An automatic view still waiting for its title goes first, so the views keep their order.
     */
    trackPageView(metadata: Metadata | undefined): void {
      titleWait.flush();
      beginView(metadata)();
    },
    /** Puts history's methods back, removes the listeners added above and lets a waiting view go (the instance is disposed). */
    dispose(): void {
      turn(false);
      titleWait.flush();
      for (const stop of stopListening) stop();
    },
  };
}

/**
 * The view of a client-side navigation, held until the new page's title is set: it leaves once
 * document.title has changed (at the end of the task that changed it), after TITLE_WAIT_MS at most, or
 * at once when `flush()` comes first (another view, trackPageView(), the page hidden or closed), so
 * views are never lost nor sent out of order. Nothing of the app waits for it.
 */
function createTitleWait() {
  let held: (() => void) | undefined;
  /** The title when the held view's navigation happened: the view leaves once document.title differs. */
  let oldTitle: string;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The task after a change in <head>, which sends the view if the title differs then. */
  let settled: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    titleWatch.disconnect();
    clearTimeout(timer);
    clearTimeout(settled);
    held?.();
    held = undefined;
  };
  // Made once, and watching only while a view is held. The whole <head>: `document.title = ...` replaces
  // the text of <title>, or adds a <title> where there was none, and some head managers replace the
  // element itself. Other changes there (style tags) only cost a timer that finds the title unchanged.
  // The title is compared a task later, not in this microtask: a router may swap in the next page's
  // <head> before its pushState, and put the old title back for the entry pushState leaves in the
  // history (Astro's ClientRouter, a microtask later). The view held then leaves with that pushState,
  // with its own page's title, and the next view waits for the next title.
  const titleWatch = new MutationObserver(() => {
    clearTimeout(settled);
    settled = setTimeout(() => document.title != oldTitle && flush());
  });
  return {
    /** Holds `send` (a view) until the title changes. One at a time: flush() the last one first. */
    hold(send: () => void): void {
      held = send;
      oldTitle = document.title;
      // The document when a script removed <head>: a throw here would reach the app's pushState call.
      titleWatch.observe(document.head ?? document, { childList: true, characterData: true, subtree: true });
      timer = setTimeout(flush, TITLE_WAIT_MS);
    },
    flush,
    /** Forgets the held view without sending it; whether there was one. */
    drop(): boolean {
      const dropped = !!held;
      held = undefined;
      flush();
      return dropped;
    },
  };
}

export type PageViews = ReturnType<typeof createPageViews>;
