/**
 * Real servers on 127.0.0.1 for the middleware tests: a recording collector with fault injection
 * (status, Retry-After, delay, down) and an Express app with the middleware mounted. No mocks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { SignJWT } from 'jose';

export interface Recorded {
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface Recorder {
  url: string;
  port: number;
  requests: Recorded[];
  /** Every event of every accepted /v1/events/batch request, in arrival order. */
  // any: assertions read arbitrary JSON fields of events; typing them would only restate the test.
  events(): Array<Record<string, any>>;
  /** How to answer the next requests (default 201). */
  answer: (req: Recorded) => Answer;
  waitFor<T>(probe: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function waitFor<T>(probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 10)); // the polling interval, not a wait for time to pass
  }
}

/** A collector that records what it gets; `port` lets a test bring it back where it was. */
export async function startRecorder(port = 0): Promise<Recorder> {
  const requests: Recorded[] = [];
  const recorder: Recorder = {
    url: '',
    port: 0,
    requests,
    events: () =>
      requests
        .filter((r) => r.path === '/v1/events/batch' && Array.isArray(r.body))
        .flatMap((r) => r.body as Array<Record<string, unknown>>),
    answer: () => ({ status: 201 }),
    waitFor,
    close: () => Promise.resolve(),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // keep text
      }
      const entry: Recorded = { path: req.url ?? '', headers: req.headers, body };
      const answer = recorder.answer(entry);
      const status = answer.status ?? 201;
      // Only accepted requests count as received, as a real collector would store only those.
      if (status >= 200 && status < 300) requests.push(entry);
      // A slow collector, when a test asks for one (time is the scenario).
      setTimeout(() => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...answer.headers });
        res.end('{}');
      }, answer.delayMs ?? 0);
    });
  });
  const actualPort = await listen(server, port);
  recorder.port = actualPort;
  recorder.url = `http://127.0.0.1:${actualPort}`;
  recorder.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return recorder;
}

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

/** An Express app on 127.0.0.1:0 built by `setup`. */
export async function startApp(setup: (app: Express) => void): Promise<RunningApp> {
  const app = express();
  setup(app);
  return startNodeServer(app);
}

export const JWT_SECRET = 'shhhhhhared-secret';

export async function signToken(claims: Record<string, unknown>, secret = JWT_SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(secret));
}

/** A port nothing listens on: bind one, then free it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  return port;
}

/** A plain node:http server (no Express) on 127.0.0.1:0 with `handler` as its request listener. */
export async function startNodeServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<RunningApp> {
  const server = createServer(handler);
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
