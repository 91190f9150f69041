// @ts-check
/**
 * A single-page app open all day: does anything in the browser SDK grow with the work? The UMD build
 * (dist/moesif.min.js; `npm run build` first) in Debian's Chromium, under rounds of mixed work:
 * route changes (pushState, replaceState, popstate, hash changes) with `trackPageViews`, captured
 * fetch and XMLHttpRequest calls (answered, failing with 500, failing without an answer, aborted,
 * streamed and cancelled, an XMLHttpRequest object reused), track() and identify calls, and now and
 * then reset() with a new log-in, a revoke and grant of consent, stop() and start(), the tab hidden
 * and shown, the collector down (503) and up again. The same workload runs on a page without the
 * SDK (the page's own baseline), in the same browser, pages interleaved per round.
 *
 *   npm run build && node bench/soak.mjs
 *   ROUNDS=10 OPS=2000 SNAPSHOT=1 node bench/soak.mjs
 *   DOWN=refuse CONSENT=0 node bench/soak.mjs     (the collector unreachable rather than failing)
 *
 * After each round (every call settled, the SDK's outbox empty), the page's garbage is collected
 * (CDP HeapProfiler.collectGarbage) and the script prints: the JS heap used (Runtime.getHeapUsage),
 * the event listeners on window and on document (DOMDebugger.getEventListeners), localStorage's keys
 * and their total length, and getStats(). A steady state shows no trend after the first rounds.
 * With SNAPSHOT=1 (the default), a heap snapshot of the SDK's page after round 2 and after the last
 * round are compared: the constructors whose count grew the most, to find what grows.
 * These are sizes and counts, which machine load barely moves; the load average is printed anyway.
 */
import http from 'node:http';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 10);
const OPS = Number(process.env.OPS ?? 2000);
const SNAPSHOT = process.env.SNAPSHOT !== '0';
/** The round after which the first snapshot is taken. */
const SNAPSHOT_FROM = Number(process.env.SNAPSHOT_FROM ?? 2);
const sdk = readFileSync(new URL('../dist/moesif.min.js', import.meta.url), 'utf8');

/**
 * The page's workload, defined before the SDK loads, as an app's code would be. `window.round(ops, seed)`
 * runs `ops` operations, 6 at a time, picked by a seeded generator so that both pages do the same; it
 * resolves once every call it made has settled. Without the SDK, the SDK's calls go to a stub.
 */
const WORKLOAD = `
const noop = () => {};
const stub = { init: noop, identifyUser: noop, identifyCompany: noop, track: noop, reset: noop, start: noop, stop: noop,
  trackPageView: noop, grantPublishingConsent: noop, revokePublishingConsent: noop, flush: () => Promise.resolve(), getStats: noop };
const sdk = () => window.moesif || stub;
let hidden = false;
// A tab switched away and back: headless Chromium never hides a page, so the page says it is hidden and
// tells its listeners, as the browser would.
Object.defineProperty(document, 'hidden', { get: () => hidden, configurable: true });
Object.defineProperty(document, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible'), configurable: true });
const setHidden = (next) => {
  hidden = next;
  document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
};
let route = 0;
const navigate = (kind) => {
  route++;
  if (kind == 0) history.pushState({ route }, '', '/app/item/' + route + '?tab=' + (route % 3));
  else if (kind == 1) history.replaceState({ route }, '', '/app/list/' + route);
  else if (kind == 2) location.hash = '#section-' + route;
  else {
    history.pushState({ route }, '', '/app/back/' + route);
    // What the browser does on back: the address changes, then popstate.
    history.replaceState({ route }, '', '/app/prev/' + route);
    window.dispatchEvent(new PopStateEvent('popstate', { state: { route } }));
  }
  // The router sets the title after rendering, mostly.
  if (route % 4) document.title = 'Route ' + route;
};
const reused = new XMLHttpRequest();
// One object reused for call after call, as some apps keep one: when it is still busy (the workers run
// side by side), a new one, so that no call's handler is replaced before its call ended.
const xhr = (url, { method = 'GET', body = null, abort = false, reuse = false } = {}) => new Promise((resolve) => {
  const request = reuse && (reused.readyState == 0 || reused.readyState == 4) ? reused : new XMLHttpRequest();
  request.open(method, url);
  request.setRequestHeader('X-Request-Id', String(route));
  request.onloadend = () => resolve(request.status);
  request.send(body);
  if (abort) request.abort();
});
const swallow = () => {};
const ops = [
  // weight, operation
  [8, () => navigate(0)], [4, () => navigate(1)], [4, () => navigate(2)], [4, () => navigate(3)],
  [14, () => fetch('/api/ok?n=' + route, { headers: { Authorization: 'Bearer t' } }).then((r) => r.json())],
  [5, () => fetch('/api/ok', { method: 'POST', body: JSON.stringify({ route, items: [1, 2, 3] }), headers: { 'Content-Type': 'application/json' } }).then((r) => r.text())],
  [3, () => fetch('/api/fail').then((r) => r.text())],
  [2, () => fetch('/api/close').catch(swallow)],
  [3, () => { const c = new AbortController(); const p = fetch('/api/slow', { signal: c.signal }).catch(swallow); c.abort(); return p; }],
  [2, async () => { const r = await fetch('/api/stream'); const reader = r.body.getReader(); await reader.read(); await reader.cancel(); }],
  [2, () => fetch('/api/ok').then((r) => r.arrayBuffer())],
  [2, () => fetch('/api/ok')], // a body nobody reads
  [10, () => xhr('/api/ok?x=' + route)],
  [3, () => xhr('/api/ok', { method: 'POST', body: 'a=1&b=' + route })],
  [2, () => xhr('/api/fail')],
  [2, () => xhr('/api/close')],
  [2, () => xhr('/api/slow', { abort: true })],
  [4, () => xhr('/api/ok?reused=' + route, { reuse: true })],
  [12, () => sdk().track('Clicked', { route, button: 'b' + (route % 7) })],
  [2, () => sdk().identifyCompany('company-' + (route % 5), { plan: 'pro' })],
  [2, () => sdk().identifyUser('user-' + (route % 3), { email: 'u@example.test' })],
  [1, () => sdk().trackPageView({ manual: true })],
  [0.2, () => { sdk().reset(); sdk().identifyUser('user-' + route); }],
  // A revoke forgets what is queued (by design): CONSENT=0 leaves it out, so that every item queued must arrive.
  [${process.env.CONSENT === '0' ? 0 : 0.2}, () => { sdk().revokePublishingConsent(); sdk().grantPublishingConsent(); }],
  [0.3, () => { sdk().stop(); sdk().start(); }],
  [0.3, () => { setHidden(true); setHidden(false); }],
];
const total = ops.reduce((sum, [weight]) => sum + weight, 0);
window.round = async (count, seed) => {
  // mulberry32: the same choices on both pages.
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      let pick = random() * total;
      const op = ops.find(([weight]) => (pick -= weight) < 0) || ops[0];
      try {
        await op[1]();
      } catch {}
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
};
`;

const page = (/** @type {boolean} */ withSdk) => `<!doctype html><html><head><title>soak</title><script>${WORKLOAD}</script>${
  withSdk ? `<script src="/sdk.js"></script><script>moesif.init({ applicationId: 'soak', host: location.host + '/collector', trackPageViews: true, enableCrossDomainTracking: true, crossDomainTargets: ['other.example'] }); moesif.start();</script>` : ''
}</head><body><p>soak</p></body></html>`;

/**
 * The collector's state: up (200) or down, and what it received. Down answers 503, or with DOWN=refuse
 * closes each connection unanswered (after 3 in a row the SDK takes the collector for blocked, and waits
 * for an `online` event, which the page then gets, or 5 minutes).
 */
const REFUSE = process.env.DOWN === 'refuse';
const collector = { down: false, requests: 0, items: 0 };
const server = http.createServer((req, res) => {
  const url = req.url ?? '';
  if (url === '/sdk.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(sdk);
  if (url.startsWith('/app') || url.startsWith('/page')) return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(page(url.includes('sdk=1')));
  if (url.startsWith('/api/ok')) {
    req.resume();
    return void req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true,"items":[1,2,3]}'));
  }
  if (url === '/api/fail') return void res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"error":"failed"}');
  if (url === '/api/close') return void req.socket.destroy();
  if (url === '/api/slow') {
    const timer = setTimeout(() => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('late'), 300);
    return void res.on('close', () => clearTimeout(timer));
  }
  if (url === '/api/stream') {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    res.write('x'.repeat(1000));
    // Ends later; the app cancels after its first chunk.
    const timer = setTimeout(() => res.end('y'.repeat(1000)), 500);
    return void res.on('close', () => clearTimeout(timer));
  }
  // The collector.
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    collector.requests++;
    if (collector.down && REFUSE) return void req.socket.destroy();
    if (collector.down) return void res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":"down"}');
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      collector.items += Array.isArray(body) ? body.length : 1;
    } catch {}
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
  });
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
let closing = false;
browser.on('disconnected', () => closing || console.error('the browser went away'));
const started = Date.now();

/** One page (with or without the SDK) and its CDP session. */
async function openPage(/** @type {boolean} */ withSdk) {
  const context = await browser.newContext();
  const tab = await context.newPage();
  tab.on('crash', () => console.error(`the page ${withSdk ? 'with' : 'without'} the SDK crashed`));
  if (process.env.DEBUG) tab.on('console', (message) => console.error(message.text()));
  if (process.env.DEBUG) tab.on('framenavigated', (frame) => console.error('navigated', frame.url()));
  await tab.goto(`http://127.0.0.1:${port}/page?sdk=${withSdk ? 1 : 0}`);
  if (process.env.DEBUG) tab.on('close', () => console.error('closed', new Error().stack));
  const cdp = await context.newCDPSession(tab);
  await cdp.send('HeapProfiler.enable');
  return { withSdk, tab, cdp, rows: /** @type {any[]} */ ([]) };
}

/** Waits until the SDK has nothing left: capture's deferred work done (queued stops moving) and the outbox empty. */
async function settle(/** @type {import('playwright-core').Page} */ tab) {
  let last = -1;
  for (let tries = 0; tries < 200; tries++) {
    const stats = await tab.evaluate(async () => {
      const moesif = /** @type {any} */ (window).moesif;
      if (!moesif?.getStats) return undefined;
      await moesif.flush();
      return moesif.getStats();
    });
    if (!stats) return;
    if (stats.inOutbox === 0 && stats.queued === last) return;
    last = stats.queued;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
  throw new Error('the SDK did not settle');
}

/**
 * The counts after a round, garbage collected first.
 * @param {{ tab: import('playwright-core').Page, cdp: import('playwright-core').CDPSession }} opened
 */
async function measure({ tab, cdp }) {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const listenersOf = async (/** @type {string} */ expression) => {
    const { result } = await cdp.send('Runtime.evaluate', { expression });
    const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: /** @type {string} */ (result.objectId) });
    await cdp.send('Runtime.releaseObject', { objectId: /** @type {string} */ (result.objectId) });
    return listeners;
  };
  const onWindow = await listenersOf('window');
  const onDocument = await listenersOf('document');
  const page = await tab.evaluate(() => {
    const keys = Object.keys(localStorage);
    return {
      keys: keys.length,
      chars: keys.reduce((sum, key) => sum + key.length + (localStorage.getItem(key) ?? '').length, 0),
      stats: /** @type {any} */ (window).moesif?.getStats?.(),
    };
  });
  return { heap: usedSize, window: onWindow.length, document: onDocument.length, windowTypes: onWindow.map((l) => l.type).sort().join(','), ...page };
}

/** Counts of heap objects by constructor (type and name) in a snapshot of the page. */
async function snapshotCounts(/** @type {import('playwright-core').CDPSession} */ cdp) {
  /** @type {string[]} */
  const chunks = [];
  const onChunk = (/** @type {{ chunk: string }} */ { chunk }) => chunks.push(chunk);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
  const snapshot = JSON.parse(chunks.join(''));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field));
  /** @type {Map<string, { count: number, size: number }>} */
  const counts = new Map();
  const nodes = snapshot.nodes;
  for (let i = 0; i < nodes.length; i += fields.length) {
    const key = `${types[nodes[i + typeAt]]}:${String(snapshot.strings[nodes[i + nameAt]]).slice(0, 60)}`;
    const entry = counts.get(key) ?? { count: 0, size: 0 };
    entry.count++;
    entry.size += nodes[i + sizeAt];
    counts.set(key, entry);
  }
  return counts;
}

const pages = [await openPage(false), await openPage(true)];
/** Heap snapshot counts by page (false: without the SDK), after round 2 and after the last round. */
/** @type {Map<boolean, Map<string, { count: number, size: number }>>} */
const early = new Map();
/** @type {Map<boolean, Map<string, { count: number, size: number }>>} */
const late = new Map();
for (let round = 1; round <= ROUNDS; round++) {
  for (const p of pages) {
    // The collector goes down for the middle third of the round's work, and comes back.
    const third = Math.round(OPS / 3);
    await p.tab.evaluate(([n, seed]) => /** @type {any} */ (window).round(n, seed), [third, round * 3]);
    collector.down = true;
    await p.tab.evaluate(([n, seed]) => /** @type {any} */ (window).round(n, seed), [third, round * 3 + 1]);
    collector.down = false;
    if (REFUSE) await p.tab.evaluate(() => window.dispatchEvent(new Event('online')));
    await p.tab.evaluate(([n, seed]) => /** @type {any} */ (window).round(n, seed), [OPS - 2 * third, round * 3 + 2]);
    await settle(p.tab);
    p.rows.push({ round, ...(await measure(p)) });
    if (SNAPSHOT && round === SNAPSHOT_FROM) early.set(p.withSdk, await snapshotCounts(p.cdp));
    if (SNAPSHOT && round === ROUNDS) late.set(p.withSdk, await snapshotCounts(p.cdp));
  }
}
const seconds = Math.round((Date.now() - started) / 1000);
closing = true;
await browser.close();
server.close();

const kib = (/** @type {number} */ bytes) => (bytes / 1024).toFixed(0);
console.log(`Soak of ${new Date().toISOString().slice(0, 10)}: ${ROUNDS} rounds of ${OPS} operations per page (the collector ${REFUSE ? 'closing connections unanswered' : 'answering 503'} for the middle third of each), ` +
  `${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end; took ${seconds} s; the collector took ${collector.items} items in ${collector.requests} requests.`);
for (const p of pages) {
  console.log(`\n${p.withSdk ? 'With the SDK (init with trackPageViews, start())' : 'Without the SDK (the page\'s own baseline)'}:\n`);
  console.log('| round | JS heap used (KiB) | listeners on window | on document | localStorage keys | chars | queued | sent | retried | dropped | requests | inOutbox |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of p.rows) {
    const s = row.stats ?? {};
    const or = (/** @type {number | undefined} */ value) => (value === undefined ? '-' : value.toLocaleString('en-US'));
    console.log(`| ${row.round} | ${kib(row.heap)} | ${row.window} | ${row.document} | ${row.keys} | ${row.chars.toLocaleString('en-US')} | ${or(s.queued)} | ${or(s.sent)} | ${or(s.retried)} | ${or(s.dropped)} | ${or(s.requests)} | ${or(s.inOutbox)} |`);
  }
  console.log(`\nListeners on window after the last round: ${p.rows.at(-1).windowTypes || 'none'}`);
}
const [plain, withSdk] = pages.map((p) => p.rows);
const growth = (/** @type {any[]} */ rows) => kib(rows.at(-1).heap - rows[Math.min(SNAPSHOT_FROM, rows.length) - 1].heap);
console.log(`\nJS heap from round ${SNAPSHOT_FROM} to round ${ROUNDS}: ${growth(plain)} KiB without the SDK, ${growth(withSdk)} KiB with it.`);
if (early.size && late.size) {
  const grew = (/** @type {boolean} */ withSdk) => {
    const before = /** @type {Map<string, { count: number, size: number }>} */ (early.get(withSdk));
    return new Map([...(/** @type {Map<string, { count: number, size: number }>} */ (late.get(withSdk)))].map(([key, { count, size }]) => [key, { count: count - (before.get(key)?.count ?? 0), size: size - (before.get(key)?.size ?? 0) }]));
  };
  const [plainGrew, sdkGrew] = [grew(false), grew(true)];
  for (const [what, by] of /** @type {const} */ ([['count', 'count'], ['bytes', 'size']])) {
    const top = [...sdkGrew].filter(([, entry]) => entry[by] > 0).sort((a, b) => b[1][by] - a[1][by]).slice(0, 15);
    console.log(`\nHeap snapshots, round ${SNAPSHOT_FROM} to round ${ROUNDS}: the constructors whose ${what} grew most on the SDK's page, and the same on the page without it`);
    console.log('| type:constructor | more objects with the SDK | more bytes | more objects without | more bytes |\n|---|---:|---:|---:|---:|');
    for (const [key, { count, size }] of top) console.log(`| ${key.replace(/\|/g, '\\|').replace(/\n/g, ' ')} | ${count} | ${size} | ${plainGrew.get(key)?.count ?? 0} | ${plainGrew.get(key)?.size ?? 0} |`);
  }
}
