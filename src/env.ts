/**
 * Facts about where the SDK runs, read when needed rather than at import (SSR imports the module too).
 * A document is what a page has and Node, Deno and workers lack.
 */
export const inBrowser = (): boolean => typeof document != 'undefined';
