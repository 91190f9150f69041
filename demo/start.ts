/**
 * `npm start` (after `npm run build`; run by tsx): the collector with its dashboard, the demo API and the demo
 * web app, each on a port it prints, until SIGINT or SIGTERM.
 *
 *   PORT              collector and dashboard (default 8787; 0 picks a free port)
 *   DEMO_API_PORT     demo API (default 8788)
 *   DEMO_APP_PORT     demo web app (default 8789)
 *   HOST              interface for all three (default 127.0.0.1)
 *   USERTRAIL_DB      collector's SQLite file (default .usertrail/collector.db)
 *   USERTRAIL_APP_ID  application id (default usertrail-demo-app)
 *   DEMO_JWT_SECRET   the demo API's JWT secret (default: a random one per run, never printed)
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startCollector, DEFAULT_APP_ID } from './collector/server.js';
import { DEFAULT_DB_PATH, DEFAULT_PORT } from './collector/config.js';
import { accessFromEnv, portFromEnv } from './collector/main.js';
import { startDemoApp } from './app/server.js';

const env = process.env;
const host = env.HOST || '127.0.0.1';
const applicationId = env.USERTRAIL_APP_ID || DEFAULT_APP_ID;
const db = env.USERTRAIL_DB || DEFAULT_DB_PATH;

/** Stopped in reverse order of start. */
const running: Array<{ name: string; close(): Promise<void> }> = [];

async function main() {
  const collector = await startCollector({
    port: portFromEnv(env.PORT, DEFAULT_PORT, 'PORT'),
    host,
    db,
    applicationId,
    log: (line: string) => console.log(`[collector] ${line}`),
    ...accessFromEnv(env),
  });
  running.push({ name: 'collector', close: collector.close });

  let apiUrl: string | undefined;
  let apiLine: string;
  try {
    // Imported late: the API is optional here, and it needs dist/server.mjs from `npm run build`.
    const { startApi } = await import('./api/server.js');
    const api = await startApi({
      port: portFromEnv(env.DEMO_API_PORT, 8788, 'DEMO_API_PORT'),
      host,
      collectorUrl: collector.url,
      applicationId,
      jwtSecret: env.DEMO_JWT_SECRET || randomBytes(32).toString('hex'),
    });
    running.push({ name: 'API', close: api.close });
    apiUrl = api.url;
    apiLine = api.url;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw err;
    apiLine = `not started (${e.code === 'ERR_MODULE_NOT_FOUND' ? 'dist/server.mjs is missing; run npm run build' : e.message})`;
  }

  const app = await startDemoApp({
    port: portFromEnv(env.DEMO_APP_PORT, 8789, 'DEMO_APP_PORT'),
    host,
    collectorUrl: collector.url,
    apiUrl,
    applicationId,
  });
  running.push({ name: 'demo app', close: app.close });

  const sdkBuilt = existsSync(fileURLToPath(new URL('../dist/moesif.min.js', import.meta.url)));
  console.log(
    [
      '',
      'usertrail demo is running',
      `  Dashboard:      ${collector.url}/`,
      `  Collector:      ${collector.url} (the SDK's host option)`,
      `  Demo app:       ${app.url}/docs/`,
      `  Demo API:       ${apiLine}`,
      `  Application id: ${applicationId}`,
      `  Database:       ${db}`,
      ...(sdkBuilt ? [] : ['  Warning: dist/moesif.min.js is missing; run npm run build']),
      'Press Ctrl+C to stop.',
      '',
    ].join('\n'),
  );
}

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    // A second Ctrl+C: do not wait any longer.
    process.exit(1);
  }
  stopping = true;
  console.log(`\n${signal}: stopping`);
  // Reverse order: the app and the API stop first, so the API's last events reach the collector.
  for (const service of running.reverse()) {
    try {
      await service.close();
    } catch (err) {
      console.error(`could not stop the ${service.name} cleanly: ${(err as Error).message}`);
    }
  }
  console.log('stopped');
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

main().catch(async (err: NodeJS.ErrnoException & { port?: number }) => {
  console.error(`usertrail demo failed to start: ${err.code === 'EADDRINUSE' ? `port ${err.port} is in use; set PORT, DEMO_API_PORT or DEMO_APP_PORT` : err.message}`);
  for (const service of running.reverse()) await service.close().catch(() => {});
  process.exit(1);
});
