/**
 * The one recording collector of the test suites (unit, server and browser tests): a real HTTP server
 * on 127.0.0.1 that records every request, answers as a test asks (a status, Retry-After, a delay, a
 * refused connection), and checks every payload a usertrail SDK sends against the wire contract
 * (src/wire.ts, see ./contract.ts). A payload the contract does not allow makes close() reject, so
 * the test that caused it fails. Payloads from other SDKs (the real moesif-browser-js and
 * moesif-nodejs, in compatibility tests) are recorded unchecked: the contract binds usertrail only.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { APPLICATION_ID_HEADER, SDK_HEADER, type EventPayload, type Items, type Kind } from '../../src/wire';
import { contractProblems, endpointOf, itemsOf, type Sender } from './contract';

/** One request as the collector received it (CORS preflights are answered, not recorded). */
export interface Recorded {
  method: string;
  /** The path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The body as text, decoded first when it came with Content-Encoding: gzip. */
  raw: string;
  /** Bytes of the body as they came over the wire (compressed, when it was). */
  wireBytes: number;
  /** The parsed JSON body (an array for the /batch endpoints), else the text, or undefined when empty. */
  body: unknown;
  /** The status it was answered with. */
  status: number;
  /** When it arrived (ms since epoch). */
  at: number;
}

/** How to answer one request. */
export interface Answer {
  /** @default 200 */
  status?: number;
  headers?: Record<string, string>;
  /** Answer this much later: a slow collector. */
  delayMs?: number;
  /** Answer once this settles (a test releases it), so requests stay under way as long as it wants. */
  hold?: Promise<void>;
  /** Send the status and headers at once and the body this much later: an answer that arrives in two parts. */
  bodyDelayMs?: number;
}

export interface RecorderOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** How to answer each request; may be replaced later through `recorder.answer`. @default 200 */
  answer?: (request: Recorded) => Answer;
  /**
   * Requests outside /v1/ (a page, an app API for capture tests): return true when handled. Without
   * it, or when it returns false, they are recorded and answered like the collection API.
   */
  route?: (url: URL, req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
  /** Check usertrail's payloads against the wire contract. Off only for tests of a queue that sends synthetic items. @default true */
  contract?: boolean;
}

export interface Recorder {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** The same server under another host name (mapped to 127.0.0.1 by a browser's resolver rules). */
  at(host: string): string;
  /** Every request received, in arrival order, whatever it was answered. */
  requests: Recorded[];
  /** The requests answered 2xx, as a real collector would have stored them. */
  accepted(): Recorded[];
  /** Every item of a kind in the accepted requests (batch and single endpoints), in arrival order. */
  items<K extends Kind>(kind: K, applicationId?: string): Array<Items[K]>;
  events(): EventPayload[];
  /** Contract problems found so far, one line each (close() rejects when there are any). */
  problems: string[];
  /** How to answer the next requests. */
  answer: (request: Recorded) => Answer;
  /** Drop every request to /v1/* unanswered, as a collector that is down (other routes still work). */
  refuse(on: boolean): void;
  /** Requests to /v1/* dropped while refusing. */
  readonly refused: number;
  /** Requests to /v1/* received and not yet answered: now, and the most at once so far. */
  concurrency: { now: number; most: number };
  /** CORS preflights answered (OPTIONS requests), which `requests` does not record. */
  readonly preflights: number;
  close(): Promise<void>;
}

const SDK_HEADER_NAME = SDK_HEADER.toLowerCase();

/** The application id of a request: its header, or for a beacon (which has no headers) the query. */
export const applicationIdOf = (request: Recorded): string | undefined =>
  (request.headers[APPLICATION_ID_HEADER.toLowerCase()] as string | undefined) ?? request.query.get(APPLICATION_ID_HEADER) ?? undefined;
/** usertrail's browser SDK and usertrail/server name themselves so; their payloads must fit the contract. */
const isUsertrail = (headers: IncomingHttpHeaders): boolean => /^usertrail(-node)?\//.test(String(headers[SDK_HEADER_NAME] ?? ''));
const senderOf = (headers: IncomingHttpHeaders): Sender => (/^usertrail-node\//.test(String(headers[SDK_HEADER_NAME] ?? '')) ? 'server' : 'browser');

function parse(raw: string): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS',
  'Access-Control-Allow-Headers': '*',
  'Access-Control-Expose-Headers': 'Retry-After',
  'Access-Control-Max-Age': '600',
};

export async function startRecorder(options: RecorderOptions = {}): Promise<Recorder> {
  const requests: Recorded[] = [];
  const problems: string[] = [];
  const sockets = new Set<Socket>();
  let refusing = false;
  let refused = 0;
  let preflights = 0;
  const concurrency = { now: 0, most: 0 };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const collection = url.pathname.startsWith('/v1/');
    if (refusing && collection) {
      refused++;
      req.socket.destroy();
      return;
    }
    if (req.method === 'OPTIONS') {
      preflights++;
      res.writeHead(204, CORS).end();
      return;
    }
    if (!collection && options.route && (await options.route(url, req, res))) return;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const wire = Buffer.concat(chunks);
    const raw = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire).toString('utf8');
    const request: Recorded = {
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      raw,
      wireBytes: wire.length,
      body: parse(raw),
      status: 0,
      at: Date.now(),
    };
    // A beacon carries no headers: its SDK is known by the application id in the query only, so
    // beacons are checked when any usertrail request came before them from the same page (in practice: always).
    if (options.contract === false) {
      // Not checked: the test sends synthetic items on purpose.
    } else if (isUsertrail(req.headers) || (req.headers[SDK_HEADER_NAME] === undefined && request.query.has(APPLICATION_ID_HEADER))) {
      for (const problem of contractProblems(url.pathname, request.body, senderOf(req.headers))) problems.push(`${req.method} ${url.pathname}: ${problem}`);
    }
    const answer = recorder.answer(request);
    request.status = answer.status ?? 200;
    requests.push(request);
    concurrency.now += 1;
    concurrency.most = Math.max(concurrency.most, concurrency.now);
    const respond = () => {
      concurrency.now -= 1;
      res.writeHead(request.status, { 'Content-Type': 'application/json', ...CORS, ...answer.headers });
      if (!answer.bodyDelayMs) return void res.end('{}');
      res.flushHeaders();
      setTimeout(() => res.end('{}'), answer.bodyDelayMs);
    };
    // A slow collector, when a test asks for one (time is the scenario).
    const answerNow = () => (answer.delayMs ? setTimeout(respond, answer.delayMs) : respond());
    if (answer.hold) void answer.hold.then(answerNow);
    else answerNow();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const accepted = () => requests.filter((r) => r.status >= 200 && r.status < 300);
  const recorder: Recorder = {
    url: `http://127.0.0.1:${port}`,
    port,
    at: (host) => `http://${host}:${port}`,
    requests,
    accepted,
    items: <K extends Kind>(kind: K, applicationId?: string) =>
      accepted()
        .filter((r) => endpointOf(r.path)?.kind === kind && r.body !== undefined)
        .filter((r) => applicationId === undefined || applicationIdOf(r) === applicationId)
        .flatMap((r) => itemsOf<K>(r.body)),
    events: () => recorder.items('events'),
    problems,
    answer: options.answer ?? (() => ({ status: 200 })),
    refuse(on) {
      refusing = on;
    },
    get refused() {
      return refused;
    },
    concurrency,
    get preflights() {
      return preflights;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (problems.length) throw new Error(`payloads the wire contract (src/wire.ts) does not allow:\n${problems.join('\n')}`);
    },
  };
  return recorder;
}
