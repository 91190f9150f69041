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
 *   BENCH_ONLY=track,capture node bench/run.mjs   some workloads only
 *   BENCH_BUDGET_S=570 node bench/run.mjs    the whole run's time budget (default 570 s)
 *
 * Each workload has a time cap, within what is left of the run's budget: one that cannot finish in
 * time (or whose browser died) is stopped, reported as such, and the next one runs. SIGTERM, SIGINT
 * or SIGHUP (a CI time limit, Ctrl-C) stop the run the same way: what finished is written and printed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { bundleWorkload } from './bundle.mjs';
import { startServers } from './servers.mjs';
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs';
import { renderTable } from './report.mjs';
import { capturePairsScript, PAGE_API_CALLS, readCapturePairs } from './page-api-calls.mjs';
import { startMarks } from './without-devtools.mjs';
import { rendererMainThreadCpuMs } from './renderer-cpu.mjs';
import { outgoingWorkload, renderOutgoingTable } from './outgoing.mjs';
import { renderServerTable, serverWorkload } from './server-load.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const QUICK = process.env.BENCH_QUICK === '1';
// `fetch` is the capture workload's former name.
const ONLY = process.env.BENCH_ONLY?.split(',').flatMap((s) => (['fetch', 'capture'].includes(s.trim()) ? ['capture', 'captureWithoutDevTools'] : [s.trim()]));
/** The whole run's time: 10 minutes for `npm run bench` on a busy 2-core machine, less the build. */
const BUDGET_MS = Number(process.env.BENCH_BUDGET_S ?? 570) * 1000;
const FILES = {
  // BENCH_USERTRAIL_UMD: another build of usertrail's UMD file to measure (an earlier commit's, say).
  usertrailUmd: process.env.BENCH_USERTRAIL_UMD ?? `${ROOT}dist/moesif.min.js`,
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
  /** The capture workload: calls per block, pairs of blocks (plain, captured) per page, rounds of pages. */
  captureCalls: QUICK ? 100 : 150,
  capturePairs: QUICK ? 2 : 3,
  captureRounds: QUICK ? 1 : 4,
  /** Rounds of the same pages without DevTools attached (each page a Chromium of its own). */
  captureRoundsWithoutDevTools: QUICK ? 1 : 2,
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

/** A page that loads one SDK with a script tag and runs `body` after it (and `before` before it). */
const sdkPage = (/** @type {Sdk} */ sdk, body = '', before = '') =>
  `<!doctype html><html><head><meta charset="utf-8"><title>bench</title><script>${before}</script><script src="/sdk/${sdk}.js"></script></head><body><script>${body}</script></body></html>`;

/** The same options for both SDKs; batching on (moesif's default is off). */
const initOptions = (/** @type {string} */ host, extra = {}) => ({ applicationId: 'bench-app', host, batchEnabled: true, ...extra });

// ---------------------------------------------------------------------------------------------

const started = Date.now();
const servers = await startServers({ sdks: { usertrail: FILES.usertrailUmd, moesif: FILES.moesifUmd } });
/**
 * One Chromium for the run, relaunched if it dies. Playwright's own signal handlers are off: on
 * SIGTERM they close the browser and leave the process running, so that the workload under way
 * failed with "browserContext.close: Target page, context or browser has been closed" (what a 300 s
 * cap did to the memory workload) and the rest of the run went on without a browser.
 */
const launch = () =>
  chromium.launch({
    executablePath: chromiumPath,
    args: [...chromiumArgs, '--enable-precise-memory-info'],
    handleSIGTERM: false,
    handleSIGINT: false,
    handleSIGHUP: false,
  });
let browser = await launch();

/** @type {Record<string, unknown>} */
const workloads = {};
/** @type {string[]} */
const failures = [];
/** @type {string[]} */
const notes = [];

/**
 * The workload under way: the contexts it opened (closed at once when it is stopped, so that whatever
 * it awaits in a page fails fast) and why it was stopped, if it was.
 * @typedef {{ name: string, deadline: number, contexts: Set<import('playwright-core').BrowserContext>, stopped?: string, stop: (why: string) => void }} Running
 * @type {Running | undefined}
 */
let current;
/** Set by SIGTERM, SIGINT or SIGHUP: no workload starts after it. */
let interrupted = '';

/** A new browser context of the workload under way, closed with it if it is stopped. */
async function newContext() {
  const run = current;
  if (run?.stopped) throw new Error(run.stopped);
  const context = await browser.newContext();
  run?.contexts.add(context);
  context.on('close', () => run?.contexts.delete(context));
  return context;
}

/**
 * Runs \`fn\` in a fresh context (empty storage, no cache) and closes it afterwards. A failure to close
 * (the context already closed by a stop) never hides the error that ended \`fn\`.
 * @template T
 * @param {(page: import('playwright-core').Page, context: import('playwright-core').BrowserContext) => Promise<T>} fn
 */
async function fresh(fn) {
  const context = await newContext();
  try {
    return await fn(await context.newPage(), context);
  } finally {
    await context.close().catch(() => {});
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

/**
 * Runs one workload within \`capS\` seconds (or what is left of the run's budget, if less). One that
 * fails, runs out of time or loses its browser is reported with why, and the run goes on (it exits
 * non-zero at the end); one that no longer fits in the budget is not started, and says so.
 * @param {string} name @param {number} capS @param {() => Promise<unknown>} fn
 */
async function workload(name, capS, fn) {
  if (ONLY && !ONLY.includes(name)) return;
  const left = BUDGET_MS - (Date.now() - started);
  if (interrupted || left < 10_000) {
    const why = interrupted ? `not run: the run was stopped by ${interrupted}` : `not run: the run's ${BUDGET_MS / 1000} s budget was spent`;
    workloads[name] = { error: why };
    failures.push(`${name}: ${why}`);
    process.stderr.write(`bench: ${name} ${why}\n`);
    return;
  }
  const capMs = Math.min(capS * 1000, left);
  const t0 = Date.now();
  process.stderr.write(`bench: ${name} ... `);
  if (!browser.isConnected()) {
    notes.push(`${name}: Chromium had closed; relaunched.`);
    browser = await launch();
  }
  /** @type {(error: Error) => void} */
  let abandon = () => {};
  const stopped = new Promise((_, reject) => (abandon = reject));
  /** @type {Running} */
  const run = {
    name,
    deadline: t0 + capMs,
    contexts: new Set(),
    stop(why) {
      if (run.stopped) return;
      run.stopped = why;
      for (const context of run.contexts) context.close().catch(() => {});
      abandon(new Error(why));
    },
  };
  current = run;
  const stopOnDisconnect = () => run.stop('Chromium closed or crashed');
  browser.on('disconnected', stopOnDisconnect);
  const timer = setTimeout(() => run.stop(`did not finish within ${Math.round(capMs / 1000)} s`), capMs);
  const work = fn();
  try {
    const result = await Promise.race([work, stopped]);
    workloads[name] = { ...(/** @type {object} */ (result)), durationS: Math.round((Date.now() - t0) / 1000) };
    process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (error) {
    const why = run.stopped ?? (error instanceof Error ? error.stack : String(error));
    failures.push(`${name}: ${why}`);
    workloads[name] = { error: run.stopped ?? String(error), durationS: Math.round((Date.now() - t0) / 1000) };
    process.stderr.write(`FAILED (${run.stopped ?? String(error)})\n`);
  } finally {
    clearTimeout(timer);
    browser.off('disconnected', stopOnDisconnect);
    // A stopped workload's own code may still be winding down: it gets a moment, then is left behind.
    await Promise.race([work.catch(() => {}), sleep(10_000)]);
    current = undefined;
  }
}

/**
 * Paces a workload's rounds to its cap: `next()` before each round says whether one more, as long
 * as the rounds so far took on average, still fits (with 5 s to spare). When it does not, the
 * workload reports what it measured in the rounds it made, and a note says how many of how many.
 * `share`: the part of the workload's time left that these rounds may take (others follow them).
 * @param {string} what @param {number} total @param {number} [share]
 */
function paced(what, total, share = 1) {
  const t0 = Date.now();
  const until = current ? t0 + (current.deadline - 5000 - t0) * share : Infinity;
  let started = 0;
  return {
    next() {
      const run = current;
      if (started && run && Date.now() + ((Date.now() - t0) / started) * 1.2 > until) {
        notes.push(`${run.name}: ${started} of ${total} ${what} within its time cap; its figures are over those.`);
        started = Infinity; // one note
        return false;
      }
      if (started === Infinity) return false;
      started++;
      return true;
    },
  };
}

for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT', 'SIGHUP'])) {
  process.on(signal, () => {
    if (interrupted) process.exit(1); // a second signal: leave now
    interrupted = signal;
    process.stderr.write(`\nbench: ${signal}: stopping; the results so far are written\n`);
    current?.stop(`interrupted by ${signal} after ${Math.round((Date.now() - started) / 1000)} s of the run`);
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Bundle

await workload('bundle', 45, () => bundleWorkload(FILES));

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

await workload('load', 60, async () => {
  /** @type {Record<Sdk, { evalMs: number, initMs: number, totalMs: number }[]>} */
  const samples = { usertrail: [], moesif: [] };
  let isolated = true;
  const pace = paced('loads per SDK', N.loads);
  for (let i = 0; i < N.loads && pace.next(); i++) {
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
  return { loads: samples.usertrail.length, timerResolution: isolated ? '5 µs (cross-origin isolated)' : '100 µs', usertrail: summary('usertrail'), moesif: summary('moesif') };
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

await workload('track', 150, async () => {
  const CHUNK = 100;
  /** @type {Record<Sdk, { perCallMs: number[], meanMs: number[], mainThreadPerCallMs: number[], done: number[], received: number }>} */
  const out = { usertrail: { perCallMs: [], meanMs: [], mainThreadPerCallMs: [], done: [], received: 0 }, moesif: { perCallMs: [], meanMs: [], mainThreadPerCallMs: [], done: [], received: 0 } };
  const pace = paced('pages per SDK', N.trackPages);
  for (let round = 0; round < N.trackPages && pace.next(); round++) {
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
        // The main-thread figure means little unless the actions were delivered: a build that dropped most of
        // them (the keepalive quota bug fixed in 2fbee60) looked half as costly. The page stays open meanwhile.
        out[sdk].received += (await settle(run, r.done, { quietMs: 2000, maxMs: 10_000 })).ids.size;
      });
    }
  }
  const summary = (/** @type {Sdk} */ sdk) => ({
    perCallMs: median(out[sdk].perCallMs),
    meanPerCallMs: median(out[sdk].meanMs),
    mainThreadPerCallMs: median(out[sdk].mainThreadPerCallMs),
    callsDone: Math.min(...out[sdk].done),
    callsTotal: out[sdk].done.reduce((a, b) => a + b, 0),
    received: out[sdk].received,
  });
  return { calls: N.trackCalls, pages: out.usertrail.done.length, chunk: CHUNK, usertrail: summary('usertrail'), moesif: summary('moesif') };
});

// ---------------------------------------------------------------------------------------------
// 4. Capture: what start() costs the page per API call, for fetch and for XMLHttpRequest. In each
// page (one per API and SDK, per round; the SDK initialised), blocks of 150 sequential calls of a
// same-origin endpoint (awaiting the response and its JSON body) alternate without and with capture
// (start() before the block, stop() after it), 3 pairs per page, each block followed by 0.5 s of quiet
// for what capture defers. Pairs next to each other in one page see the same machine load: on a shared
// 2-core machine that matters more than anything. Two figures per call, each the median over all
// pairs of (captured block - plain block):
// - wall-clock time per call;
// - main-thread time per call: the renderer's main-thread task time (CDP Performance TaskDuration, as
//   in the track() workload) over the block and its quiet time: it includes what capture defers to
//   idle callbacks and timers, and the sending of what it recorded;
// - main-thread CPU time per call, over the same span (see rendererMainThreadCpuMs): task time also
//   counts the time a task waited for a core, which on a loaded machine is most of it.

await workload('capture', 180, async () => {
  const APIS = /** @type {const} */ (['fetch', 'xhr']);
  /** @type {Record<string, { wallPerCallMs: number[], mainThreadPerCallMs: number[], cpuPerCallMs: number[], captured: number, received: number, shortBlocks: number }>} */
  const out = {};
  /** @type {Array<[string, string, number]>} runs to count at the end: key, run, captured calls */
  const counted = [];
  const pace = paced('rounds', N.captureRounds);
  for (let round = 0; round < N.captureRounds && pace.next(); round++) {
    for (const api of round % 2 ? [...APIS].reverse() : APIS) {
      for (const sdk of order(round)) {
        const key = `${api}-${sdk}`;
        const o = (out[key] ??= { wallPerCallMs: [], mainThreadPerCallMs: [], cpuPerCallMs: [], captured: 0, received: 0, shortBlocks: 0 });
        const run = runId(`capture-${key}`);
        servers.page(`/capture-${run}`, sdkPage(sdk, `moesif.init(${JSON.stringify(initOptions(servers.collectorHost(run)))});`, PAGE_API_CALLS));
        await fresh(async (page, context) => {
          const cdp = await context.newCDPSession(page);
          await cdp.send('Performance.enable');
          await page.goto(`${servers.siteUrl}/capture-${run}`);
          /** One block; its wall-clock and main-thread time per call. @param {boolean} capture @param {number} n */
          const block = async (capture, n) => {
            const before = await perfMetrics(cdp);
            const cpuBefore = rendererMainThreadCpuMs();
            const r = await page.evaluate(([api, n, capture, capMs]) => /** @type {any} */ (window).block(api, n, capture, capMs), /** @type {const} */ ([api, n, capture, N.loopCapMs]));
            await sleep(500);
            const after = await perfMetrics(cdp);
            const cpu = (rendererMainThreadCpuMs() - cpuBefore) / r.done;
            if (capture) o.captured += r.done;
            if (r.done < n) o.shortBlocks++;
            return { wall: r.wallMs / r.done, main: ((after.TaskDuration - before.TaskDuration) * 1000) / r.done, cpu };
          };
          // Warm-up: the connection, the JIT of both paths, the SDK's first batch.
          await block(false, 20);
          await block(true, 20);
          for (let pair = 0; pair < N.capturePairs; pair++) {
            // Which of the two goes first alternates, so that a drift in load favours neither.
            const [first, second] = pair % 2 ? [true, false] : [false, true];
            const a = await block(first, N.captureCalls);
            const b = await block(second, N.captureCalls);
            const [plain, captured] = first ? [b, a] : [a, b];
            o.wallPerCallMs.push(captured.wall - plain.wall);
            o.mainThreadPerCallMs.push(captured.main - plain.main);
            o.cpuPerCallMs.push(captured.cpu - plain.cpu);
          }
          // Let the SDK send the rest of what it captured (both flush on pagehide), to count it.
          await page.goto(`${servers.siteUrl}/blank`);
          await sleep(300);
        });
        counted.push([key, run, 0]);
      }
    }
  }
  await sleep(1500);
  for (const [key, run] of counted) out[key].received += servers.counts(run).kinds['events/batch'] ?? 0;
  /** @type {Record<string, unknown>} */
  const result = { calls: N.captureCalls, pairsPerPage: N.capturePairs, rounds: N.captureRounds };
  for (const api of APIS) {
    /** @type {Record<string, unknown>} */
    const perSdk = {};
    for (const sdk of SDKS) {
      const o = out[`${api}-${sdk}`];
      perSdk[sdk] = {
        overheadPerCallMs: median(o.wallPerCallMs),
        mainThreadOverheadPerCallMs: median(o.mainThreadPerCallMs),
        mainThreadCpuOverheadPerCallMs: median(o.cpuPerCallMs),
        pairs: o.wallPerCallMs.length,
        capturedCalls: o.captured,
        eventsReceived: o.received,
      };
      if (o.received < o.captured * 0.9)
        notes.push(`capture (${api}): the collector received ${o.received} of ${sdk}'s ${o.captured} captured calls; its figures may not include all of its capture work.`);
      if (o.shortBlocks) notes.push(`capture (${api}): ${o.shortBlocks} of ${sdk}'s blocks hit the time cap before ${N.captureCalls} calls.`);
    }
    result[api] = perSdk;
  }
  return result;
});

// ---------------------------------------------------------------------------------------------
// 4b. Capture again, in a Chromium without DevTools attached, as in a visitor's browser (see
// without-devtools.mjs: under Playwright, each request the page sends also reports itself to DevTools
// on the main thread, which counted against the SDKs' batch requests). The same blocks and pairs as in
// 4, each page driving itself: main-thread CPU time and wall-clock time per call, each the median over
// all pairs of (captured block - plain block).

await workload('captureWithoutDevTools', 90, async () => {
  const APIS = /** @type {const} */ (['fetch', 'xhr']);
  const marks = await startMarks();
  /** @type {Record<string, { cpuPerCallMs: number[], wallPerCallMs: number[], shortBlocks: number }>} */
  const out = {};
  try {
    const pace = paced('rounds', N.captureRoundsWithoutDevTools);
    for (let round = 0; round < N.captureRoundsWithoutDevTools && pace.next(); round++) {
      for (const api of round % 2 ? [...APIS].reverse() : APIS) {
        for (const sdk of order(round)) {
          const o = (out[`${api}-${sdk}`] ??= { cpuPerCallMs: [], wallPerCallMs: [], shortBlocks: 0 });
          const run = runId(`capture-without-devtools-${api}-${sdk}`);
          const workload = capturePairsScript({ api, calls: N.captureCalls, pairs: N.capturePairs, quietMs: 500, capMs: N.loopCapMs });
          servers.page(`/${run}`, sdkPage(sdk, `moesif.init(${JSON.stringify(initOptions(servers.collectorHost(run)))});\n${workload}`, `${PAGE_API_CALLS}\n${marks.script}`));
          const reader = readCapturePairs();
          await marks.run(`${servers.siteUrl}/${run}`, reader.onMark, Math.max(10_000, (current?.deadline ?? Date.now() + 60_000) - Date.now()));
          for (const pair of reader.pairs) {
            o.cpuPerCallMs.push(pair.cpuPerCallMs);
            o.wallPerCallMs.push(pair.wallPerCallMs);
            if (pair.callsCaptured < N.captureCalls) o.shortBlocks++;
          }
        }
      }
    }
  } finally {
    await marks.close();
  }
  /** @type {Record<string, unknown>} */
  const result = { calls: N.captureCalls };
  for (const api of APIS) {
    /** @type {Record<string, unknown>} */
    const perSdk = {};
    for (const sdk of SDKS) {
      const o = out[`${api}-${sdk}`];
      perSdk[sdk] = { mainThreadCpuOverheadPerCallMs: median(o.cpuPerCallMs), overheadPerCallMs: median(o.wallPerCallMs), pairs: o.cpuPerCallMs.length };
      if (o.shortBlocks) notes.push(`captureWithoutDevTools (${api}): ${o.shortBlocks} of ${sdk}'s blocks hit the time cap before ${N.captureCalls} calls.`);
    }
    result[api] = perSdk;
  }
  return result;
});

// ---------------------------------------------------------------------------------------------
// 5. Network: 1,000 track() calls in one synchronous loop (as e2e/delivery.spec.ts does), default
// batch size (25) and wait (2.5 s); everything the collector (another origin, as in production)
// receives until all 1,000 arrived: POSTs, CORS preflights, body bytes and bytes on the wire.

await workload('network', 60, async () => {
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
  const context = await newContext();
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

await workload('close', 90, async () => {
  /** @type {Record<string, unknown>} */
  const result = { latencyMs: 150 };
  for (const [placement, hostFor, pages] of /** @type {const} */ ([
    ['crossOrigin', servers.collectorHost, N.closePages],
    ['sameOrigin', servers.sameOriginHost, N.closePagesSameOrigin],
  ])) {
    const runs = { usertrail: runId(`close-${placement}-usertrail`), moesif: runId(`close-${placement}-moesif`) };
    const pace = paced(`waves of ${N.closeWave} pages per SDK (${placement})`, Math.ceil(pages / N.closeWave), placement === 'crossOrigin' ? 0.75 : 1);
    let ran = 0;
    for (let first = 0; first < pages && pace.next(); first += N.closeWave) {
      ran = Math.min(first + N.closeWave, pages);
      const wave = [];
      for (const sdk of order(first / N.closeWave)) {
        for (let n = first; n < Math.min(first + N.closeWave, pages); n++) wave.push(closePage(sdk, hostFor(runs[sdk]), n));
      }
      const contexts = await Promise.all(wave);
      // Keep the contexts (and the requests the closed pages left) alive a moment before closing them.
      await sleep(1000);
      await Promise.all(contexts.map((c) => c.close().catch(() => {})));
    }
    await sleep(1500);
    result[placement] = {
      pages: ran,
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

await workload('memory', 75, async () => {
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

await workload('server', 150, () => serverWorkload());

// ---------------------------------------------------------------------------------------------
// 9. Outgoing calls: startCaptureOutgoing() with node:http and fetch, against moesif-nodejs (bench/outgoing.mjs).

await workload('outgoing', 90, () => outgoingWorkload());

// ---------------------------------------------------------------------------------------------

const chromiumVersion = browser.version();
await browser.close().catch(() => {});
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
if (workloads.outgoing && !(/** @type {any} */ (workloads.outgoing).error)) console.log(`\n${renderOutgoingTable(/** @type {any} */ (workloads.outgoing))}`);
if (failures.length) {
  console.error(`\n${failures.length} workload(s) could not run:\n${failures.join('\n')}`);
  process.exit(1);
}
