// @ts-check
/**
 * API latency with usertrail/server in front of the seed's endpoint, with the collector up, down
 * (connection refused), and slow (answers after 2 s), against no middleware at all. Prints numbers,
 * asserts nothing: the claim "a collector that is down or slow never hurts the API" is checked by
 * reading them. Needs `npm run build` (uses dist/server.mjs, as an app would).
 *
 *   npx tsx bench/server-latency.mjs [requests per scenario, default 2000] [rounds, default 2]
 *
 * Scenarios run in rounds, in a different order each round, so that warm-up and GC drift do not
 * favour whichever runs last.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { expressjwt } from 'express-jwt';
import { SignJWT } from 'jose';
import moesif from 'usertrail/server';
import { startCollector } from '../demo/collector/server.js';

const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 2);
const CONCURRENCY = 10;
const SECRET = 'shhhhhhared-secret';
const APP_ID = 'bench-app';

/** @param {http.Server} server @returns {Promise<number>} */
const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(/** @type {import('node:net').AddressInfo} */ (server.address()).port)));

/** @param {http.Server} server */
const close = (server) =>
  new Promise((resolve) => {
    server.close(() => resolve(undefined));
    server.closeAllConnections();
  });

/** A collector that takes 2 s to answer each request. */
async function startSlowCollector() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(201, { 'Content-Type': 'application/json' }).end('{}'), 2000));
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, close: () => close(server) };
}

/** A port nothing listens on. */
async function downUrl() {
  const server = http.createServer();
  const port = await listen(server);
  await close(server);
  return `http://127.0.0.1:${port}`;
}

/**
 * The seed's app; `baseUri` undefined means no middleware at all.
 * @param {string | undefined} baseUri
 */
async function startSeedApp(baseUri) {
  const app = express();
  const mw = baseUri ? moesif({ applicationId: APP_ID, baseUri }) : undefined;
  if (mw) app.use(mw);
  app.get('/test', expressjwt({ secret: SECRET, algorithms: ['HS256'] }), (_req, res) => {
    res.status(200);
    res.send('this is a response');
  });
  const server = http.createServer(app);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, mw, close: () => close(server) };
}

/** @param {number[]} sorted @param {number} p */
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * N requests, CONCURRENCY at a time; latency of each, in ms.
 * @param {string} url @param {string} token
 */
async function measure(url, token) {
  const headers = { Authorization: `Bearer ${token}` };
  for (let i = 0; i < 200; i++) await (await fetch(url, { headers })).text(); // warm-up (JIT, sockets)
  /** @type {number[]} */
  const times = [];
  let next = 0;
  const started = performance.now();
  // CPU time of this process (client, app and middleware together): less sensitive than wall time to
  // other work on a busy machine, so it shows what the middleware itself costs per request.
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        next += 1;
        const t0 = performance.now();
        const res = await fetch(url, { headers });
        await res.text();
        times.push(performance.now() - t0);
      }
    }),
  );
  const wall = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  const mean = times.reduce((s, t) => s + t, 0) / times.length;
  return { mean, p50: pct(times, 50), p95: pct(times, 95), p99: pct(times, 99), max: times[times.length - 1] ?? NaN, rps: (times.length / wall) * 1000, cpuUs: (cpu.user + cpu.system) / times.length };
}

const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('user_bench').sign(new TextEncoder().encode(SECRET));
const collector = await startCollector({ port: 0, host: '127.0.0.1', db: ':memory:', applicationId: APP_ID });
const slow = await startSlowCollector();
const scenarios = [
  ['no middleware', undefined],
  ['collector up', collector.url],
  ['collector down', await downUrl()],
  ['collector slow (2 s)', slow.url],
];

console.log(`GET /test with a JWT, ${N} requests per scenario, ${CONCURRENCY} concurrent, ${ROUNDS} rounds, Node ${process.version}`);
console.log('round scenario               mean ms   p50 ms   p95 ms   p99 ms   max ms     req/s  cpu µs/req   queued  sent  dropped');
for (let round = 1; round <= ROUNDS; round++) {
  const order = round % 2 === 1 ? scenarios : [...scenarios].reverse();
  for (const [name, baseUri] of order) {
    const app = await startSeedApp(baseUri);
    const r = await measure(`${app.url}/test`, token);
    const s = app.mw?.stats();
    const f = (/** @type {number} */ n) => n.toFixed(2).padStart(8);
    console.log(
      `${String(round).padEnd(6)}${String(name).padEnd(21)}${f(r.mean)} ${f(r.p50)} ${f(r.p95)} ${f(r.p99)} ${f(r.max)} ${r.rps.toFixed(0).padStart(9)} ${r.cpuUs.toFixed(0).padStart(11)}   ${String(s?.queued ?? '-').padStart(6)} ${String(s?.sent ?? '-').padStart(5)} ${String(s?.dropped ?? '-').padStart(8)}`,
    );
    await app.close();
  }
}
await collector.close();
await slow.close();
// Queued events of the "down" and "slow" apps are not flushed on purpose: their timers are unref'd,
// so the process exits here anyway, which is part of what this shows.
