/**
 * Real servers on 127.0.0.1 for the middleware tests: a recording collector with fault injection
 * (status, Retry-After, delay, held answers, down) that decodes gzip bodies as Moesif's does, an
 * Express app with the middleware mounted, and for outgoing-call tests, capture by either SDK. No mocks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import { SignJWT } from 'jose';
import moesifNodejs from 'moesif-nodejs';
import { afterEach, beforeEach } from 'vitest';
import { DEFAULT_APP_ID } from '../../demo/collector/config.js';
import usertrail, { type MoesifOptions } from '../../src/server/index';
import { startRecorder as startSharedRecorder, type Answer, type Recorded } from '../support/recorder';

export type { Answer, Recorded };

export interface Recorder {
  url: string;
  port: number;
  /** The requests the collector accepted (2xx), in arrival order. */
  requests: Recorded[];
  /** Requests whose answer has not been sent yet, and the most there ever were at once. */
  concurrency: { now: number; most: number };
  /** Every event of every accepted /v1/events/batch request, in arrival order. */
  // any: assertions read arbitrary JSON fields of events; typing them would only restate the test.
  events(): Array<Record<string, any>>;
  /** How to answer the next requests (default 201). */
  answer: (req: Recorded) => Answer;
  waitFor<T>(probe: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  /** Rejects when a payload broke the wire contract. */
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

/**
 * A collector that records what it gets (the shared recorder, which checks every payload against the
 * wire contract); `port` lets a test bring it back where it was.
 */
export async function startRecorder(port = 0, { contract = true } = {}): Promise<Recorder> {
  const shared = await startSharedRecorder({ port, contract, answer: () => ({ status: 201 }) });
  return {
    url: shared.url,
    port: shared.port,
    get requests() {
      return shared.accepted();
    },
    events: () => shared.events(),
    concurrency: shared.concurrency,
    get answer() {
      return shared.answer;
    },
    set answer(answer) {
      shared.answer = answer;
    },
    waitFor,
    close: () => shared.close(),
  };
}

export interface RunningApp {
  url: string;
  close(): Promise<void>;
}

/**
 * The servers of each test in a file of middleware tests: a recording collector, started before each
 * test, and the app the test puts in `api`; both are closed after it.
 */
export function serversPerTest(): { readonly collector: Recorder; api: RunningApp | undefined } {
  let collector: Recorder | undefined;
  const servers = {
    get collector(): Recorder {
      if (!collector) throw new Error('the collector is started before each test, not before the file');
      return collector;
    },
    api: undefined as RunningApp | undefined,
  };
  beforeEach(async () => {
    collector = await startRecorder();
  });
  afterEach(async () => {
    await servers.api?.close();
    servers.api = undefined;
    await collector?.close();
    collector = undefined;
  });
  return servers;
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

/** The SDK that captures outgoing calls in a test: the real moesif-nodejs 3.11, or usertrail/server. */
export type Sdk = 'moesif-nodejs' | 'usertrail';
// any: events, options and hook arguments are read field by field as both SDKs send them.
export type Json = Record<string, any>;
export type CapturingMiddleware = Json & { startCaptureOutgoing(): unknown; flush?(): Promise<void>; _mo_patch?: () => void };

/**
 * For a file of outgoing-call tests: what a test starts (servers, collectors, capture) goes into
 * `cleanups`, undone after it, last first, so that each test begins with node:http and fetch as Node has them.
 */
export function outgoingCalls() {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function collectorFor(sdk: Sdk): Promise<Recorder> {
    const collector = await startRecorder(0, { contract: sdk === 'usertrail' });
    cleanups.push(() => collector.close());
    return collector;
  }

  /** A middleware of `sdk` logging to `collector`, capturing outgoing calls until the test ends. */
  function capture(sdk: Sdk, collector: Recorder, options: Json = {}): CapturingMiddleware {
    const base = { applicationId: DEFAULT_APP_ID, baseUri: collector.url, ...options };
    // moesif-nodejs refuses batchMaxTime of 500 or less; usertrail's batches leave at once here.
    const middleware = (sdk === 'usertrail' ? usertrail({ batchMaxTime: 10, ...base } as MoesifOptions) : moesifNodejs({ ...base, batchMaxTime: 501 } as never)) as unknown as CapturingMiddleware;
    const stop = middleware.startCaptureOutgoing();
    cleanups.push(() => (sdk === 'usertrail' ? (stop as () => void)() : middleware._mo_patch?.()));
    return middleware;
  }

  return { cleanups, collectorFor, capture };
}

/** Every event the collector got, once the middleware flushed and there are at least `count`. */
export async function eventsOf(collector: Recorder, middleware: CapturingMiddleware, count: number): Promise<Json[]> {
  await middleware.flush?.();
  return waitFor(() => collector.events().length >= count && collector.events(), 10_000);
}

/** What an app sees of a fetch Response, read to its end: to compare with capture and without. */
export async function seenOf(response: Response) {
  return { status: response.status, url: response.url, redirected: response.redirected, type: response.type, headers: [...response.headers], body: await response.text() };
}

/** A body the app streams: these parts, one per pull, then its end. */
export function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const left = [...parts];
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const part = left.shift();
      if (part === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(part));
    },
  });
}
