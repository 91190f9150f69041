// @ts-check
/**
 * `npm run bench`: usertrail's dist/moesif.min.js and moesif-browser-js 1.8.13's moesif.min.js, side
 * by side, in one Chromium process, each sample in a fresh browser context (fresh page, empty
 * storage) served from 127.0.0.1, the two SDKs interleaved so machine noise hits both alike.
 * Writes bench/results.json and prints a markdown table. Asserts nothing about time; exits non-zero
 * only when a workload could not run. What each workload measures: bench/README.md.
 *
 *   node bench/run.mjs            (npm run bench builds first)
 *   BENCH_QUICK=1 node bench/run.mjs        fewer samples, for trying the harness
 *   BENCH_ONLY=track,fetch node bench/run.mjs   some workloads only
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { bundleWorkload } from './bundle.mjs';
import { startServers } from './servers.mjs';
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs';
import { renderTable } from './report.mjs';
import { renderServerTable, serverWorkload } from './server-load.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const FILES = {
  usertrailUmd: `${ROOT}dist/moesif.min.js`,
  usertrailEsm: `${ROOT}dist/usertrail.mjs`,
  moesifUmd: `${ROOT}node_modules/moesif-browser-js/moesif.min.js`,
};
/** The two contestants; both define the global `moesif` with the same API. */
const SDKS = /** @type {const} */ (['usertrail', 'moesif']);
/** @typedef {typeof SDKS[number]} Sdk */

const N = {
  loads: QUICK ? 6 : 30,
  trackCalls: 10_000,
  trackPages: QUICK ? 1 : 3,
  fetches: 1_000,
  fetchRounds: QUICK ? 2 : 3,
  networkCalls: 1_000,
  closePages: QUICK ? 10 : 50,
  /** The same-origin placement is a second look (the e2e test's placement), so fewer pages. */
  closePagesSameOrigin: QUICK ? 5 : 10,
  closeWave: 5,
  memoryCalls: 100_000,
  /**
   * Wall-clock cap for one page's loop of calls, so the run stays within minutes on a busy 2-core
   * machine; a page that has not finished by then reports the calls it made, and per-call figures
   * are over those.
   */
  loopCapMs: QUICK ? 8_000 : 15_000,
};

// ---------------------------------------------------------------------------------------------
// Helpers

/** @param {number[]} xs */
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
let runSeq = 0;
const runId = (/** @type {string} */ label) => `${label}-${++runSeq}-${Math.random().toString(36).slice(2, 8)}`;
/** Alternates which SDK goes first, round by round. */
const order = (/** @type {number} */ round) => (round % 2 ? [...SDKS].reverse() : [...SDKS]);

/** A page that loads one SDK with a script tag and runs `body` after it. */
const sdkPage = (/** @type {Sdk} */ sdk, body = '') =>
  `<!doctype html><html><head><meta charset="utf-8"><title>bench</title><script src="/sdk/${sdk}.js"></script></head><body><script>${body}</script></body></html>`;

/** The same options for both SDKs; batching on (moesif's default is off). */
const initOptions = (/** @type {string} */ host, extra = {}) => ({ applicationId: 'bench-app', host, batchEnabled: true, ...extra });

// ---------------------------------------------------------------------------------------------

const started = Date.now();
const servers = await startServers({ sdks: { usertrail: FILES.usertrailUmd, moesif: FILES.moesifUmd } });
const browser = await chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs, '--enable-precise-memory-info'] });

/**
 * Runs `fn` in a fresh context (empty storage, no cache) and closes it afterwards.
 * @template T
 * @param {(page: import('playwright-core').Page, context: import('playwright-core').BrowserContext) => Promise<T>} fn
 */
async function fresh(fn) {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    return await fn(page, context);
  } finally {
    await context.close();
  }
}

/** Waits until the collector has `expected` unique items for `run`, or nothing new came for `quietMs`. */
async function settle(/** @type {string} */ run, /** @type {number} */ expected, { quietMs = 3000, maxMs = 30_000 } = {}) {
  const t0 = Date.now();
  for (;;) {
    const c = servers.counts(run);
    const quietSince = Math.max(c.last, t0);
    if (c.ids.size >= expected && Date.now() - c.last > 300) return c;
    if (Date.now() - quietSince > quietMs || Date.now() - t0 > maxMs) return c;
    await sleep(100);
  }
}

/** @type {Record<string, unknown>} */
const workloads = {};
/** @type {string[]} */
const failures = [];
/** @type {string[]} */
const notes = [];

/**
 * Runs one workload; an exception marks it failed (the run goes on, and exits non-zero at the end).
 * @param {string} name @param {() => Promise<unknown>} fn
 */
async function workload(name, fn) {
  if (ONLY && !ONLY.includes(name)) return;
  const t0 = Date.now();
  process.stderr.write(`bench: ${name} ... `);
  try {
    workloads[name] = await fn();
    process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (error) {
    failures.push(`${name}: ${error instanceof Error ? error.stack : String(error)}`);
    workloads[name] = { error: String(error) };
    process.stderr.write(`FAILED (${String(error)})\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Bundle

await workload('bundle', () => bundleWorkload(FILES));

// ---------------------------------------------------------------------------------------------
// 2. Load: script evaluation + init(), measured inside the page around an inline <script> whose
// source was fetched beforehand (so no network time is counted) and made unique per load by a
// leading comment (so V8's in-memory compilation cache never serves an earlier load's compile).

servers.page(
  '/load',
  `<!doctype html><html><head><meta charset="utf-8"><title>load</title></head><body><script>
window.bench = async (sdk, options) => {
  const source = await (await fetch('/sdk/' + sdk + '.js')).text();
  const script = document.createElement('script');
  script.textContent = '/* ' + Math.random() + ' */' + source;
  const t0 = performance.now();
  document.head.appendChild(script); // an inline classic script runs synchronously on insertion
  const t1 = performance.now();
  moesif.init(options);
  const t2 = performance.now();
  return { evalMs: t1 - t0, initMs: t2 - t1, totalMs: t2 - t0, isolated: self.crossOriginIsolated };
};
</script></body></html>`,
);

await workload('load', async () => {
  /** @type {Record<Sdk, { evalMs: number, initMs: number, totalMs: number }[]>} */
  const samples = { usertrail: [], moesif: [] };
  let isolated = true;
  for (let i = 0; i < N.loads; i++) {
    for (const sdk of order(i)) {
      const r = await fresh(async (page) => {
        await page.goto(`${servers.siteUrl}/load`);
        return page.evaluate(([sdk, options]) => /** @type {any} */ (window).bench(sdk, options), /** @type {const} */ ([sdk, initOptions(servers.collectorHost(runId('load')))]));
      });
      isolated &&= r.isolated;
      samples[sdk].push(r);
    }
  }
  const summary = (/** @type {Sdk} */ sdk) => ({
    evalMs: median(samples[sdk].map((s) => s.evalMs)),
    initMs: median(samples[sdk].map((s) => s.initMs)),
    totalMs: median(samples[sdk].map((s) => s.totalMs)),
  });
  return { loads: N.loads, timerResolution: isolated ? '5 µs (cross-origin isolated)' : '100 µs', usertrail: summary('usertrail'), moesif: summary('moesif') };
});

// ---------------------------------------------------------------------------------------------
// 3. track(): 10,000 calls in chunks of 100, timed synchronously around each chunk, yielding to
// the event loop between chunks (as a page does between clicks). Per-call cost = median chunk
// time / 100. Also the renderer's whole main-thread time (CDP Performance TaskDuration) from the
// first call until 1 s after the last, per call: it includes work an SDK defers to timers.

/**
 * Runs `calls` track() calls in chunks in the page; stops early when `capMs` has passed.
 * Returns chunk times (ms) and the number of calls made.
 */
const trackLoop = (/** @type {import('playwright-core').Page} */ page, /** @type {number} */ calls, /** @type {number} */ chunk, /** @type {number} */ capMs) =>
  page.evaluate(
    async ([calls, chunk, capMs]) => {
      const times = [];
      const start = performance.now();
      let done = 0;
      while (done < calls) {
        const t0 = performance.now();
        for (let i = 0; i < chunk; i++) moesif.track('Clicked Buy', { i: done + i, plan: 'pro', page: '/pricing' });
        times.push(performance.now() - t0);
        done += chunk;
        await new Promise((r) => setTimeout(r, 0));
        if (performance.now() - start > capMs) break;
      }
      return { times, done, wallMs: performance.now() - start };
    },
    /** @type {const} */ ([calls, chunk, capMs]),
  );

/** CDP Performance metrics of the page, by name. */
async function perfMetrics(/** @type {import('playwright-core').CDPSession} */ cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
}

await workload('track', async () => {
  const CHUNK = 100;
  /** @type {Record<Sdk, { perCallMs: number[], meanMs: number[], mainThreadPerCallMs: number[], done: number[] }>} */
  const out = { usertrail: { perCallMs: [], meanMs: [], mainThreadPerCallMs: [], done: [] }, moesif: { perCallMs: [], meanMs: [], mainThreadPerCallMs: [], done: [] } };
  for (let round = 0; round < N.trackPages; round++) {
    for (const sdk of order(round)) {
      const run = runId(`track-${sdk}`);
      servers.page(`/track-${run}`, sdkPage(sdk, `moesif.init(${JSON.stringify(initOptions(servers.collectorHost(run)))});`));
      await fresh(async (page, context) => {
        const cdp = await context.newCDPSession(page);
        await cdp.send('Performance.enable');
        await page.goto(`${servers.siteUrl}/track-${run}`);
        await sleep(200);
        const before = await perfMetrics(cdp);
        const r = await trackLoop(page, N.trackCalls, CHUNK, N.loopCapMs);
        await sleep(1000);
        const after = await perfMetrics(cdp);
        out[sdk].perCallMs.push(median(r.times) / CHUNK);
        out[sdk].meanMs.push(r.times.reduce((a, b) => a + b, 0) / r.done);
        out[sdk].mainThreadPerCallMs.push(((after.TaskDuration - before.TaskDuration) * 1000) / r.done);
        out[sdk].done.push(r.done);
      });
    }
  }
  const summary = (/** @type {Sdk} */ sdk) => ({
    perCallMs: median(out[sdk].perCallMs),
    meanPerCallMs: median(out[sdk].meanMs),
    mainThreadPerCallMs: median(out[sdk].mainThreadPerCallMs),
    callsDone: Math.min(...out[sdk].done),
  });
  return { calls: N.trackCalls, pages: N.trackPages, chunk: CHUNK, usertrail: summary('usertrail'), moesif: summary('moesif') };
});

// ---------------------------------------------------------------------------------------------
// 4. Captured fetch overhead: 1,000 sequential fetches of a same-origin endpoint (awaiting the
// response and its JSON body), in a page where the SDK is initialised, with start() versus without.
// Rounds of four fresh pages (each SDK, with and without capture) in rotating order; overhead per
// call = median over rounds of (captured - plain) / 1,000.

await workload('fetch', async () => {
  const variants = /** @type {const} */ ([
    ['usertrail', false],
    ['usertrail', true],
    ['moesif', false],
    ['moesif', true],
  ]);
  /** @type {Record<string, number[]>} */
  const perCall = {};
  /** @type {Record<string, string[]>} */
  const runs = {};
  /** @type {Record<string, number[]>} */
  const done = {};
  for (let round = 0; round < N.fetchRounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const [sdk, capture] = variants[(k + round) % variants.length];
      const key = `${sdk}-${capture ? 'captured' : 'plain'}`;
      const run = runId(`fetch-${key}`);
      (runs[key] ??= []).push(run);
      servers.page(`/fetch-${run}`, sdkPage(sdk, `moesif.init(${JSON.stringify(initOptions(servers.collectorHost(run)))});${capture ? 'moesif.start();' : ''}`));
      const ms = await fresh(async (page) => {
        await page.goto(`${servers.siteUrl}/fetch-${run}`);
        const r = await page.evaluate(
          async ([n, capMs]) => {
            const once = async () => (await fetch('/api/ping')).json();
            for (let i = 0; i < 20; i++) await once(); // warm-up: connection, JIT
            const t0 = performance.now();
            let done = 0;
            while (done < n && performance.now() - t0 < capMs) {
              await once();
              done++;
            }
            return { perCallMs: (performance.now() - t0) / done, done };
          },
          /** @type {const} */ ([N.fetches, N.loopCapMs]),
        );
        // Let the SDK send what it captured (both flush on pagehide), so the capture can be verified.
        await page.goto(`${servers.siteUrl}/blank`);
        await sleep(300);
        return r;
      });
      (perCall[key] ??= []).push(ms.perCallMs);
      (done[key] ??= []).push(ms.done);
    }
  }
  await sleep(1500);
  const captured = (/** @type {string} */ key) => runs[key].map((run) => servers.counts(run).kinds['events/batch'] ?? 0);
  const summary = (/** @type {Sdk} */ sdk) => {
    const plain = perCall[`${sdk}-plain`];
    const withCapture = perCall[`${sdk}-captured`];
    return {
      plainPerCallMs: median(plain),
      capturedPerCallMs: median(withCapture),
      overheadPerCallMs: median(plain.map((p, i) => withCapture[i] - p)),
      eventsReceivedPerPage: median(captured(`${sdk}-captured`)),
      fetchesPerPage: Math.min(...done[`${sdk}-plain`], ...done[`${sdk}-captured`]),
    };
  };
  const result = { fetches: N.fetches, rounds: N.fetchRounds, usertrail: summary('usertrail'), moesif: summary('moesif') };
  for (const sdk of SDKS) {
    const { eventsReceivedPerPage: got, fetchesPerPage } = result[sdk];
    if (got < fetchesPerPage * 0.9)
      notes.push(`fetch: ${sdk}'s start() delivered a median of ${got} captured calls per page for ${fetchesPerPage}+20 fetches; its "captured" time may not include the whole capture work.`);
    if (fetchesPerPage < N.fetches) notes.push(`fetch: some ${sdk} pages made only ${fetchesPerPage} of ${N.fetches} fetches within the time cap.`);
  }
  return result;
});

// ---------------------------------------------------------------------------------------------
// 5. Network: 1,000 track() calls in one synchronous loop (as e2e/delivery.spec.ts does), default
// batch size (25) and wait (2.5 s); everything the collector (another origin, as in production)
// receives until all 1,000 arrived: POSTs, CORS preflights, body bytes and bytes on the wire.

await workload('network', async () => {
  /** @type {Record<string, unknown>} */
  const result = { calls: N.networkCalls };
  for (const sdk of SDKS) {
    const run = runId(`network-${sdk}`);
    servers.page(`/network-${run}`, sdkPage(sdk, `moesif.init(${JSON.stringify(initOptions(servers.collectorHost(run)))});`));
    const c = await fresh(async (page) => {
      await page.goto(`${servers.siteUrl}/network-${run}`);
      await page.evaluate((n) => {
        for (let i = 0; i < n; i++) moesif.track('Clicked Buy', { i, plan: 'pro', page: '/pricing' });
      }, N.networkCalls);
      return settle(run, N.networkCalls, { quietMs: 6000, maxMs: 60_000 });
    });
    result[sdk] = {
      requests: c.posts,
      preflights: c.preflights,
      bodyBytes: c.bodyBytes,
      wireBytes: c.wireBytes,
      eventsReceived: c.ids.size,
      repeats: c.repeats,
      byEndpoint: c.kinds,
    };
  }
  return result;
});

// ---------------------------------------------------------------------------------------------
// 6. Delivery under page close: each page (a fresh context, so nothing persisted can be re-sent by
// a later page) loads the SDK, calls track() once and navigates away 5 ms later, under 150 ms of
// emulated latency (CDP Network.emulateNetworkConditions, as e2e/delivery.spec.ts test 2). Pages
// run in waves of 5 per SDK, interleaved; counted at the collector by transaction_id.
// Two placements of the collector: another origin (as api.moesif.net is: requests with
// X-Moesif-* headers need a CORS preflight) and the page's own origin (as the e2e test).

async function closePage(/** @type {Sdk} */ sdk, /** @type {string} */ host, /** @type {number} */ n) {
  // Not fresh(): the context must outlive the navigation, for the requests a closing page leaves.
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: -1, uploadThroughput: -1 });
  const path = `/close-${sdk}-${runId('p')}`;
  servers.page(
    path,
    sdkPage(sdk, `moesif.init(${JSON.stringify(initOptions(host, { batchMaxTime: 10_000 }))}); moesif.track('Closing ${n}', { n: ${n} }); setTimeout(() => { location.href = '/blank'; }, 5);`),
    false,
  );
  await page.goto(`${servers.siteUrl}${path}`);
  await page.waitForURL('**/blank', { timeout: 15_000 });
  return context;
}

await workload('close', async () => {
  /** @type {Record<string, unknown>} */
  const result = { latencyMs: 150 };
  for (const [placement, hostFor, pages] of /** @type {const} */ ([
    ['crossOrigin', servers.collectorHost, N.closePages],
    ['sameOrigin', servers.sameOriginHost, N.closePagesSameOrigin],
  ])) {
    const runs = { usertrail: runId(`close-${placement}-usertrail`), moesif: runId(`close-${placement}-moesif`) };
    for (let first = 0; first < pages; first += N.closeWave) {
      const wave = [];
      for (const sdk of order(first / N.closeWave)) {
        for (let n = first; n < Math.min(first + N.closeWave, pages); n++) wave.push(closePage(sdk, hostFor(runs[sdk]), n));
      }
      const contexts = await Promise.all(wave);
      // Keep the contexts (and the requests the closed pages left) alive a moment before closing them.
      await sleep(1000);
      await Promise.all(contexts.map((c) => c.close()));
    }
    await sleep(1500);
    result[placement] = {
      pages,
      ...Object.fromEntries(
        SDKS.map((sdk) => {
          const c = servers.counts(runs[sdk]);
          return [sdk, { delivered: c.ids.size, repeats: c.repeats, requests: c.posts, preflights: c.preflights, byEndpoint: c.kinds }];
        }),
      ),
    };
  }
  return result;
});

// ---------------------------------------------------------------------------------------------
// 7. Memory: JS heap growth after 100,000 track() calls with the collector down (connection
// refused), in chunks of 100 with a yield between them. Heap measured with CDP
// HeapProfiler.collectGarbage then Runtime.getHeapUsage, after init and 2 s after the last call.
// localStorage use is reported too: moesif-browser-js keeps its queue there, not in the heap.

await workload('memory', async () => {
  /** @type {Record<string, unknown>} */
  const result = { calls: N.memoryCalls };
  for (const sdk of SDKS) {
    const run = runId(`memory-${sdk}`);
    servers.page(`/memory-${run}`, sdkPage(sdk, `moesif.init(${JSON.stringify(initOptions(servers.downHost(run)))});`));
    result[sdk] = await fresh(async (page, context) => {
      const cdp = await context.newCDPSession(page);
      await page.goto(`${servers.siteUrl}/memory-${run}`);
      await sleep(200);
      const heap = async () => {
        await cdp.send('HeapProfiler.collectGarbage');
        return (await cdp.send('Runtime.getHeapUsage')).usedSize;
      };
      const before = await heap();
      const r = await trackLoop(page, N.memoryCalls, 100, N.loopCapMs * 2);
      await sleep(2000);
      const after = await heap();
      const storageBytes = await page.evaluate(() => {
        let n = 0;
        for (let i = 0; i < localStorage.length; i++) {
          const key = /** @type {string} */ (localStorage.key(i));
          n += (key.length + (localStorage.getItem(key) ?? '').length) * 2; // UTF-16
        }
        return n;
      });
      return { callsDone: r.done, wallMs: r.wallMs, heapBeforeBytes: before, heapGrowthBytes: after - before, localStorageBytes: storageBytes };
    });
  }
  return result;
});

// ---------------------------------------------------------------------------------------------
// 8. Server: usertrail/server against moesif-nodejs under autocannon (bench/server-load.mjs).

await workload('server', () => serverWorkload());

// ---------------------------------------------------------------------------------------------

const chromiumVersion = browser.version();
await browser.close();
await servers.close();

const cpuModel = (() => {
  try {
    return /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model;
  } catch {
    return os.cpus()[0]?.model;
  }
})();
const packageVersion = (/** @type {string} */ file) => JSON.parse(readFileSync(file, 'utf8')).version;
const results = {
  date: new Date().toISOString(),
  machine: { nproc: os.availableParallelism(), cpu: cpuModel, memoryGiB: Math.round(os.totalmem() / 2 ** 30), loadAverage: os.loadavg().map((x) => +x.toFixed(2)) },
  chromium: chromiumVersion,
  node: process.version,
  sdks: {
    usertrail: { version: packageVersion(`${ROOT}package.json`), file: 'dist/moesif.min.js' },
    moesif: { version: packageVersion(`${ROOT}node_modules/moesif-browser-js/package.json`), file: 'node_modules/moesif-browser-js/moesif.min.js' },
  },
  quick: QUICK,
  durationS: Math.round((Date.now() - started) / 1000),
  workloads,
  notes,
  failures,
};
// A partial run (BENCH_ONLY) goes to its own file, so that it never replaces the full run that the READMEs quote.
writeFileSync(`${ROOT}bench/${ONLY ? 'results-partial.json' : 'results.json'}`, `${JSON.stringify(results, null, 2)}\n`);
console.log(renderTable(results));
if (workloads.server && !(/** @type {any} */ (workloads.server).error)) console.log(`\n${renderServerTable(workloads.server)}`);
if (failures.length) {
  console.error(`\n${failures.length} workload(s) could not run:\n${failures.join('\n')}`);
  process.exit(1);
}
