import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'jsdom',
    // An http address under example.test, so that domain cookies can be set and read in jsdom.
    environmentOptions: { jsdom: { url: 'http://app.example.test/' } },
    testTimeout: 20_000,
    // One test file per core. Vitest's default is one less (one worker on these 2-core machines), which
    // left a core idle while files wait on servers, browsers and timers: 250 s -> about 150 s here.
    maxWorkers: '100%',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'] } },
      {
        // The middleware's Express tests again on Express 4 (the devDependency express-4), which the seed's
        // era and moesif-nodejs's README install and most apps that would swap moesif-nodejs still run.
        extends: true,
        test: {
          name: 'express-4',
          include: ['test/server/{middleware,app-values,compat-docs,express-version}.test.ts'],
          env: { EXPRESS_MAJOR: '4' },
        },
        resolve: { alias: { express: 'express-4' } },
      },
    ],
  },
});
