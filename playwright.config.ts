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
  reporter: process.env.CI ? 'line' : 'list',
  use: { launchOptions: chromiumLaunchOptions, browserName: 'chromium' },
});
