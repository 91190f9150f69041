/**
 * `npm run collector`: the collector and its dashboard, alone.
 *   PORT              port to listen on (default 8787; 0 picks a free one)
 *   HOST              interface (default 127.0.0.1: the dashboard has no login, keep it local)
 *   USERTRAIL_DB      SQLite file (default .usertrail/collector.db)
 *   USERTRAIL_APP_ID  the application id the collector accepts (default DEFAULT_APP_ID in config.ts)
 *   USERTRAIL_READ_TOKEN     token the query API and dashboard require (required when HOST is beyond loopback)
 *   USERTRAIL_ALLOWED_HOSTS  comma-separated host names the query API and dashboard answer for, besides loopback
 */
import { pathToFileURL } from 'node:url';
import { startCollector, DEFAULT_APP_ID } from './server.js';
import { DEFAULT_DB_PATH, DEFAULT_PORT } from './config.js';

export function portFromEnv(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number, got "${value}"`);
  return port;
}

/** The read token and allowed hosts from the environment (npm run collector, npm start). */
export function accessFromEnv(env: NodeJS.ProcessEnv): { readToken?: string; allowedHosts: string[] } {
  const allowedHosts = (env.USERTRAIL_ALLOWED_HOSTS ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  return env.USERTRAIL_READ_TOKEN ? { readToken: env.USERTRAIL_READ_TOKEN, allowedHosts } : { allowedHosts };
}

async function main(): Promise<void> {
  const collector = await startCollector({
    port: portFromEnv(process.env.PORT, DEFAULT_PORT, 'PORT'),
    host: process.env.HOST || '127.0.0.1',
    db: process.env.USERTRAIL_DB || DEFAULT_DB_PATH,
    applicationId: process.env.USERTRAIL_APP_ID || DEFAULT_APP_ID,
    log: (line) => console.log(`[collector] ${line}`),
    ...accessFromEnv(process.env),
  });
  console.log(`Dashboard: ${collector.url}/`);
  console.log(`Collector: ${collector.url} (point the SDK's host option here)`);
  console.log(`Application id: ${process.env.USERTRAIL_APP_ID || DEFAULT_APP_ID}`);
  const stop = (): void => {
    collector.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** The message for a failed start: a busy port says which variable to set. */
function startError(err: unknown): string {
  const { code, port, message } = (err ?? {}) as { code?: string; port?: number; message?: string };
  return code === 'EADDRINUSE' ? `port in use (${port}); set PORT` : String(message ?? err);
}

// Only when run as a script, so that demo/start.ts can import portFromEnv and accessFromEnv.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(`collector failed to start: ${startError(err)}`);
    process.exit(1);
  });
}
