/**
 * What the test pages put on `window`, as the functions passed to page.evaluate() see it: the SDK's
 * global (usertrail's, or moesif-browser-js's in compatibility tests, which has the same methods) and
 * the helpers a spec's page script defines.
 */
import type { Moesif } from '../../src/moesif';

declare global {
  interface Window {
    moesif: Moesif;
    /** pageviews.spec: the tiny router's navigation. */
    go(path: string, title: string): void;
    /** delivery.spec: one track() call. */
    tick(): void;
    /** pageviews.spec: the router's own pushState wrapper, and how often it ran. */
    routerCalls: number;
    routerWrapper: unknown;
    /** compat-moesif.spec, compat-api.spec: what the page script found, and the callback's calls. */
    first: unknown;
    result: unknown;
    calls: string[];
    /** journey.spec: tells the test the page identified its user. */
    journeyIdentified(): void;
  }
}
