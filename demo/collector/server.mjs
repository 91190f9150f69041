// @ts-check
/**
 * The collector's one public entry: startCollector() wires config, store, ingest, reports and
 * routes together and listens. Nothing runs at import.
 */
import { listen } from '../listen.mjs';
import { resolveConfig, DEFAULT_APP_ID } from './config.mjs';
import { openStore } from './store.mjs';
import { createIngest } from './ingest.mjs';
import { createReports } from './reports.mjs';
import { createApp } from './routes.mjs';

export { DEFAULT_APP_ID };

/**
 * @typedef {object} RunningCollector
 * @property {string} url base URL, e.g. http://127.0.0.1:8787 (no trailing slash)
 * @property {number} port
 * @property {() => Promise<void>} close stops listening, ends open connections, closes the database
 * @property {import('./store.mjs').Store} store
 * @property {ReturnType<typeof createReports>} reports
 */

/**
 * @param {import('./config.mjs').CollectorOptions} [options]
 * @returns {Promise<RunningCollector>}
 */
export async function startCollector(options = {}) {
  const config = resolveConfig(options);
  const store = openStore(config.db);
  const reports = createReports(store);
  const app = createApp(config, { ingest: createIngest(store), reports });
  /** @type {Awaited<ReturnType<typeof listen>>} */
  let listening;
  try {
    listening = await listen(app, { port: config.port, host: config.host });
  } catch (err) {
    store.close();
    throw err;
  }
  config.log(`collector listening on ${listening.url}`);
  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url: listening.url,
    port: listening.port,
    store,
    reports,
    close: () => (closing ??= listening.close().then(() => void store.close())),
  };
}
