/**
 * Starts an HTTP server for a request handler on `host:port` (port 0: any free port) and gives back
 * its address and an idempotent close(): the one way the collector, the demo API and the demo app
 * listen, so they report addresses and shut down alike.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  /** e.g. http://127.0.0.1:8787 (no trailing slash) */
  url: string;
  port: number;
  /** Stops listening and ends open connections; the same promise however often it is called. */
  close(): Promise<void>;
}

export async function listen(handler: http.RequestListener, { port, host }: { port: number; host: string }): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(host)}:${address.port}`,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Pages poll over keep-alive connections; end them or close() would wait for them.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** How to write the listening host in a URL: wildcard addresses are reached through loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
