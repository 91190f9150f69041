// @ts-check
/**
 * The server workload (issue 18): the seed's Express app (express-jwt 6 as the guide writes it, a
 * small JSON answer, plus a POST route with a 2 KB JSON body) with no middleware, with the real
 * moesif-nodejs (the exact devDependency) and with usertrail/server (dist/server.mjs, as an app
 * imports it), each app in its own process, under autocannon with 50 connections. The collector is
 * a counting collector in its own process (it decodes gzip and counts events, requests and bytes as
 * they came over the wire), up, answering 50 ms late, or down (a port nothing listens on). Rounds
 * are interleaved: every app and collector state once per round, the apps in a different order
 * each round. Asserts nothing; prints a table with the load average.
 *
 *   npm run bench:server          (builds first)
 *   node bench/server-load.mjs    against the dist/ already built
 *   BENCH_SERVER_SECONDS=3 BENCH_SERVER_ROUNDS=2 BENCH_SERVER_CONNECTIONS=50 node bench/server-load.mjs
 *   BENCH_USERTRAIL_SERVER=/path/to/server.mjs node bench/server-load.mjs   (another build: an earlier commit's)
 *   BENCH_USERTRAIL_SERVER=before=/tmp/a.mjs,after=/tmp/b.mjs node bench/server-load.mjs
 *     (several builds, named, interleaved in the same rounds: an A/B of a change to the middleware)
 *   BENCH_SERVER_STATES=up,down          (only these collector states; default up,slow,down)
 *   BENCH_SERVER_APP_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof'   (Node flags for the app processes)
 *     (the defaults: about 1.5 minutes in all, as part of `npm run bench`, which must stay within 10)
 *
 * Also run by bench/run.mjs (`npm run bench`), through serverWorkload().
 * Per case: 1 s of warm-up, then the measured load; then the app is given until its events stop
 * arriving (all delivered, or nothing new for 3 s; at most 20 s; not waited for with the collector
 * down) before it is asked for its CPU time, so that CPU per request includes the delivery of what
 * the load logged.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/**
 * The usertrail/server builds measured: the one in dist/, or another commit's (a file copied
 * elsewhere), or several as `name=path,name=path`, each measured in every round as an app of its own.
 * @type {Array<{ name: string, path: string }>}
 */
const USERTRAIL_BUILDS = (process.env.BENCH_USERTRAIL_SERVER ?? `${ROOT}dist/server.mjs`).split(',').map((entry) => {
  const eq = entry.indexOf('=');
  return eq < 0 ? { name: '', path: entry } : { name: entry.slice(0, eq), path: entry.slice(eq + 1) };
});
/** Node flags of the app processes (never the parent's): `--cpu-prof --cpu-prof-dir=DIR` profiles each app. */
const APP_FLAGS = (process.env.BENCH_SERVER_APP_FLAGS ?? '').split(' ').filter(Boolean);
const SECRET = 'shhhhhhared-secret';
/** moesif-nodejs refuses application ids shorter than 50 characters. */
const APP_ID = 'usertrail-bench-application-id-long-enough-for-moesif-nodejs-0001';
const LATENCY_MS = 50;
const ALL_STATES = /** @type {const} */ (['up', 'slow', 'down']);
/** @typedef {typeof ALL_STATES[number]} CollectorState */
/** 'none', 'moesif', or a usertrail/server build: 'usertrail', or 'usertrail:NAME' for a named one. @typedef {string} AppKind */
const USERTRAIL_APPS = USERTRAIL_BUILDS.map((build) => (build.name ? `usertrail:${build.name}` : 'usertrail'));
const APPS = ['none', 'moesif', ...USERTRAIL_APPS];
const COLLECTOR_STATES = /** @type {CollectorState[]} */ (
  (process.env.BENCH_SERVER_STATES ?? ALL_STATES.join(',')).split(',').filter((state) => ALL_STATES.includes(/** @type {any} */ (state)))
);
const isUsertrail = (/** @type {AppKind} */ app) => app === 'usertrail' || app.startsWith('usertrail:');

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** @param {http.Server} server @returns {Promise<number>} */
const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(/** @type {import('node:net').AddressInfo} */ (server.address()).port)));

// ---------------------------------------------------------------------------------------------
// Role: the app (one process per case)

async function runApp(/** @type {AppKind} */ kind, /** @type {string} */ collectorUrl, /** @type {string} */ serverPath) {
  // Loaded as the seed's CommonJS app loads them (not typed as imports: express-jwt 6 ships no types).
  const load = createRequire(import.meta.url);
  const express = load('express');
  // The seed's API: `const jwt = require('express-jwt')`, the token on req.user.
  const jwt = load('express-jwt-6');
  const app = express();
  let served = 0;
  app.use((/** @type {any} */ _req, /** @type {any} */ _res, /** @type {() => void} */ next) => {
    served += 1;
    next();
  });
  /** @type {any} */
  let middleware;
  const identifyUser = (/** @type {any} */ req) => (req.user ? req.user.id : undefined);
  if (kind === 'moesif') {
    const moesif = load('moesif-nodejs');
    middleware = moesif({ applicationId: APP_ID, baseUri: collectorUrl, identifyUser });
  } else if (isUsertrail(kind)) {
    const { default: moesif } = await import(pathToFileURL(serverPath).href);
    middleware = moesif({ applicationId: APP_ID, baseUri: collectorUrl, identifyUser });
  }
  if (middleware) app.use(middleware);
  const checkJwt = jwt({ secret: SECRET, algorithms: ['HS256'] });
  app.get('/test', checkJwt, (/** @type {any} */ req, /** @type {any} */ res) => {
    res.status(200).json({ message: 'this is a response', user: req.user.id });
  });
  app.post('/items', checkJwt, express.json(), (/** @type {any} */ req, /** @type {any} */ res) => {
    res.status(201).json({ id: served, items: Array.isArray(req.body.items) ? req.body.items.length : 0 });
  });
  const server = http.createServer(app);
  const port = await listen(server);
  process.on('message', (/** @type {any} */ message) => {
    // An exit the process sees (a kill would not): `node --cpu-prof` writes its profile then.
    if (message.cmd === 'exit') process.exit(0);
    if (message.cmd !== 'probe') return;
    process.send?.({
      id: message.id,
      cpu: process.cpuUsage(),
      rss: process.memoryUsage().rss,
      served,
      stats: typeof middleware?.stats === 'function' ? middleware.stats() : undefined,
    });
  });
  process.send?.({ port });
}

// ---------------------------------------------------------------------------------------------
// Role: the counting collector (one process for the whole workload)

async function runCollector() {
  const gunzipAsync = promisify(gunzip);
  let latencyMs = 0;
  const fresh = () => ({ requests: 0, eventRequests: 0, events: 0, wireBytes: 0, bodyBytes: 0, decodedBytes: 0, badBodies: 0, last: 0 });
  let counts = fresh();
  const server = http.createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks);
      counts.requests += 1;
      // Bytes on the wire, approximately: request line, headers as received, body.
      const headerBytes = `${req.method} ${req.url} HTTP/1.1\r\n`.length + req.rawHeaders.reduce((n, v) => n + v.length + 2, 0) + 2;
      counts.wireBytes += headerBytes + raw.length;
      counts.bodyBytes += raw.length;
      let status = 200;
      let answer = '{}';
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'GET' && path === '/v1/config') answer = JSON.stringify({ sample_rate: 100, user_sample_rate: {}, company_sample_rate: {} });
      else if (req.method === 'GET' && path === '/v1/rules') answer = '[]';
      else if (req.method === 'POST' && path === '/v1/events/batch') {
        status = 201;
        try {
          const body = req.headers['content-encoding'] === 'gzip' ? await gunzipAsync(raw) : raw;
          counts.decodedBytes += body.length;
          const events = JSON.parse(body.toString('utf8'));
          counts.eventRequests += 1;
          counts.events += Array.isArray(events) ? events.length : 1;
          counts.last = Date.now();
        } catch {
          counts.badBodies += 1;
          status = 400;
        }
      } else if (req.method === 'POST') status = 201;
      setTimeout(() => {
        res.writeHead(status, { 'Content-Type': 'application/json', 'X-Moesif-Config-Etag': 'bench' });
        res.end(answer);
      }, latencyMs);
    });
  });
  const port = await listen(server);
  process.on('message', (/** @type {any} */ message) => {
    if (message.cmd === 'reset') {
      counts = fresh();
      latencyMs = message.latencyMs;
    }
    process.send?.({ id: message.id, counts });
  });
  process.send?.({ port });
}

// ---------------------------------------------------------------------------------------------
// The orchestrator

/** A child process running one role of this file, with a request/answer channel over IPC. */
async function startChild(/** @type {string[]} */ args, /** @type {string[]} */ flags = []) {
  // Not the parent's Node flags (--input-type, --cpu-prof): only those given for this child.
  const child = fork(SELF, args, { execArgv: flags, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  let seq = 0;
  /** @type {Map<number, (value: any) => void>} */
  const waiting = new Map();
  /** @type {{ port: number }} */
  const ready = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code} before it was ready`)));
    child.once('message', resolve);
  });
  child.removeAllListeners('exit');
  child.on('message', (/** @type {any} */ message) => {
    waiting.get(message.id)?.(message);
    waiting.delete(message.id);
  });
  return {
    port: ready.port,
    /** @param {Record<string, unknown>} message @returns {Promise<any>} */
    ask: (message) =>
      new Promise((resolve) => {
        seq += 1;
        waiting.set(seq, resolve);
        child.send({ ...message, id: seq });
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(undefined);
        child.once('exit', () => resolve(undefined));
        if (!flags.length) return child.kill('SIGKILL');
        // An exit the app sees, so that a --cpu-prof writes its profile; killed if it takes too long.
        child.send({ cmd: 'exit' });
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** A port nothing listens on. */
async function downUrl() {
  const server = http.createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

/** @param {number[]} xs */
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * @param {{ seconds?: number, rounds?: number, connections?: number, log?: (line: string) => void }} [options]
 */
export async function serverWorkload(options = {}) {
  const seconds = options.seconds ?? Number(process.env.BENCH_SERVER_SECONDS ?? 3);
  const rounds = options.rounds ?? Number(process.env.BENCH_SERVER_ROUNDS ?? (process.env.BENCH_QUICK === '1' ? 1 : 2));
  const connections = options.connections ?? Number(process.env.BENCH_SERVER_CONNECTIONS ?? 50);
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  // Loaded as CommonJS, not typed as imports: autocannon ships no types.
  const load = createRequire(import.meta.url);
  const autocannon = load('autocannon');
  const { SignJWT } = await import('jose');
  const token = await new SignJWT({ id: 'user_bench_1' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(SECRET));
  // A 2 KB JSON body, as an API's create call might carry.
  const postBody = JSON.stringify({ items: Array.from({ length: 16 }, (_, i) => ({ sku: `SKU-${1000 + i}`, name: `Item number ${i}`, quantity: i + 1, price: 9.99 + i, note: 'x'.repeat(60) })) });
  const started = Date.now();

  const collector = await startChild(['collector']);
  const down = await downUrl();
  const collectorUrl = `http://127.0.0.1:${collector.port}`;
  /** @type {Array<Record<string, any>>} */
  const samples = [];

  /** One app under one collector state: warm-up, measured load, then the wait for its events. */
  async function runCase(/** @type {AppKind} */ app, /** @type {CollectorState} */ state, /** @type {number} */ round) {
    await collector.ask({ cmd: 'reset', latencyMs: state === 'slow' ? LATENCY_MS : 0 });
    const build = USERTRAIL_BUILDS[USERTRAIL_APPS.indexOf(app)];
    const child = await startChild(['app', app, state === 'down' ? down : collectorUrl, build?.path ?? ''], APP_FLAGS);
    try {
      const url = `http://127.0.0.1:${child.port}`;
      const load = (/** @type {number} */ duration) =>
        autocannon({
          url,
          connections,
          duration,
          headers: { authorization: `Bearer ${token}` },
          requests: [
            { method: 'GET', path: '/test' },
            { method: 'POST', path: '/items', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: postBody },
          ],
        });
      await load(1);
      const before = await child.ask({ cmd: 'probe' });
      const result = await load(seconds);
      const afterLoad = await child.ask({ cmd: 'probe' });
      // Wait for the app's events: all there, or nothing new for 3 s, at most 20 s (down: nothing comes).
      const waitStart = Date.now();
      for (;;) {
        if (app === 'none' || state === 'down') break;
        const { counts } = await collector.ask({ cmd: 'counts' });
        const quietSince = Math.max(counts.last, waitStart);
        if (counts.events >= afterLoad.served || Date.now() - quietSince > 3000 || Date.now() - waitStart > 20_000) break;
        await sleep(100);
      }
      const after = await child.ask({ cmd: 'probe' });
      const { counts } = await collector.ask({ cmd: 'counts' });
      const requests = after.served - before.served;
      const cpuUs = after.cpu.user + after.cpu.system - (before.cpu.user + before.cpu.system);
      const sample = {
        app,
        state,
        round,
        reqPerS: result.requests.average,
        p50Ms: result.latency.p50,
        p99Ms: result.latency.p99,
        errors: result.errors + result.timeouts + result.non2xx,
        cpuUsPerRequest: cpuUs / requests,
        rssBytes: Math.max(afterLoad.rss, after.rss),
        served: after.served,
        delivered: counts.events,
        eventRequests: counts.eventRequests,
        wireBytes: counts.wireBytes,
        decodedBytes: counts.decodedBytes,
        badBodies: counts.badBodies,
        dropped: after.stats?.dropped,
        queued: after.stats?.queued,
      };
      log(
        `server: round ${round} ${app.padEnd(Math.max(9, ...APPS.map((a) => a.length)))} collector ${state.padEnd(4)} ${Math.round(sample.reqPerS)} req/s, p99 ${sample.p99Ms} ms, ` +
          `${Math.round(sample.cpuUsPerRequest)} µs CPU/req, events ${sample.delivered}/${sample.served}` +
          (sample.dropped !== undefined ? `, dropped ${sample.dropped}` : ''),
      );
      samples.push(sample);
    } finally {
      await child.stop();
    }
  }

  try {
    for (let round = 1; round <= rounds; round++) {
      // The middlewares take turns going first (each round starts one later in the list); no
      // middleware runs at the start or the end of a round.
      const middlewares = APPS.slice(1);
      const shift = (round - 1) % middlewares.length;
      const order = [...middlewares.slice(shift), ...middlewares.slice(0, shift)];
      if (round % 2) await runCase('none', 'up', round);
      for (const state of COLLECTOR_STATES) for (const app of order) await runCase(app, state, round);
      if (!(round % 2)) await runCase('none', 'up', round);
    }
  } finally {
    await collector.stop();
  }

  /** @type {Record<string, any>} */
  const cases = {};
  for (const app of APPS) {
    for (const state of app === 'none' ? /** @type {const} */ (['up']) : COLLECTOR_STATES) {
      const mine = samples.filter((s) => s.app === app && s.state === state);
      if (!mine.length) continue;
      const sum = (/** @type {string} */ key) => mine.reduce((n, s) => n + (s[key] ?? 0), 0);
      cases[`${app}/${state}`] = {
        app,
        state,
        reqPerS: median(mine.map((s) => s.reqPerS)),
        p50Ms: median(mine.map((s) => s.p50Ms)),
        p99Ms: median(mine.map((s) => s.p99Ms)),
        cpuUsPerRequest: median(mine.map((s) => s.cpuUsPerRequest)),
        rssBytes: median(mine.map((s) => s.rssBytes)),
        served: sum('served'),
        delivered: sum('delivered'),
        eventRequests: sum('eventRequests'),
        wireBytes: sum('wireBytes'),
        decodedBytes: sum('decodedBytes'),
        errors: sum('errors'),
        badBodies: sum('badBodies'),
        dropped: isUsertrail(app) ? sum('dropped') : undefined,
      };
    }
  }
  return {
    date: new Date().toISOString(),
    seconds,
    rounds,
    connections,
    latencyMs: LATENCY_MS,
    loadAverage: os.loadavg().map((x) => +x.toFixed(2)),
    nproc: os.availableParallelism(),
    node: process.version,
    durationS: Math.round((Date.now() - started) / 1000),
    versions: {
      moesif: load('moesif-nodejs/package.json').version,
      usertrail: load('../package.json').version,
    },
    usertrailApps: USERTRAIL_APPS,
    states: COLLECTOR_STATES,
    cases,
    samples,
  };
}

// ---------------------------------------------------------------------------------------------
// The table

/** @param {number} x @param {number} [digits] */
const num = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
const mib = (/** @type {number} */ bytes) => `${num(bytes / 2 ** 20, 1)} MiB`;

/** The markdown table of serverWorkload()'s result. @param {any} result */
export function renderServerTable(result) {
  const lines = [
    `Server workload of ${result.date.slice(0, 10)}: ${result.nproc} cores, load average ${result.loadAverage.join(' ')} at the end; Node ${result.node}; ` +
      `autocannon, ${result.connections} connections, ${result.rounds} interleaved rounds of ${result.seconds} s per case (GET /test with a JWT and POST /items with a 2 KB JSON body, alternating); took ${result.durationS} s.`,
    '',
    '| app | collector | req/s | p50 | p99 | CPU per request | RSS | events delivered / requests | dropped | event requests | bytes on the wire |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  /** @param {AppKind} app */
  const label = (app) =>
    app === 'none'
      ? 'no middleware'
      : app === 'moesif'
        ? `moesif-nodejs ${result.versions.moesif}`
        : `usertrail/server ${result.versions.usertrail}${app.startsWith('usertrail:') ? ` (${app.slice('usertrail:'.length)})` : ''}`;
  const stateLabel = { up: 'up', slow: `up, ${result.latencyMs} ms latency`, down: 'down' };
  for (const c of Object.values(result.cases)) {
    lines.push(
      `| ${label(c.app)} | ${c.app === 'none' ? '-' : stateLabel[/** @type {CollectorState} */ (c.state)]} | ${num(c.reqPerS)} | ${num(c.p50Ms)} ms | ${num(c.p99Ms)} ms | ` +
        `${num(c.cpuUsPerRequest)} µs | ${num(c.rssBytes / 2 ** 20)} MiB | ${c.app === 'none' ? '-' : `${num(c.delivered)} / ${num(c.served)}`} | ` +
        `${c.dropped === undefined ? '-' : num(c.dropped)} | ${c.app === 'none' ? '-' : num(c.eventRequests)} | ${c.app === 'none' ? '-' : mib(c.wireBytes)} |`,
    );
  }
  const none = result.cases['none/up'];
  /** Overhead over no middleware, usertrail's against moesif-nodejs's: the issue's target is <= 0.5. */
  for (const state of result.states ?? ALL_STATES) for (const app of result.usertrailApps ?? ['usertrail']) {
    const u = result.cases[`${app}/${state}`];
    const m = result.cases[`moesif/${state}`];
    if (!none || !u || !m) continue;
    /** Overhead ratio; when either middleware measured below no middleware, noise is larger than the overhead. */
    const overhead = (/** @type {number} */ ours, /** @type {number} */ theirs, /** @type {number} */ base) =>
      ours < base || theirs <= base ? 'n/a (below no middleware: noise)' : num((ours - base) / (theirs - base), 2);
    lines.push(
      '',
      `Collector ${stateLabel[/** @type {CollectorState} */ (state)]}: ${label(app)}'s overhead over no middleware / moesif-nodejs's: ` +
        `CPU per request ${overhead(u.cpuUsPerRequest, m.cpuUsPerRequest, none.cpuUsPerRequest)}, p99 ${overhead(u.p99Ms, m.p99Ms, none.p99Ms)} (target <= 0.5 each).`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Entry: a role when forked, the whole workload when run on its own.

if (process.argv[1] === SELF) {
  const [role, ...rest] = process.argv.slice(2);
  if (role === 'app') await runApp(rest[0] ?? 'none', rest[1] ?? '', rest[2] ?? '');
  else if (role === 'collector') await runCollector();
  else {
    const result = await serverWorkload();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${ROOT}bench/results-server.json`, `${JSON.stringify(result, null, 2)}\n`);
    console.log(renderServerTable(result));
  }
}
