import type { ConsoleMessage, Page } from '@playwright/test';

/**
 * What a page reports of itself from now until `stop()`: uncaught errors but those the app throws on
 * purpose (`appErrors`, by message), and console errors and warnings but the browser's own line for
 * each answer of 4xx or 5xx ("Failed to load resource"), which the apps under test get on purpose.
 */
export function problemsOf(page: Page, { appErrors = [] }: { appErrors?: string[] } = {}): { problems: string[]; stop(): void } {
  const problems: string[] = [];
  const onError = (error: Error) => {
    if (!appErrors.includes(error.message)) problems.push(`uncaught: ${error.message}`);
  };
  const onConsole = (message: ConsoleMessage) => {
    if (/error|warning/.test(message.type()) && !message.text().startsWith('Failed to load resource')) problems.push(`${message.type()}: ${message.text()}`);
  };
  page.on('pageerror', onError);
  page.on('console', onConsole);
  return {
    problems,
    stop: () => {
      page.off('pageerror', onError);
      page.off('console', onConsole);
    },
  };
}
