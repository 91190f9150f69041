/**
 * HTTP: the Moesif ingest API under /v1 (http/ingest-api.ts), the query API under /api
 * (http/query-api.ts) and the dashboard at / (http/dashboard.ts), the latter two behind the Host
 * and read-token checks (http/read-access.ts). Checking is validate.ts's job, keeping is
 * ingest.ts's, reading is reports.ts's; these modules only map requests to them and answer. Every
 * error is JSON `{ error }` (http/errors.ts), and no client input can cause a 500.
 */
import express from 'express';
import type { CollectorConfig } from './config.js';
import { createErrorHandler, notFound } from './http/errors.js';
import { mountDashboard } from './http/dashboard.js';
import { mountIngestApi } from './http/ingest-api.js';
import { mountQueryApi } from './http/query-api.js';
import { createReadGuard } from './http/read-access.js';
import type { Ingest } from './ingest.js';
import type { Reports } from './reports.js';

const isIngestPath = (path: string): boolean => path === '/v1' || path.startsWith('/v1/');

export function createApp({ config, ingest, reports }: { config: CollectorConfig; ingest: Ingest; reports: Reports }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  // In this order: ingest never needs the read token; everything else is checked first.
  mountIngestApi(app, { config, ingest });
  const guardReads = createReadGuard({ config });
  app.use((req, res, next) => (isIngestPath(req.path) ? next() : guardReads(req, res, next)));
  mountQueryApi(app, { config, reports });
  app.use(['/api', '/v1'], notFound);
  mountDashboard(app);
  app.use(notFound);
  app.use(createErrorHandler({ config }));
  return app;
}
