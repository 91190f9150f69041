// @ts-check
/**
 * Capture's cost, build against build: what start() adds to the page's main-thread CPU time per API
 * call (the renderer's main thread, /proc schedstat: see renderer-cpu.mjs), for two or more builds of
 * the <script> file, pages of each build interleaved, each in a fresh Chromium without DevTools
 * attached, as in a visitor's browser (see without-devtools.mjs). For trying a change to capture or
 * delivery (issue 18) before `npm run bench`: pairs of the same build differ by 30 to 50 µs, so only a
 * difference several times that is worth reading; a trial build (a part swapped out) tells what that
 * part costs (bench/README.md, "Capture, seventh session" and "sixteenth session").
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
import { capturePairsScript, PAGE_API_CALLS, readCapturePairs } from './page-api-calls.mjs';
import { startMarks } from './without-devtools.mjs';

const files = process.argv.slice(2);
if (files.length < 1) throw new Error('usage: node bench/capture-ab.mjs <umd file> [<umd file> ...]');
const API = process.env.CAPTURE_API ?? 'fetch';
const CALLS = Number(process.env.CALLS ?? 150);
const ROUNDS = Number(process.env.ROUNDS ?? 12);
const PAIRS = Number(process.env.PAIRS ?? 3);
const builds = files.map((file) => readFileSync(file, 'utf8'));
const marks = await startMarks();

/** The page: its own API calls and the marks' script, then the SDK, then the workload. */
const PAGE = `<!doctype html><html><head><title>capture-ab</title><script>${PAGE_API_CALLS}\n${marks.script}</script>
<script src="/sdk.js"></script></head><body>
<script>moesif.init({ applicationId: 'capture-ab', host: location.host + '/collector', batchEnabled: true });
${capturePairsScript({ api: API, calls: CALLS, pairs: PAIRS, quietMs: 600 })}</script></body></html>`;

/** The build the next page loads. */
let current = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/sdk.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(builds[current]);
  if (req.url === '/page') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE);
  if (req.url === '/api/ping') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true,"at":123,"items":[1,2,3]}');
  // The collector: every batch accepted.
  req.resume();
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());

/** @type {number[][]} µs per call, per build */
const perCall = files.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  for (current = 0; current < builds.length; current++) {
    const reader = readCapturePairs();
    await marks.run(`http://127.0.0.1:${port}/page`, reader.onMark, 120_000);
    perCall[current].push(...reader.pairs.map((pair) => pair.cpuPerCallMs * 1000));
  }
}
server.close();
await marks.close();

const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`capture (${API}): main-thread CPU per call with start(), without DevTools, ${ROUNDS * PAIRS} pairs of ${CALLS}-call blocks per build`);
files.forEach((file, i) => console.log(`${median(perCall[i]).toFixed(0).padStart(6)} µs  ${file}  (pairs: ${perCall[i].map((x) => x.toFixed(0)).join(' ')})`));
