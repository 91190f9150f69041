import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the test collector received it. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (an array for the /batch endpoints). */
  body: unknown;
  raw: string;
}

export interface Collector {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  requests: Received[];
  /** Items (array elements) received for one application id on one path, in arrival order. */
  items(applicationId: string, path: string): Record<string, unknown>[];
  /** Requests received for one application id. */
  from(applicationId: string): Received[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1, port 0, recording every request, as a Moesif-compatible collector
 * would see it. It answers 200 to everything (and to CORS preflights, should a client send them).
 */
export async function startCollector(): Promise<Collector> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (data: Buffer) => chunks.push(data));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      if (req.method !== 'OPTIONS') requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, raw });
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Access-Control-Allow-Origin': '*',
        'Access-Control-Allow-Headers': '*',
      });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const from = (applicationId: string) => requests.filter((r) => r.headers['x-moesif-application-id'] === applicationId);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    from,
    items: (applicationId, path) =>
      from(applicationId)
        .filter((r) => r.path === path)
        .flatMap((r) => (Array.isArray(r.body) ? (r.body as Record<string, unknown>[]) : [r.body as Record<string, unknown>])),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
