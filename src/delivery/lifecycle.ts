import { listen } from '../listeners.js';

/** What the delivery engine does at each moment of the page's life. */
export interface PageLifecycle {
  /** The browser is back online. */
  online(): void;
  /** The page is gone: closed, navigated away from, or put into the back/forward cache. */
  pagehide(): void;
  /** The page is back from the back/forward cache. */
  restored(): void;
  /** The page is hidden (another tab, a minimized window): it may never be seen again. */
  hidden(): void;
  /** The page is visible again. */
  visible(): void;
}

/** Listens to the page's lifecycle events until the function it gives back is called. */
export function listenToPage(handlers: PageLifecycle): () => void {
  const { online, pagehide } = handlers;
  const pageshow = (event: PageTransitionEvent): void => {
    // A pageshow that is not a restore is the first load, which needs nothing.
    if (event.persisted) handlers.restored();
  };
  const visibilitychange = (): void => {
    if (document.hidden) handlers.hidden();
    else handlers.visible();
  };
  const stopWindow = listen(window, { online, pagehide, pageshow });
  const stopDocument = listen(document, { visibilitychange });
  return () => {
    stopWindow();
    stopDocument();
  };
}
