import { defineConfig } from '@playwright/test';
import { chromiumLaunchOptions } from './e2e/support/browser';

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  // Two cores on these machines: two workers keep both busy without starving the servers under test.
  workers: 2,
  fullyParallel: true,
  retries: 0,
  timeout: 60_000,
  // On CI also every test's duration, in test-results/durations.json, to see where the run's time goes.
  reporter: process.env.CI ? [['line'], ['json', { outputFile: 'test-results/durations.json' }]] : 'list',
  use: { launchOptions: chromiumLaunchOptions, browserName: 'chromium' },
});
