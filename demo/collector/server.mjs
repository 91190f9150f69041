// @ts-check
/**
 * The collector's one public entry: startCollector() wires config, store, ingest, reports and
 * routes together and listens. Nothing runs at import.
 */
import http from 'node:http';
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
  const server = http.createServer(app);
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve(undefined);
      });
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const url = `http://${urlHost(config.host)}:${address.port}`;
  config.log(`collector listening on ${url}`);

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url,
    port: address.port,
    store,
    reports,
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => {
          store.close();
          resolve();
        });
        // The dashboard polls over keep-alive connections; end them or close() would wait for them.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** How to write the listening host in a URL: wildcard addresses are reached through loopback. */
function urlHost(/** @type {string} */ host) {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
