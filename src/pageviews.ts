import { patch } from './patch';
import type { Metadata } from './wire';

/** Moesif's documentation-site plugin sends this action name; we keep it so dashboards match. */
export const PAGE_VIEW = 'Page View';
const TITLE_SETTLE_MS = 50;

/**
 * What a page view records: the fields Moesif's plugin sends ({ pathname, title, host }) and the rest.
 * The address is read now; the title is read by the returned function, once the app has set it.
 */
const describePage = (referrer: string): (() => Metadata) => {
  const { pathname, host, search, hash } = location;
  return () => ({ pathname, title: document.title, host, search, hash, referrer });
};

/**
 * Page views on load and on every client-side navigation: pushState, replaceState when the path
 * changes, popstate, hashchange, and a restore from the back/forward cache.
 */
export function createPageViews(track: (name: string, metadata: Metadata) => void) {
  let undo: Array<() => void> = [];
  let lastUrl: string | undefined;
  /** A view waiting for its title; sent at once if the page closes first. */
  let pending: (() => void) | undefined;
  const sendPending = (): void => {
    const send = pending;
    pending = undefined;
    send?.();
  };

  /** Sends a view of the current URL, unless it is the one just sent (routers often announce twice). */
  const view = (force: boolean, referrer: string): void => {
    const url = location.href;
    if (!force && url === lastUrl) return;
    lastUrl = url;
    // Frameworks set document.title after the URL changes (in a later task, or an effect after paint),
    // so the view is recorded a moment later; nothing of the app waits for it.
    sendPending();
    const describe = describePage(referrer);
    pending = () => track(PAGE_VIEW, describe());
    setTimeout(sendPending, TITLE_SETTLE_MS);
  };

  const listen = (target: EventTarget, type: string, handler: (event: Event) => void, capture = false): void => {
    target.addEventListener(type, handler, capture);
    undo.push(() => target.removeEventListener(type, handler, capture));
  };

  // Made once and reused, so start/stop cycles never stack wrappers; off, they only pass calls through.
  const historyToggles = (['pushState', 'replaceState'] as const).map((name) =>
    patch(history as unknown as Record<string, unknown>, name, (original) => function (this: History, ...args: unknown[]) {
      const before = location.href;
      const beforePath = location.pathname;
      const result = original.apply(this, args);
      if (undo.length && (name === 'pushState' || location.pathname !== beforePath)) view(false, before);
      return result;
    }),
  );

  return {
    start(): void {
      if (undo.length) return;
      for (const toggle of historyToggles) {
        toggle(true);
        undo.push(() => toggle(false));
      }
      let previous = location.href;
      const onNavigate = (): void => {
        view(false, previous);
        previous = location.href;
      };
      listen(window, 'popstate', onNavigate);
      listen(window, 'hashchange', onNavigate);
      listen(window, 'pageshow', (event) => (event as PageTransitionEvent).persisted && view(true, document.referrer));
      // Capture phase: runs before delivery's own pagehide listener, so the view leaves with the final flush.
      listen(window, 'pagehide', sendPending, true);
      view(false, document.referrer);
    },
    stop(): void {
      for (const step of undo) step();
      undo = [];
    },
    /** For routers that announce navigations themselves, and sites that keep `trackPageViews` off. */
    trackPageView(metadata: Metadata | undefined): void {
      lastUrl = location.href;
      track(PAGE_VIEW, { ...describePage(document.referrer)(), ...metadata });
    },
  };
}

export type PageViews = ReturnType<typeof createPageViews>;
