// @ts-check
/**
 * Capture's cost, build against build: what start() adds to the page's main-thread CPU time per API
 * call (the renderer's main thread, /proc schedstat: see renderer-cpu.mjs), for two or more builds of
 * the <script> file in one Chromium, pages of each build interleaved. For trying a change to capture
 * or delivery (issue 18) before `npm run bench`: pairs of the same build differ by 30 to 50 µs, so
 * only a difference several times that is worth reading; a trial build (a part swapped out) tells
 * what that part costs (bench/README.md, "Capture, seventh session").
 *
 *   node bench/capture-ab.mjs dist/moesif.min.js /tmp/other.js      (fetch)
 *   CAPTURE_API=xhr ROUNDS=3 PAIRS=3 CALLS=400 node bench/capture-ab.mjs a.js b.js
 *
 * Per page: a warm-up, then PAIRS pairs of blocks of CALLS sequential same-origin calls (awaiting the
 * response and its JSON body), one plain and one with start(), each followed by 0.6 s of quiet for
 * the work capture defers; the figure is the median over all pages of (captured - plain) / CALLS.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs';
import { PAGE_API_CALLS } from './page-api-calls.mjs';
import { rendererMainThreadCpuMs } from './renderer-cpu.mjs';

const files = process.argv.slice(2);
if (files.length < 1) throw new Error('usage: node bench/capture-ab.mjs <umd file> [<umd file> ...]');
const API = process.env.CAPTURE_API ?? 'fetch';
const CALLS = Number(process.env.CALLS ?? 400);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PAIRS = Number(process.env.PAIRS ?? 3);
const builds = files.map((file) => readFileSync(file, 'utf8'));

/** The page: its own API calls, a block of them with or without capture, then the SDK. */
const PAGE = `<!doctype html><html><head><title>capture-ab</title><script>${PAGE_API_CALLS}
window.block = async (api, n, capture) => {
  if (capture) moesif.start();
  for (let i = 0; i < n; i++) await window.calls[api]();
  if (capture) moesif.stop();
};
</script><script src="/sdk.js"></script></head><body>
<script>moesif.init({ applicationId: 'capture-ab', host: location.host + '/collector', batchEnabled: true });</script></body></html>`;

/** The build the next page loads. */
let current = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/sdk.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(builds[current]);
  if (req.url?.startsWith('/page')) return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
  if (req.url === '/api/ping') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true,"at":123,"items":[1,2,3]}');
  // The collector: every batch accepted.
  req.resume();
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });

/** @type {number[][]} µs per call, per build */
const perCall = files.map(() => []);
const block = (/** @type {import('playwright-core').Page} */ page, /** @type {number} */ n, /** @type {boolean} */ capture) =>
  page.evaluate(([api, n, capture]) => /** @type {any} */ (window).block(api, n, capture), /** @type {const} */ ([API, n, capture]));
for (let round = 0; round < ROUNDS; round++) {
  for (current = 0; current < builds.length; current++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/page`);
    await block(page, 200, true);
    await block(page, 100, false);
    for (let pair = 0; pair < PAIRS; pair++) {
      /** @type {Record<string, number>} */
      const cpu = {};
      // Which block goes first alternates, so that a drift in load favours neither.
      for (const capture of pair % 2 ? [true, false] : [false, true]) {
        const before = rendererMainThreadCpuMs();
        await block(page, CALLS, capture);
        await new Promise((resolve) => setTimeout(resolve, 600));
        cpu[String(capture)] = ((rendererMainThreadCpuMs() - before) * 1000) / CALLS;
      }
      perCall[current].push(cpu.true - cpu.false);
    }
    await context.close();
  }
}
await browser.close();
server.close();

const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`capture (${API}): main-thread CPU per call with start(), ${ROUNDS * PAIRS} pairs of ${CALLS}-call blocks per build`);
files.forEach((file, i) => console.log(`${median(perCall[i]).toFixed(0).padStart(6)} µs  ${file}  (pairs: ${perCall[i].map((x) => x.toFixed(0)).join(' ')})`));
