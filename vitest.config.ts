import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'jsdom',
    // An http address under example.test, so that domain cookies can be set and read in jsdom.
    environmentOptions: { jsdom: { url: 'http://app.example.test/' } },
    testTimeout: 20_000,
  },
});
