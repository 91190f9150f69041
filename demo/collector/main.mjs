#!/usr/bin/env node
// @ts-check
/**
 * `npm run collector`: the collector and its dashboard, alone.
 *   PORT              port to listen on (default 8787; 0 picks a free one)
 *   HOST              interface (default 127.0.0.1: the dashboard has no login, keep it local)
 *   USERTRAIL_DB      SQLite file (default .usertrail/collector.db)
 *   USERTRAIL_APP_ID  the application id the collector accepts (default usertrail-demo-app)
 */
import { startCollector, DEFAULT_APP_ID } from './server.mjs';
import { pathToFileURL } from 'node:url';
import { DEFAULT_DB_PATH, DEFAULT_PORT } from './config.mjs';

/** @param {string | undefined} value @param {number} fallback @param {string} name */
export function portFromEnv(value, fallback, name) {
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number, got "${value}"`);
  return port;
}

async function main() {
  const collector = await startCollector({
    port: portFromEnv(process.env.PORT, DEFAULT_PORT, 'PORT'),
    host: process.env.HOST || '127.0.0.1',
    db: process.env.USERTRAIL_DB || DEFAULT_DB_PATH,
    applicationId: process.env.USERTRAIL_APP_ID || DEFAULT_APP_ID,
    log: (line) => console.log(`[collector] ${line}`),
  });
  console.log(`Dashboard: ${collector.url}/`);
  console.log(`Collector: ${collector.url} (point the SDK's host option here)`);
  console.log(`Application id: ${process.env.USERTRAIL_APP_ID || DEFAULT_APP_ID}`);
  const stop = () => {
    collector.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

// Only when run as a script, so that portFromEnv can be imported by demo/start.mjs.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`collector failed to start: ${err.code === 'EADDRINUSE' ? `port in use (${err.port}); set PORT` : err.message}`);
    process.exit(1);
  });
}
