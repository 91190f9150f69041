/**
 * Facts about where the SDK runs, read when needed rather than at import (SSR imports the module too).
 * A document is what a page has and Node, Deno and workers lack.
 */
export const inBrowser = (): boolean => typeof document != 'undefined';

/**
 * The address of the site this document belongs to: its own, or for an about:blank or srcdoc frame
 * (whose address is `about:...`) that of the page which made it, which its origin names. Its cookies
 * are that site's, and that page is no referrer. A sandboxed frame has no origin: its own address.
 */
export const siteAddress = (): URL => new URL(location.protocol == 'about:' && origin != 'null' ? origin : location.href);
