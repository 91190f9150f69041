/**
 * Facts about where the SDK runs, read when needed rather than at import (SSR imports the module too).
 * A document is what a page has and Node, Deno and workers lack.
 */
export const inBrowser = (): boolean => typeof document != 'undefined';

/**
 * The address whose cookies this document uses: its own, or for an about:blank or srcdoc frame (whose
 * address is `about:...`) that of the page which made it, which its origin names. Throws in a frame of
 * no origin (a sandbox), which has no cookies either.
 */
export const siteAddress = (): URL => new URL(location.protocol == 'about:' ? origin : location.href);
