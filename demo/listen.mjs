// @ts-check
/**
 * Starts an HTTP server for a request handler on `host:port` (port 0: any free port) and gives back
 * its address and an idempotent close(): the one way the collector, the demo API and the demo app
 * listen, so they report addresses and shut down alike.
 */
import http from 'node:http';

/**
 * @param {http.RequestListener} handler
 * @param {{ port: number, host: string }} where
 * @returns {Promise<{ url: string, port: number, close(): Promise<void> }>}
 */
export async function listen(handler, { port, host }) {
  const server = http.createServer(handler);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url: `http://${urlHost(host)}:${address.port}`,
    port: address.port,
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        // Pages poll over keep-alive connections; end them or close() would wait for them.
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
