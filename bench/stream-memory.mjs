// @ts-check
/**
 * What an open server-sent-events connection costs a long-lived Express app in memory, with no
 * middleware, with moesif-nodejs (the exact devDependency) and with usertrail/server (dist/server.mjs,
 * as an app imports it). Each app runs in its own process with --expose-gc; this process is the
 * client and a counting collector. Per app: a warm-up round, then ROUNDS rounds of
 *   idle:  gc, then heapUsed + arrayBuffers of the app;
 *   open:  STREAMS connections to GET /events, each answered with its headers and three events and
 *          then left open; once every client has all three, gc and measure again;
 *   ended: the app ends every stream, the clients see the end, the collector gets every call; gc and
 *          measure again.
 * Bytes per connection = (open - idle) / STREAMS, and after the end (ended - idle) / STREAMS, which
 * should be about 0. The middlewares' figures are also given above the no-middleware app's: what they
 * add to each open stream. Medians over the rounds. Memory, not time: load does not change it, but the
 * load average is printed as the other benchmarks print it.
 *
 *   npm run build && node bench/stream-memory.mjs
 *   STREAMS=2000 ROUNDS=3 node bench/stream-memory.mjs    (the defaults)
 *   USERTRAIL_SERVER=path/to/server.mjs node bench/stream-memory.mjs   (another build of usertrail/server)
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STREAMS = Number(process.env.STREAMS ?? 2000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** Another build of usertrail/server to measure (an earlier commit's), as a path or URL. */
const USERTRAIL_SERVER = process.env.USERTRAIL_SERVER ? new URL(process.env.USERTRAIL_SERVER, `file://${process.cwd()}/`).href : `${ROOT}dist/server.mjs`;
/** moesif-nodejs refuses application ids shorter than 50 characters. */
const APP_ID = 'usertrail-bench-application-id-long-enough-for-moesif-nodejs-0001';
const APPS = /** @type {const} */ (['none', 'moesif', 'usertrail']);
const EVENTS = ['id: 1\ndata: {"text":"Hello"}\n\n', 'id: 2\ndata: {"text":" stream"}\n\n', 'id: 3\ndata: {"text":"ing"}\n\n'];
const EVENT_BYTES = EVENTS.join('').length;

/** @param {http.Server} server @returns {Promise<number>} */
const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(/** @type {import('node:net').AddressInfo} */ (server.address()).port)));

/** Polls `probe` until it is true; throws after `timeoutMs`. */
async function until(/** @type {() => boolean} */ probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ---------------------------------------------------------------------------------------------
// Role: the app (one process per kind)

async function runApp(/** @type {typeof APPS[number]} */ kind, /** @type {string} */ collectorUrl) {
  const require = createRequire(import.meta.url);
  const express = require('express');
  const app = express();
  if (kind === 'moesif') app.use(require('moesif-nodejs')({ applicationId: APP_ID, baseUri: collectorUrl }));
  if (kind === 'usertrail') app.use((await import(USERTRAIL_SERVER)).default({ applicationId: APP_ID, baseUri: collectorUrl }));
  /** @type {Set<import('node:http').ServerResponse>} */
  const open = new Set();
  app.get('/events', (/** @type {unknown} */ _req, /** @type {import('node:http').ServerResponse} */ res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const event of EVENTS) res.write(event);
    open.add(res);
    res.on('close', () => open.delete(res));
  });
  const server = http.createServer(app);
  const port = await listen(server);
  const connections = () => new Promise((resolve) => server.getConnections((_error, count) => resolve(count)));
  const gc = /** @type {() => void} */ (globalThis.gc);
  process.on('message', async (/** @type {any} */ message) => {
    if (message.cmd === 'end') for (const res of open) res.end();
    if (message.cmd === 'measure') {
      // The sockets of ended streams close a moment after their responses.
      if (message.closed) while ((await connections()) > 0) await new Promise((r) => setTimeout(r, 20));
      // Collected until it stops changing: sockets and their handles are freed a turn or two after they close.
      const retained = () => {
        const { heapUsed, arrayBuffers } = process.memoryUsage();
        return heapUsed + arrayBuffers;
      };
      let before = -Infinity;
      let now = 0;
      for (let i = 0; i < 20 && Math.abs(now - before) >= 8192; i++) {
        before = now;
        gc();
        await new Promise((r) => setTimeout(r, 10)); // lets finalizers and handle close callbacks run
        now = retained();
      }
      process.send?.({ id: message.id, retained: now, open: open.size });
      return;
    }
    process.send?.({ id: message.id });
  });
  process.send?.({ port });
}

// ---------------------------------------------------------------------------------------------
// The client, the collector and the report

/** A counting collector: the calls logged in /v1/events/batch (gzip or not), config and rules answered. */
async function startCollector() {
  let events = 0;
  const server = http.createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/v1/events/batch') {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const batch = JSON.parse(body.toString('utf8'));
        events += Array.isArray(batch) ? batch.length : 1;
      }
      res.writeHead(path === '/v1/events/batch' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(path === '/v1/rules' ? '[]' : path === '/v1/config' ? '{"sample_rate":100}' : '{}');
    });
  });
  return { url: `http://127.0.0.1:${await listen(server)}`, events: () => events, close: () => server.close() };
}

async function startApp(/** @type {typeof APPS[number]} */ kind, /** @type {string} */ collectorUrl) {
  const child = fork(SELF, ['app', kind, collectorUrl], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  /** @type {{ port: number }} */
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  let seq = 0;
  /** @type {Map<number, (answer: any) => void>} */
  const waiting = new Map();
  child.on('message', (/** @type {any} */ answer) => waiting.get(answer.id)?.(answer));
  return {
    url: `http://127.0.0.1:${port}/events`,
    /** @param {Record<string, unknown>} message @returns {Promise<any>} */
    ask: (message) => new Promise((resolve) => (waiting.set(++seq, resolve), child.send({ ...message, id: seq }))),
    stop: () => child.kill(),
  };
}

/** One round: open `count` streams, measure, end them, measure. Bytes per connection, open and after. */
async function round(/** @type {Awaited<ReturnType<typeof startApp>>} */ app, /** @type {ReturnType<typeof startCollector> extends Promise<infer C> ? C : never} */ collector, /** @type {number} */ count, /** @type {boolean} */ logged) {
  const idle = await app.ask({ cmd: 'measure', closed: true });
  let received = 0;
  let ended = 0;
  const loggedBefore = collector.events();
  for (let i = 0; i < count; i++) {
    // agent: false sends Connection: close, so the server closes each socket when its stream ends.
    const req = http.get(app.url, { agent: false }, (res) => {
      res.on('data', (chunk) => (received += chunk.length));
      res.on('end', () => (ended += 1));
    });
    req.on('error', (error) => console.error(error.message));
  }
  await until(() => received === count * EVENT_BYTES);
  const open = await app.ask({ cmd: 'measure' });
  if (open.open !== count) throw new Error(`${open.open} streams open, expected ${count}`);
  await app.ask({ cmd: 'end' });
  await until(() => ended === count && (!logged || collector.events() - loggedBefore === count));
  const after = await app.ask({ cmd: 'measure', closed: true });
  return { open: (open.retained - idle.retained) / count, after: (after.retained - idle.retained) / count };
}

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const bytes = (/** @type {number} */ n) => `${Math.round(n).toLocaleString('en-US')} B`;

async function main() {
  const collector = await startCollector();
  /** @type {Record<string, { open: number, after: number }>} */
  const results = {};
  for (const kind of APPS) {
    const app = await startApp(kind, collector.url);
    try {
      await round(app, collector, Math.min(200, STREAMS), kind !== 'none'); // warm-up: code compiled, config fetched
      const rounds = [];
      for (let i = 0; i < ROUNDS; i++) rounds.push(await round(app, collector, STREAMS, kind !== 'none'));
      results[kind] = { open: median(rounds.map((r) => r.open)), after: median(rounds.map((r) => r.after)) };
      console.error(`${kind}: ${rounds.map((r) => `${bytes(r.open)} open, ${bytes(r.after)} after`).join('; ')}`);
    } finally {
      app.stop();
    }
  }
  collector.close();
  const base = /** @type {{ open: number, after: number }} */ (results.none);
  console.log(`\nHeap + array buffers per SSE connection, ${STREAMS.toLocaleString('en-US')} connections, median of ${ROUNDS} rounds; Node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log('| app | per open connection | above no middleware | per connection after the streams end |');
  console.log('|---|---:|---:|---:|');
  for (const kind of APPS) {
    const r = /** @type {{ open: number, after: number }} */ (results[kind]);
    const name = kind === 'none' ? 'no middleware' : kind === 'moesif' ? 'moesif-nodejs 3.11.0' : 'usertrail/server';
    console.log(`| ${name} | ${bytes(r.open)} | ${kind === 'none' ? '-' : bytes(r.open - base.open)} | ${bytes(r.after)} |`);
  }
}

if (process.argv[2] === 'app') await runApp(/** @type {any} */ (process.argv[3]), /** @type {string} */ (process.argv[4]));
else await main();
