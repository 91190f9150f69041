// @ts-check
/**
 * Two plain HTTP servers on 127.0.0.1 for the benchmark:
 * - the site: serves the two SDK files, the pages each workload registers, and /api/ping (the
 *   page's own API, for the fetch-capture workload);
 * - the collector, on another port (so another origin, as api.moesif.net is for a real site):
 *   counts every request under /r/<run>/v1/..., so each page run is counted apart and a late
 *   request from an earlier run never lands in a later one's numbers.
 * The site also answers /r/<run>/v1/... the same way, for the same-origin variant of a workload.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';

/**
 * What the collector received for one run. `ids` counts items by transaction_id (actions and
 * events carry one; moesif's users update on init does not); `repeats` counts arrivals beyond the first.
 * @typedef {{ posts: number, preflights: number, bodyBytes: number, wireBytes: number, items: number,
 *   ids: Map<string, number>, repeats: number, kinds: Record<string, number>, last: number }} RunCount
 */

/** @param {http.Server} server @returns {Promise<number>} */
const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(/** @type {import('node:net').AddressInfo} */ (server.address()).port)));

/**
 * @param {{ sdks: Record<string, string> }} config paths of the SDK files, by name (served at /sdk/<name>.js)
 */
export async function startServers({ sdks }) {
  /** @type {Map<string, RunCount>} */
  const runs = new Map();
  /** @type {Map<string, { html: string, isolated: boolean }>} */
  const pages = new Map();
  const sdkSource = Object.fromEntries(Object.entries(sdks).map(([name, file]) => [name, readFileSync(file)]));

  /** @param {string} run */
  const count = (run) => {
    let c = runs.get(run);
    if (!c) {
      c = { posts: 0, preflights: 0, bodyBytes: 0, wireBytes: 0, items: 0, ids: new Map(), repeats: 0, kinds: {}, last: 0 };
      runs.set(run, c);
    }
    return c;
  };

  /** The collector: CORS as Moesif's API answers it (preflights cached for 10 minutes). */
  const collect = (/** @type {http.IncomingMessage} */ req, /** @type {http.ServerResponse} */ res, /** @type {string} */ run, /** @type {string} */ path) => {
    res.setHeader('Access-Control-Allow-Origin', req.headers.origin ?? '*');
    res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Moesif-Application-Id, X-Moesif-SDK');
    res.setHeader('Access-Control-Max-Age', '600');
    // Pages run cross-origin isolated (for 5 µs timers); a beacon is a no-cors request and needs this.
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    const c = count(run);
    c.last = Date.now();
    // Bytes on the wire, approximately: request line, headers as received, body.
    // (each header line is `name: value\r\n`: 4 bytes besides name and value; a blank line ends them).
    const headerBytes = `${req.method} ${req.url} HTTP/1.1\r\n`.length + req.rawHeaders.reduce((n, v) => n + v.length + 2, 0) + 2;
    if (req.method === 'OPTIONS') {
      c.preflights++;
      c.wireBytes += headerBytes;
      res.writeHead(204).end();
      return;
    }
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      c.posts++;
      c.bodyBytes += raw.length;
      c.wireBytes += headerBytes + raw.length;
      const kind = path.replace(/^\/v1\//, '');
      try {
        const parsed = JSON.parse(raw.toString('utf8'));
        for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
          c.items++;
          c.kinds[kind] = (c.kinds[kind] ?? 0) + 1;
          const id = item && typeof item === 'object' ? String(item.transaction_id ?? '') : '';
          if (!id) continue;
          const seen = c.ids.get(id) ?? 0;
          if (seen) c.repeats++;
          c.ids.set(id, seen + 1);
        }
      } catch {
        c.kinds[`${kind} (unparsable)`] = (c.kinds[`${kind} (unparsable)`] ?? 0) + 1;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  };

  /** Routes shared by both servers; the site adds pages and the SDK files. */
  const handler = (/** @type {boolean} */ isSite) => (/** @type {http.IncomingMessage} */ req, /** @type {http.ServerResponse} */ res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/r\/([^/]+)(\/v1\/.*)$/.exec(url.pathname);
    if (m) return collect(req, res, m[1], m[2]);
    if (!isSite) return void res.writeHead(404).end();
    const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    if (url.pathname === '/api/ping') {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Cross-Origin-Resource-Policy': 'same-origin' });
      return void res.end('{"ok":true,"n":42}');
    }
    const sdk = /^\/sdk\/(\w+)\.js$/.exec(url.pathname);
    if (sdk && sdkSource[sdk[1]]) {
      res.writeHead(200, { 'Content-Type': 'text/javascript', 'Cache-Control': 'no-store', 'Cross-Origin-Resource-Policy': 'same-origin' });
      return void res.end(sdkSource[sdk[1]]);
    }
    const page = pages.get(url.pathname);
    if (page) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...(page.isolated ? isolation : {}) });
      return void res.end(page.html);
    }
    if (url.pathname === '/blank') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>next</title>');
    if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
    res.writeHead(404).end('not found');
  };

  const site = http.createServer(handler(true));
  const collector = http.createServer(handler(false));
  site.keepAliveTimeout = collector.keepAliveTimeout = 30_000;
  const [sitePort, collectorPort] = await Promise.all([listen(site), listen(collector)]);
  // A port nothing listens on: the collector is down (connection refused).
  const probe = http.createServer();
  const downPort = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));

  return {
    siteUrl: `http://127.0.0.1:${sitePort}`,
    /** moesif's `host` form (host:port/path, the page's scheme); usertrail takes the same string. */
    collectorHost: (/** @type {string} */ run) => `127.0.0.1:${collectorPort}/r/${run}`,
    sameOriginHost: (/** @type {string} */ run) => `127.0.0.1:${sitePort}/r/${run}`,
    downHost: (/** @type {string} */ run) => `127.0.0.1:${downPort}/r/${run}`,
    /** Registers a page; `isolated` serves it cross-origin isolated (COOP+COEP), for 5 µs timers. */
    page(/** @type {string} */ path, /** @type {string} */ html, isolated = true) {
      pages.set(path, { html, isolated });
    },
    /** What the collector received for one run (zeros when nothing came). */
    counts: (/** @type {string} */ run) => count(run),
    async close() {
      for (const s of [site, collector]) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    },
  };
}
