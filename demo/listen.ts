/**
 * Starts an HTTP server for a request handler on `host:port` (port 0: any free port) and gives back
 * its address and an idempotent close(): the one way the collector, the demo API and the demo app
 * listen, so they report addresses and shut down alike.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Listening {
  /** e.g. http://127.0.0.1:8787 (no trailing slash) */
  url: string;
  port: number;
  /** Stops listening and ends open connections; the same promise however often it is called. */
  close(): Promise<void>;
}

export interface ListenOptions {
  port: number;
  host: string;
  /** How long a request may take to arrive, headers and body, before it gets 408. (default Node's: 5 min) */
  requestTimeoutMs?: number;
}

/** Node's own answers to a client that breaks HTTP have no body; these say what went wrong, in JSON as every other error. */
const CLIENT_ERRORS: Record<string, { status: number; error: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, error: 'the request took too long to arrive; send the whole body at once' },
  HPE_HEADER_OVERFLOW: { status: 431, error: 'request headers are too large' },
};
const NOT_HTTP = { status: 400, error: 'not a valid HTTP request' };

/**
 * Answers a client error (a request timed out, or bytes that are not HTTP) in JSON and closes the
 * connection. As Node's default handler does, nothing is written once a response has begun.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // Node's own handler checks the same field; it has no public name.
  const response = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent) return void socket.destroy();
  const { status, error } = CLIENT_ERRORS[err.code ?? ''] ?? NOT_HTTP;
  const body = JSON.stringify({ error });
  const head = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`, 'Content-Type: application/json; charset=utf-8', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}

export async function listen(handler: http.RequestListener, { port, host, requestTimeoutMs }: ListenOptions): Promise<Listening> {
  const server = http.createServer(timeouts(requestTimeoutMs), handler);
  server.on('clientError', answerClientError);
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

/**
 * Node's request timeouts for `requestTimeoutMs`: the headers must arrive within it too, and the
 * check runs often enough to notice (Node looks every 30 s by default).
 */
function timeouts(requestTimeoutMs: number | undefined): http.ServerOptions {
  if (requestTimeoutMs === undefined) return {};
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: Math.min(60_000, requestTimeoutMs),
    connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(requestTimeoutMs / 4))),
  };
}
