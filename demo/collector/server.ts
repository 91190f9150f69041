/**
 * The collector's one public entry: startCollector() wires config, store, ingest, reports and
 * routes together and listens. Nothing runs at import.
 */
import { listen } from '../listen.js';
import { resolveConfig, DEFAULT_APP_ID, type CollectorOptions } from './config.js';
import { openStore, type CollectorStore } from './store.js';
import { createIngest } from './ingest.js';
import { createReports, type Reports } from './reports.js';
import { createApp } from './routes.js';

export { DEFAULT_APP_ID };
export type { CollectorOptions };

export interface RunningCollector {
  /** base URL, e.g. http://127.0.0.1:8787 (no trailing slash) */
  url: string;
  port: number;
  /** stops listening, ends open connections, closes the database */
  close(): Promise<void>;
  store: CollectorStore;
  reports: Reports;
}

export async function startCollector(options: CollectorOptions = {}): Promise<RunningCollector> {
  const config = resolveConfig(options);
  const store = openStore(config.db);
  const reports = createReports(store);
  const app = createApp({ config, ingest: createIngest(store), reports });
  let listening: Awaited<ReturnType<typeof listen>>;
  try {
    listening = await listen(app, { port: config.port, host: config.host, requestTimeoutMs: config.requestTimeoutMs });
  } catch (err) {
    store.close();
    throw err;
  }
  config.log(`collector listening on ${listening.url}`);
  let closing: Promise<void> | undefined;
  return {
    url: listening.url,
    port: listening.port,
    store,
    reports,
    close: () => (closing ??= listening.close().then(() => void store.close())),
  };
}
