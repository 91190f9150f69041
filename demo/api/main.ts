/**
 * Runs the demo API on its own: `npx tsx demo/api/main.ts` (after `npm run build`). Settings from the
 * environment: PORT (5000, as in the seed), HOST, COLLECTOR_URL (http://127.0.0.1:8787),
 * MOESIF_APPLICATION_ID (the demo collector's id), JWT_SECRET.
 */
import { startApi } from './server.js';
import { DEFAULT_APP_ID, DEFAULT_PORT } from '../collector/config.js';

const api = await startApi({
  port: Number(process.env.PORT ?? 5000),
  host: process.env.HOST ?? '127.0.0.1',
  collectorUrl: process.env.COLLECTOR_URL ?? `http://127.0.0.1:${DEFAULT_PORT}`,
  applicationId: process.env.MOESIF_APPLICATION_ID ?? DEFAULT_APP_ID,
  ...(process.env.JWT_SECRET ? { jwtSecret: process.env.JWT_SECRET } : {}),
});
console.log(`Example app listening at ${api.url}`);

// Graceful shutdown: stop taking requests, then flush the events still queued.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void api.close().then(() => process.exit(0));
  });
}
