import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { Items, Kind } from '../../src/wire.js';

/** One request the collector received. */
export interface Received {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body (an array for /batch endpoints). */
  body: unknown;
  at: number;
}

/** How the collector should answer the next requests. */
export interface Failure {
  status: number;
  retryAfter?: string;
  /** Answer this way until this time (ms since epoch); forever when absent. */
  until?: number;
  /** Only for paths that include this string. */
  pathIncludes?: string;
  /** Only for batches of more than this many items (a body size limit, for 413). */
  itemsOver?: number;
  /** Only this many times, then answer normally. */
  times?: number;
}

const ROOT = normalize(join(import.meta.dirname, '..', '..'));
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html', '.map': 'application/json', '.json': 'application/json' };

/**
 * A real HTTP server on 127.0.0.1 that plays the collector for browser tests: it records every
 * request to /v1/*, can be told to fail, to refuse connections, or to answer slowly; and it serves
 * the built SDK (/dist), node_modules (for the ESM build's imports) and pages given by the test.
 */
export async function startRecorder() {
  const received: Received[] = [];
  const pages = new Map<string, string>();
  let failure: Failure | undefined;
  let refusing = false;
  /** Requests to /v1/* dropped while refusing. */
  let refused = 0;
  const sockets = new Set<Socket>();

  const cors = (res: ServerResponse): void => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Moesif-Application-Id, X-Moesif-SDK');
    res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
    res.setHeader('Access-Control-Max-Age', '600');
  };

  /** Requests to the app's own API (/api/*), as the server received them. */
  const api: Array<{ path: string; method: string; headers: IncomingMessage['headers']; body: string }> = [];

  /**
   * A small API for the page under test to call, so that capture tests have something to capture:
   * /api/echo (answers with its method, body and whether credentials came, plus `X-Echo` and `Set-Cookie` headers; ?status=NNN),
   * /api/text, /api/bin (bytes 0-255), /api/big (5 MB of text), /api/sse (30 server-sent events,
   * 100 ms apart), /api/slow (answers after 3 s), /api/close (closes the connection unanswered).
   */
  const appApi = async (url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    api.push({ path: url.pathname, method: req.method ?? '', headers: req.headers, body });
    const type = (value: string) => ({ 'Content-Type': value, 'Cache-Control': 'no-store' });
    switch (url.pathname) {
      case '/api/echo':
        res.writeHead(Number(url.searchParams.get('status') ?? 200), { ...type('application/json'), 'X-Echo': 'yes', 'Set-Cookie': 'sid=secret; Path=/' });
        // Whether credentials arrived, not their values: those must not show up in a captured body.
        res.end(JSON.stringify({ method: req.method, body, authorization: 'authorization' in req.headers, apiKey: 'x-api-key' in req.headers }));
        return;
      case '/api/text':
        res.writeHead(200, type('text/plain; charset=utf-8')).end('hello, text');
        return;
      case '/api/bin':
        res.writeHead(200, type('application/octet-stream')).end(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
        return;
      case '/api/big':
        res.writeHead(200, type('text/plain')).end('0123456789'.repeat(500_000));
        return;
      case '/api/sse': {
        res.writeHead(200, type('text/event-stream'));
        let n = 0;
        const timer = setInterval(() => {
          n++;
          res.write(`data: ${n}\n\n`);
          if (n === 30) {
            clearInterval(timer);
            res.end();
          }
        }, 100);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case '/api/slow':
        setTimeout(() => res.writeHead(200, type('text/plain')).end('late'), 3000);
        return;
      case '/api/close':
        req.socket.destroy();
        return;
      default:
        res.writeHead(404, type('text/plain')).end('no such api');
    }
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (refusing && url.pathname.startsWith('/v1/')) {
      refused++;
      req.socket.destroy();
      return;
    }
    cors(res);
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    if (url.pathname.startsWith('/v1/')) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks).toString('utf8');
      const itemCount = (() => {
        try {
          const parsed: unknown = JSON.parse(raw);
          return Array.isArray(parsed) ? parsed.length : 1;
        } catch {
          return 1;
        }
      })();
      const active =
        failure &&
        (failure.until === undefined || Date.now() < failure.until) &&
        (!failure.pathIncludes || url.pathname.includes(failure.pathIncludes)) &&
        (failure.itemsOver === undefined || itemCount > failure.itemsOver)
          ? failure
          : undefined;
      if (active) {
        if (active.times !== undefined && --active.times <= 0) failure = undefined;
        const { status, retryAfter } = active;
        res.writeHead(status, { 'Content-Type': 'application/json', ...(retryAfter ? { 'Retry-After': retryAfter } : {}) });
        res.end(JSON.stringify({ error: 'told to fail' }));
        received.push({ path: url.pathname, query: url.searchParams, headers: req.headers, body: undefined, at: Date.now() });
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"error":"malformed JSON"}');
        return;
      }
      received.push({ path: url.pathname, query: url.searchParams, headers: req.headers, body, at: Date.now() });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      await appApi(url, req, res);
      return;
    }
    const page = pages.get(url.pathname);
    if (page !== undefined) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(page);
      return;
    }
    if (url.pathname.startsWith('/dist/') || url.pathname.startsWith('/node_modules/')) {
      const file = normalize(join(ROOT, url.pathname));
      if (file.startsWith(ROOT)) {
        try {
          const content = await readFile(file);
          res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(content);
          return;
        } catch {
          /* fall through to 404 */
        }
      }
    }
    res.writeHead(404).end('not found');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  /** Every item received on /v1/<kind>/batch (and the single endpoints), in arrival order. */
  const items = <K extends Kind>(kind: K): Array<Items[K]> =>
    received
      .filter((r) => r.body !== undefined && (r.path === `/v1/${kind}` || r.path === `/v1/${kind}/batch`))
      .flatMap((r) => (Array.isArray(r.body) ? r.body : [r.body]) as Array<Items[K]>);

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** The same server under another host name (mapped to 127.0.0.1 by the browser's resolver rules). */
    at: (host: string) => `http://${host}:${port}`,
    received,
    items,
    api,
    page(path: string, html: string): void {
      pages.set(path, html);
    },
    failWith(next: Failure | undefined): void {
      failure = next;
    },
    /** Drop every request to /v1/*, as a collector that is down (pages are still served). */
    refuse(on: boolean): void {
      refusing = on;
    },
    /** How many requests to /v1/* were dropped while refusing. */
    get refused(): number {
      return refused;
    },
    async close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Recorder = Awaited<ReturnType<typeof startRecorder>>;

/** A page that loads the UMD build and runs `script` after it. */
export const umdPage = (script: string, head = ''): string =>
  `<!doctype html><html><head><title>test page</title>${head}<script src="/dist/moesif.min.js"></script></head><body><script>${script}</script></body></html>`;
