import { patch } from './patch.js';
import type { Metadata } from './wire.js';

/**
 * Page views on load and on every client-side navigation: pushState, replaceState when the path
 * changes, popstate, hashchange, and a restore from the back/forward cache. A view records the
 * fields Moesif's plugin sends ({ pathname, title, host }) and the rest; its referrer is the page
 * viewed before it (the document's referrer for the first). The action name is the plugin's too,
 * so dashboards match.
 */
export function createPageViews(track: (name: string, metadata: Metadata) => void) {
  let on = false;
  let lastUrl: string | undefined;
  /** The path of the last view: replaceState to another path is a view, to the same path with another query is not. */
  let lastPath: string | undefined;
  /** A view waiting for its title; sent at once if the page closes first. */
  let pending: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    pending?.();
    pending = undefined;
  };

  /**
   * Reads the address now and makes this URL the last viewed; the returned function sends the view,
   * reading the title when it runs. The referrer is the page viewed before, or the document's referrer
   * for the first view (and for a page restored from the back/forward cache).
   */
  const page = (metadata?: Metadata): (() => void) => {
    const { href, pathname, host, search, hash } = location;
    const referrer = lastUrl ?? document.referrer;
    lastUrl = href;
    lastPath = pathname;
    return () => track('Page View', { pathname, title: document.title, host, search, hash, referrer, ...metadata });
  };

  /** While on, a view of the current URL, unless it is the one just viewed (routers often announce twice). */
  const view = (): void => {
    if (!on || location.href == lastUrl) return;
    // Frameworks set document.title after the URL changes (in a later task, or an effect after paint),
    // so the view is sent a moment later; nothing of the app waits for it.
    flush();
    pending = page();
    // One timer, restarted: an older view's timer would send this one early, with the last page's title.
    clearTimeout(timer);
    timer = setTimeout(flush, 50);
  };

  // Made once and reused, so start/stop cycles never stack wrappers; off, they only pass calls through.
  const toggles = ['pushState', 'replaceState'].map((name) =>
    patch(history as unknown as Record<string, unknown>, name, (original) => function (this: History) {
      const result = original.apply(this, arguments);
      if (name == 'pushState' || location.pathname != lastPath) view();
      return result;
    }),
  );
  const turn = (next: boolean): void => {
    on = next;
    toggles.map((toggle) => toggle(next)); // map: 5 B smaller than forEach here
  };

  // Added once, here, and idle while off. A `pageshow` that is not a restore is the first load, viewed by start().
  const restored = (event: PageTransitionEvent): void => {
    if (event.persisted) view();
  };
  // Forgetting the URL makes a restore from the back/forward cache a new view of it.
  const hidden = (): void => {
    lastUrl = undefined;
    flush();
  };
  addEventListener('popstate', view);
  addEventListener('hashchange', view);
  addEventListener('pageshow', restored);
  // Capture phase: runs before delivery's own pagehide listener, so the view leaves with the final flush.
  addEventListener('pagehide', hidden, true);

  return {
    start(): void {
      if (on) return;
      turn(true);
      view();
    },
    stop: () => turn(false),
    /** For routers that announce navigations themselves, and sites that keep `trackPageViews` off. */
    trackPageView: (metadata: Metadata | undefined): void => page(metadata)(),
    /** Removes the listeners added above (the instance is disposed). */
    dispose(): void {
      removeEventListener('popstate', view);
      removeEventListener('hashchange', view);
      removeEventListener('pageshow', restored);
      removeEventListener('pagehide', hidden, true);
    },
  };
}

export type PageViews = ReturnType<typeof createPageViews>;
