import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { expect, type Page } from '@playwright/test';
import type { CapturedEvent } from '../../src/wire';
import { startRecorder as startSharedRecorder, type Answer, type Recorded } from '../../test/support/recorder';

/** One request to /v1/* the collector received (with the status it was answered). */
export type Received = Recorded;

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
 * The collector for browser tests: the shared recording collector (test/support/recorder.ts, which
 * checks every usertrail payload against the wire contract) for /v1/*, which can be told to fail or to
 * refuse connections; and on the same server the built SDK (/dist), node_modules (for the ESM build's
 * imports), pages given by the test and a small app API to capture.
 */
export async function startRecorder() {
  const pages = new Map<string, { html: string; cacheable: boolean; contentType: string }>();
  let failure: Failure | undefined;
  /** See `bodiesLate`. */
  let bodyDelayMs: number | undefined;

  /** Requests to the app's own API (/api/*), as the server received them. */
  const api: Array<{ path: string; search: string; method: string; headers: IncomingMessage['headers']; body: string }> = [];

  /**
   * A small API for the page under test to call, so that capture tests have something to capture:
   * /api/echo (answers with its method, body and whether credentials came, plus `X-Echo` and `Set-Cookie` headers; ?status=NNN),
   * /api/text, /api/bin (bytes 0-255), /api/big (5 MB of text), /api/sse (30 server-sent events,
   * 100 ms apart), /api/slow (answers after 3 s), /api/close (closes the connection unanswered),
   * /api/broken (closes it after the headers and part of the body), and /api/1/envelope/, where a
   * Sentry SDK whose DSN is `http://publickey@127.0.0.1:PORT/1` posts its envelopes (answers 200 `{}`).
   */
  const appApi = async (url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    api.push({ path: url.pathname, search: url.search, method: req.method ?? '', headers: req.headers, body });
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
        // A slow API (time is the scenario).
        setTimeout(() => res.writeHead(200, type('text/plain')).end('late'), 3000);
        return;
      case '/api/close':
        req.socket.destroy();
        return;
      case '/api/broken':
        res.writeHead(200, type('text/plain')).write('part of a body', () => req.socket.destroy());
        return;
      case '/api/1/envelope/':
        res.writeHead(200, type('application/json')).end('{}');
        return;
      default:
        res.writeHead(404, type('text/plain')).end('no such api');
    }
  };

  /** Pages, the app API and static files; everything outside /v1/ is answered here. */
  const route = async (url: URL, req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (url.pathname.startsWith('/api/')) {
      await appApi(url, req, res);
      return true;
    }
    const page = pages.get(url.pathname);
    if (page !== undefined) {
      res.writeHead(200, { 'Content-Type': page.contentType, 'Cache-Control': page.cacheable ? 'no-cache' : 'no-store' }).end(page.html);
      return true;
    }
    if (url.pathname.startsWith('/dist/') || url.pathname.startsWith('/node_modules/')) {
      const file = normalize(join(ROOT, url.pathname));
      if (file.startsWith(ROOT)) {
        try {
          const content = await readFile(file);
          res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(content);
          return true;
        } catch {
          /* fall through to 404 */
        }
      }
    }
    res.writeHead(404).end('not found');
    return true;
  };

  /** The answer to a request to /v1/*: as told by failWith(), else 200. */
  const answer = (request: Recorded): Answer => {
    let itemCount = 1;
    if (Array.isArray(request.body)) itemCount = request.body.length;
    const active =
      failure &&
      (failure.until === undefined || Date.now() < failure.until) &&
      (!failure.pathIncludes || request.path.includes(failure.pathIncludes)) &&
      (failure.itemsOver === undefined || itemCount > failure.itemsOver)
        ? failure
        : undefined;
    if (!active) return { status: 200, bodyDelayMs };
    if (active.times !== undefined && --active.times <= 0) failure = undefined;
    return { status: active.status, ...(active.retryAfter ? { headers: { 'Retry-After': active.retryAfter } } : {}) };
  };

  const shared = await startSharedRecorder({ route, answer });
  const { port } = shared;

  /** Every item received on /v1/<kind>/batch (and the single endpoints) and accepted, in arrival order. */
  const items = shared.items;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** The same server under another host name (mapped to 127.0.0.1 by the browser's resolver rules). */
    at: shared.at,
    /** Every request to /v1/*, in arrival order, with the status it was answered. */
    received: shared.requests,
    items,
    api,
    /**
     * Serves `html` at `path`, never from the HTTP cache. `cacheable` leaves out no-store, which keeps a
     * page that sets cookies out of Chromium's back/forward cache. `contentType` serves something else
     * than a page (a service worker's script).
     */
    page(path: string, html: string, { cacheable = false, contentType = 'text/html; charset=utf-8' } = {}): void {
      pages.set(path, { html, cacheable, contentType });
    },
    failWith(next: Failure | undefined): void {
      failure = next;
    },
    /** Answers 200 with the status and headers at once and the body `ms` later (undefined: at once). */
    bodiesLate(ms: number | undefined): void {
      bodyDelayMs = ms;
    },
    /** Drop every request to /v1/*, as a collector that is down (pages are still served). */
    refuse(on: boolean): void {
      shared.refuse(on);
    },
    /** How many requests to /v1/* were dropped while refusing. */
    get refused(): number {
      return shared.refused;
    },
    /** CORS preflights answered: a page on another host name asked before it sent. */
    get preflights(): number {
      return shared.preflights;
    },
    /**
     * Resolves once the SDK in `page` (the global `name`) has nothing left in its outbox and every
     * request it made has reached this collector (answered or refused): from then on nothing more
     * arrives unless the page does something. Immediately when the SDK never started delivery.
     */
    async settled(page: Page, name = 'moesif'): Promise<void> {
      const state = () =>
        page.evaluate((global) => {
          const sdk = (window as unknown as Record<string, { getStats?(): { inOutbox?: number; requests?: number } | undefined } | undefined>)[global];
          const stats = sdk?.getStats?.();
          return stats ? { inOutbox: stats.inOutbox ?? 0, requests: stats.requests ?? 0 } : { inOutbox: 0, requests: 0 };
        }, name);
      await expect
        .poll(async () => {
          const { inOutbox, requests } = await state();
          return inOutbox === 0 && shared.requests.length + shared.refused >= requests;
        }, { message: 'the SDK settled: an empty outbox and every request it made received' })
        .toBe(true);
    },
    /** Rejects when a payload broke the wire contract. */
    close: () => shared.close(),
  };
}

export type Recorder = Awaited<ReturnType<typeof startRecorder>>;

/** A page that loads the UMD build and runs `script` after it. */
export const umdPage = (script: string, head = ''): string =>
  `<!doctype html><html><head><title>test page</title>${head}<script src="/dist/moesif.min.js"></script></head><body><script>${script}</script></body></html>`;

/** The API calls the collector received, as the browser SDK's wire format describes them (src/wire.ts). */
export const capturedEvents = (collector: Recorder): CapturedEvent[] => collector.items('events') as unknown as CapturedEvent[];
