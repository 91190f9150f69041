// @ts-check
/**
 * The markdown table of bench/results.json: one row per measure, usertrail and moesif side by side,
 * the ratio usertrail / moesif, and the product's target where issue 8 sets one.
 *
 *   node bench/report.mjs   (prints the table of the last run)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** @param {number} x @param {number} [digits] */
const num = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
/** @param {number} a @param {number} b */
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? (a / b).toFixed(2) : 'n/a');
const µs = (/** @type {number} */ ms) => `${num(ms * 1000, 2)} µs`;
const ms = (/** @type {number} */ x) => `${num(x, 2)} ms`;
const kb = (/** @type {number} */ bytes) => `${num(bytes / 1024, 1)} KiB`;
const mib = (/** @type {number} */ bytes) => `${num(bytes / 2 ** 20, 2)} MiB`;
const verdict = (/** @type {boolean} */ ok) => (ok ? 'met' : '**missed**');
/** The two APIs of the capture workloads, as their rows name them. */
const CAPTURE_APIS = /** @type {const} */ ([
  ['fetch', 'fetch()'],
  ['xhr', 'XMLHttpRequest'],
]);

/** @param {any} results */
export function renderTable(results) {
  const w = results.workloads;
  /** @type {string[][]} */
  const rows = [];
  const row = (/** @type {string[]} */ ...cells) => rows.push(cells);
  const failed = (/** @type {any} */ x) => !x || x.error;

  if (!failed(w.bundle)) {
    const { umd, esmImport } = w.bundle;
    row('Bundle: UMD raw', `${num(umd.usertrail.raw)} B`, `${num(umd.moesif.raw)} B`, ratio(umd.usertrail.raw, umd.moesif.raw), '');
    const r = umd.usertrail.gzip / umd.moesif.gzip;
    row('Bundle: UMD gzip -9', `${num(umd.usertrail.gzip)} B`, `${num(umd.moesif.gzip)} B`, ratio(umd.usertrail.gzip, umd.moesif.gzip), `<= 0.33: ${verdict(r <= 1 / 3)}`);
    row(
      `Bundle: ESM import of ${esmImport.names.join(' + ')}, gzip -9 (vs moesif's UMD; it has no ESM build)`,
      `${num(esmImport.usertrail.gzip)} B (${num(esmImport.usertrail.raw)} B raw)`,
      `${num(umd.moesif.gzip)} B`,
      ratio(esmImport.usertrail.gzip, umd.moesif.gzip),
      '',
    );
  }
  if (!failed(w.load)) {
    const { usertrail: u, moesif: m, loads } = w.load;
    row(`Load: script evaluation (median of ${loads})`, ms(u.evalMs), ms(m.evalMs), ratio(u.evalMs, m.evalMs), '');
    row(`Load: init() (median of ${loads})`, ms(u.initMs), ms(m.initMs), ratio(u.initMs, m.initMs), '');
    row(`Load: evaluation + init() (median of ${loads})`, ms(u.totalMs), ms(m.totalMs), ratio(u.totalMs, m.totalMs), '');
  }
  if (!failed(w.track)) {
    const { usertrail: u, moesif: m, calls } = w.track;
    const done = (/** @type {any} */ s) => (s.callsDone < calls ? ` (only ${num(s.callsDone)} calls in the time cap)` : '');
    const r = u.perCallMs / m.perCallMs;
    row(`track(): per call, synchronous (median of chunks, ${num(calls)} calls)`, µs(u.perCallMs) + done(u), µs(m.perCallMs) + done(m), ratio(u.perCallMs, m.perCallMs), `<= 0.20: ${verdict(r <= 0.2)}`);
    row('track(): per call, all main-thread work until 1 s after the last call', µs(u.mainThreadPerCallMs), µs(m.mainThreadPerCallMs), ratio(u.mainThreadPerCallMs, m.mainThreadPerCallMs), '');
    // Runs from before the count have no `received`.
    const received = (/** @type {any} */ s) => (s.received === undefined ? 'not counted' : `${num(s.received)} / ${num(s.callsTotal)}`);
    row('track(): actions received by the collector (within 10 s of the last call)', received(u), received(m), '', '');
  }
  if (!failed(w.fetch)) {
    const { usertrail: u, moesif: m, fetches } = w.fetch;
    const r = u.overheadPerCallMs / m.overheadPerCallMs;
    row(`fetch(): time per call without capture (${num(fetches)} fetches)`, ms(u.plainPerCallMs), ms(m.plainPerCallMs), ratio(u.plainPerCallMs, m.plainPerCallMs), '');
    row(
      'fetch(): overhead per call with start()',
      ms(u.overheadPerCallMs),
      ms(m.overheadPerCallMs),
      ratio(u.overheadPerCallMs, m.overheadPerCallMs),
      `<= 0.20 and < 0.1 ms: ${verdict(r <= 0.2 && u.overheadPerCallMs < 0.1)}`,
    );
    row(
      'fetch(): captured calls received by the collector, per page (fetches + 20 warm-up)',
      `${num(u.eventsReceivedPerPage)} / ${num(u.fetchesPerPage + 20)}`,
      `${num(m.eventsReceivedPerPage)} / ${num(m.fetchesPerPage + 20)}`,
      '',
      '',
    );
  }
  if (!failed(w.capture)) {
    const { calls } = w.capture;
    for (const [api, label] of CAPTURE_APIS) {
      const { usertrail: u, moesif: m } = w.capture[api];
      const pairs = `median of ${u.pairs} pairs of ${num(calls)}-call blocks`;
      row(`Capture, ${label}: wall-clock overhead per call with start() (${pairs})`, ms(u.overheadPerCallMs), ms(m.overheadPerCallMs), ratio(u.overheadPerCallMs, m.overheadPerCallMs), '');
      row(
        `Capture, ${label}: main-thread time per call with start() (CDP TaskDuration, block + 0.5 s; ${pairs})`,
        µs(u.mainThreadOverheadPerCallMs),
        µs(m.mainThreadOverheadPerCallMs),
        ratio(u.mainThreadOverheadPerCallMs, m.mainThreadOverheadPerCallMs),
        `< 100 µs: ${verdict(u.mainThreadOverheadPerCallMs < 0.1)}`,
      );
      row(
        `Capture, ${label}: main-thread CPU time per call with start() (/proc schedstat of the renderers' main threads; ${pairs})`,
        µs(u.mainThreadCpuOverheadPerCallMs),
        µs(m.mainThreadCpuOverheadPerCallMs),
        ratio(u.mainThreadCpuOverheadPerCallMs, m.mainThreadCpuOverheadPerCallMs),
        `< 100 µs: ${verdict(u.mainThreadCpuOverheadPerCallMs < 0.1)}`,
      );
      row(`Capture, ${label}: captured calls received by the collector`, `${num(u.eventsReceived)} / ${num(u.capturedCalls)}`, `${num(m.eventsReceived)} / ${num(m.capturedCalls)}`, '', '');
    }
  }
  if (!failed(w.captureWithoutDevTools)) {
    const { calls } = w.captureWithoutDevTools;
    for (const [api, label] of CAPTURE_APIS) {
      const { usertrail: u, moesif: m } = w.captureWithoutDevTools[api];
      const pairs = `median of ${u.pairs} pairs of ${num(calls)}-call blocks`;
      row(`Capture without DevTools attached, ${label}: wall-clock overhead per call with start() (${pairs})`, ms(u.overheadPerCallMs), ms(m.overheadPerCallMs), ratio(u.overheadPerCallMs, m.overheadPerCallMs), '');
      row(
        `Capture without DevTools attached, ${label}: main-thread CPU time per call with start() (as in a visitor's browser; ${pairs})`,
        µs(u.mainThreadCpuOverheadPerCallMs),
        µs(m.mainThreadCpuOverheadPerCallMs),
        ratio(u.mainThreadCpuOverheadPerCallMs, m.mainThreadCpuOverheadPerCallMs),
        `< 100 µs: ${verdict(u.mainThreadCpuOverheadPerCallMs < 0.1)}`,
      );
    }
  }
  if (!failed(w.network)) {
    const { usertrail: u, moesif: m, calls } = w.network;
    const r = u.requests / m.requests;
    const endpoints = (/** @type {any} */ s) =>
      Object.entries(s.byEndpoint)
        .map(([path, items]) => `${path}: ${items} item${items === 1 ? '' : 's'}`)
        .join(', ');
    row(
      `Network: POST requests for ${num(calls)} track()`,
      `${num(u.requests)} (${endpoints(u)})`,
      `${num(m.requests)} (${endpoints(m)})`,
      ratio(u.requests, m.requests),
      `<= 0.50: ${verdict(r <= 0.5)}`,
    );
    row('Network: CORS preflights (collector on another origin)', num(u.preflights), num(m.preflights), '', '');
    row('Network: body bytes sent', kb(u.bodyBytes), kb(m.bodyBytes), ratio(u.bodyBytes, m.bodyBytes), '');
    row('Network: bytes on the wire (request lines + headers + bodies)', kb(u.wireBytes), kb(m.wireBytes), ratio(u.wireBytes, m.wireBytes), '');
    row('Network: events received (repeats)', `${num(u.eventsReceived)} (${u.repeats})`, `${num(m.eventsReceived)} (${m.repeats})`, '', '');
  }
  if (!failed(w.close)) {
    const { latencyMs } = w.close;
    for (const [placement, label] of [
      ['crossOrigin', 'collector on another origin'],
      ['sameOrigin', "collector on the page's origin"],
    ]) {
      const { usertrail: u, moesif: m, pages } = w.close[placement];
      row(
        `Page close: events delivered, ${label}, ${latencyMs} ms latency (repeats)`,
        `${u.delivered} / ${pages} (${u.repeats})`,
        `${m.delivered} / ${pages} (${m.repeats})`,
        ratio(u.delivered, m.delivered),
        `${pages} / ${pages}: ${verdict(u.delivered === pages)}`,
      );
    }
  }
  if (!failed(w.memory)) {
    const { usertrail: u, moesif: m, calls } = w.memory;
    const done = (/** @type {any} */ s) => (s.callsDone < calls ? ` (only ${num(s.callsDone)} calls in ${num(s.wallMs / 1000, 0)} s)` : ` (${num(s.wallMs / 1000, 1)} s)`);
    row(`Memory: JS heap growth after ${num(calls)} track(), collector down`, mib(u.heapGrowthBytes) + done(u), mib(m.heapGrowthBytes) + done(m), ratio(u.heapGrowthBytes, m.heapGrowthBytes), '');
    row('Memory: localStorage held afterwards', kb(u.localStorageBytes), kb(m.localStorageBytes), ratio(u.localStorageBytes, m.localStorageBytes), '');
  }

  const head = `| Measure | usertrail ${results.sdks.usertrail.version} | moesif-browser-js ${results.sdks.moesif.version} | usertrail / moesif | Target |`;
  const lines = [
    `Benchmark of ${results.date.slice(0, 10)}: ${results.machine.nproc} cores (${results.machine.cpu}), load average ${results.machine.loadAverage.join(' ')} at the end; Chromium ${results.chromium}; Node ${results.node}${results.quick ? '; QUICK run (fewer samples)' : ''}.`,
    '',
    head,
    '|---|---:|---:|---:|---|',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
  ];
  if (results.notes?.length) lines.push('', ...results.notes.map((/** @type {string} */ n) => `- ${n}`));
  if (results.failures?.length) lines.push('', ...results.failures.map((/** @type {string} */ f) => `- did not finish: ${f.split('\n')[0]}`));
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(renderTable(JSON.parse(readFileSync(new URL('./results.json', import.meta.url), 'utf8'))));
}
