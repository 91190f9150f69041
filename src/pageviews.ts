import { patch } from './patch';
import type { Metadata } from './wire';

/** Moesif's documentation-site plugin sends this action name; we keep it so dashboards match. */
export const PAGE_VIEW = 'Page View';

/** What a page view records: the fields Moesif's plugin sends ({ pathname, title, host }) and the rest. */
const describePage = (referrer: string): Metadata => ({
  pathname: location.pathname,
  title: document.title,
  host: location.host,
  search: location.search,
  hash: location.hash,
  referrer,
});

/**
 * Page views on load and on every client-side navigation: pushState, replaceState when the path
 * changes, popstate, hashchange, and a restore from the back/forward cache.
 */
export function createPageViews(track: (name: string, metadata: Metadata) => void) {
  let undo: Array<() => void> = [];
  let lastUrl: string | undefined;

  /** Sends a view of the current URL, unless it is the one just sent (routers often announce twice). */
  const view = (force: boolean, referrer: string): void => {
    const url = location.href;
    if (!force && url === lastUrl) return;
    lastUrl = url;
    // Frameworks set document.title a tick after the URL changes; read it then.
    setTimeout(() => track(PAGE_VIEW, describePage(referrer)));
  };

  const listen = (target: EventTarget, type: string, handler: (event: Event) => void): void => {
    target.addEventListener(type, handler);
    undo.push(() => target.removeEventListener(type, handler));
  };

  const wrapHistory = (name: 'pushState' | 'replaceState') =>
    undo.push(
      patch(history, name, (original) => function (this: History, ...args: Parameters<History['pushState']>) {
        const before = location.href;
        const beforePath = location.pathname;
        const result = original.apply(this, args);
        if (name === 'pushState' || location.pathname !== beforePath) view(false, before);
        return result;
      }),
    );

  return {
    start(): void {
      if (undo.length) return;
      wrapHistory('pushState');
      wrapHistory('replaceState');
      let previous = location.href;
      const onNavigate = (): void => {
        view(false, previous);
        previous = location.href;
      };
      listen(window, 'popstate', onNavigate);
      listen(window, 'hashchange', onNavigate);
      listen(window, 'pageshow', (event) => (event as PageTransitionEvent).persisted && view(true, document.referrer));
      view(false, document.referrer);
    },
    stop(): void {
      for (const step of undo) step();
      undo = [];
    },
    /** For routers that announce navigations themselves, and sites that keep `trackPageViews` off. */
    trackPageView(metadata: Metadata | undefined): void {
      lastUrl = location.href;
      track(PAGE_VIEW, { ...describePage(document.referrer), ...metadata });
    },
  };
}

export type PageViews = ReturnType<typeof createPageViews>;
