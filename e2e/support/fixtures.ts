import { test as base, type Page } from '@playwright/test';
import { startRecorder, type Recorder } from './recorder';

export { expect } from '@playwright/test';

/**
 * Playwright's `test` with a `collector`: a recording collector (./recorder.ts) of its own for each
 * test that asks for it, closed when the test ends. Closing rejects when a payload broke the wire
 * contract, which fails the test. Ask for it after `page` (`{ page, collector }`): fixtures are torn
 * down in the reverse order of set-up, so the collector closes while the page is still open.
 */
export const test = base.extend<{ collector: Recorder }>({
  // Playwright reads a fixture's dependencies from its first parameter, which must be a destructuring pattern.
  collector: async ({}, use) => {
    const collector = await startRecorder();
    await use(collector);
    await collector.close();
  },
});

/** A test's page and its collector, for helpers that drive the one and read the other. */
export type PageAndCollector = { page: Page; collector: Recorder };
