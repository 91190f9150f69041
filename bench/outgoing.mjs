// @ts-check
/**
 * The outgoing-call workload: what `startCaptureOutgoing()` costs an app that calls other APIs, with
 * node:http (a keep-alive Agent, as HTTP client libraries use it) and with Node's global fetch, side
 * by side with no SDK and with the real moesif-nodejs (which captures node:http only: its fetch
 * figures are fetch without capture). Each case is an app process of its own making CALLS calls,
 * CONCURRENCY at a time, to an upstream on 127.0.0.1 (a POST of a small JSON body, a JSON answer read
 * whole); its CPU time per call counts the delivery of the events it logged (the collector, in this
 * process, counts them). Rounds are interleaved, the cases in another order each round. Asserts
 * nothing; prints a table with the load average.
 *
 *   npm run bench:outgoing                   (builds first)
 *   node bench/outgoing.mjs                  against the dist/ already built
 *   BENCH_OUTGOING_CALLS=1500 BENCH_OUTGOING_ROUNDS=2 node bench/outgoing.mjs   (the defaults: about a minute)
 *
 * Also run by bench/run.mjs (`npm run bench`), through outgoingWorkload().
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** moesif-nodejs refuses application ids shorter than 50 characters. */
const APP_ID = 'usertrail-bench-application-id-long-enough-for-moesif-nodejs-0001';
const APPS = /** @type {const} */ (['none', 'moesif', 'usertrail']);
const CLIENTS = /** @type {const} */ (['http', 'fetch']);
/** @typedef {typeof APPS[number]} App @typedef {typeof CLIENTS[number]} Client */
const CONCURRENCY = 8;
const REQUEST_BODY = JSON.stringify({ amount: 1999, currency: 'eur', description: 'Order 1234', metadata: { sku: 'SKU-1001', quantity: 2 } });
const ANSWER = JSON.stringify({ id: 'ch_1', object: 'charge', amount: 1999, currency: 'eur', status: 'succeeded', items: Array.from({ length: 8 }, (_, i) => ({ sku: `SKU-${1000 + i}`, quantity: i + 1 })) });

/** @param {http.Server} server @returns {Promise<number>} */
const listen = (server) =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(/** @type {import('node:net').AddressInfo} */ (server.address()).port)));
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Role: the app (one process per case)

async function runApp(/** @type {App} */ app, /** @type {Client} */ client, /** @type {string} */ collectorUrl, /** @type {string} */ upstreamUrl) {
  const load = createRequire(import.meta.url);
  /** @type {any} */
  let middleware;
  if (app === 'moesif') middleware = load('moesif-nodejs')({ applicationId: APP_ID, baseUri: collectorUrl });
  if (app === 'usertrail') middleware = (await import(pathToFileURL(`${ROOT}dist/server.mjs`).href)).default({ applicationId: APP_ID, baseUri: collectorUrl });
  middleware?.startCaptureOutgoing();
  const agent = new http.Agent({ keepAlive: true });
  const url = `${upstreamUrl}/v1/charges`;
  const headers = { 'content-type': 'application/json', authorization: 'Bearer sk_test_bench' };
  /** One call as an app makes it: the answer read whole and parsed. */
  const call = client === 'fetch'
    ? async () => (await fetch(url, { method: 'POST', headers, body: REQUEST_BODY })).json()
    : () =>
        new Promise((resolve, reject) => {
          const req = http.request(url, { method: 'POST', headers, agent }, (res) => {
            /** @type {Buffer[]} */
            const chunks = [];
            res.on('data', (chunk) => chunks.push(chunk));
            res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
          });
          req.on('error', reject);
          req.end(REQUEST_BODY);
        });
  const calls = async (/** @type {number} */ count) => {
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < count) await call();
    }));
  };
  process.on('message', async (/** @type {any} */ message) => {
    if (message.cmd === 'calls') {
      await calls(message.count);
      await middleware?.flush?.();
    }
    process.send?.({ id: message.id, cpu: process.cpuUsage() });
  });
  process.send?.({ ready: true });
}

// ---------------------------------------------------------------------------------------------
// The orchestrator

/** The upstream API and a counting collector, both in this process: only the app's CPU is measured. */
async function startServers() {
  const upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(ANSWER));
  });
  let events = 0;
  let last = 0;
  const collector = http.createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url?.startsWith('/v1/events/batch')) {
        const raw = Buffer.concat(chunks);
        const body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString());
        events += Array.isArray(body) ? body.length : 1;
        last = Date.now();
      }
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end(req.url?.startsWith('/v1/rules') ? '[]' : '{}');
    });
  });
  const [upstreamPort, collectorPort] = await Promise.all([listen(upstream), listen(collector)]);
  return {
    upstreamUrl: `http://127.0.0.1:${upstreamPort}`,
    collectorUrl: `http://127.0.0.1:${collectorPort}`,
    counts: () => ({ events, last }),
    reset: () => {
      events = 0;
    },
    close: () => Promise.all([upstream, collector].map((server) => new Promise((r) => server.close(r)))),
  };
}

/** A forked app, asked over IPC to make its calls and to say its CPU time. */
async function startApp(/** @type {string[]} */ args) {
  const child = fork(SELF, ['app', ...args], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the app (${args.join(' ')}) exited with ${code}`)));
  });
  child.removeAllListeners('exit');
  let seq = 0;
  return {
    /** @returns {Promise<NodeJS.CpuUsage>} */
    ask: (/** @type {Record<string, unknown>} */ message) =>
      new Promise((resolve) => {
        const id = ++seq;
        const onMessage = (/** @type {any} */ answer) => {
          if (answer.id !== id) return;
          child.off('message', onMessage);
          resolve(answer.cpu);
        };
        child.on('message', onMessage);
        child.send({ ...message, id });
      }),
    stop: () => child.kill('SIGKILL'),
  };
}

/** @param {number[]} xs */
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] ?? NaN) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
};

/** @param {{ calls?: number, rounds?: number, log?: (line: string) => void }} [options] */
export async function outgoingWorkload(options = {}) {
  const calls = options.calls ?? Number(process.env.BENCH_OUTGOING_CALLS ?? 1500);
  const rounds = options.rounds ?? Number(process.env.BENCH_OUTGOING_ROUNDS ?? (process.env.BENCH_QUICK === '1' ? 1 : 2));
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  const started = Date.now();
  const servers = await startServers();
  const cases = CLIENTS.flatMap((client) => APPS.map((app) => ({ client, app })));
  /** @type {Array<{ client: Client, app: App, round: number, cpuUsPerCall: number, events: number }>} */
  const samples = [];
  try {
    for (let round = 0; round < rounds; round++) {
      // Another order each round, so that no case always runs after the same one.
      const order = cases.map((_, i) => cases[(i + round * 2) % cases.length]);
      for (const { client, app } of order) {
        const child = await startApp([app, client, servers.collectorUrl, servers.upstreamUrl]);
        try {
          await child.ask({ cmd: 'calls', count: Math.min(300, calls) }); // warm-up
          // The warm-up's events: arrived, or nothing new for 2 s.
          for (const since = Date.now(); app !== 'none' && Date.now() - Math.max(since, servers.counts().last) < 2000; ) await sleep(50);
          servers.reset();
          const before = await child.ask({ cmd: 'cpu' });
          await child.ask({ cmd: 'calls', count: calls });
          // Logged calls delivered (moesif-nodejs sends its batches on a timer, and logs no fetch).
          for (const since = Date.now(); app !== 'none' && servers.counts().events < calls && Date.now() - Math.max(since, servers.counts().last) < 3000; ) await sleep(50);
          const after = await child.ask({ cmd: 'cpu' });
          const cpuUs = after.user + after.system - before.user - before.system;
          samples.push({ client, app, round, cpuUsPerCall: cpuUs / calls, events: servers.counts().events });
          log(`outgoing: round ${round + 1}/${rounds}, ${client} with ${app}: ${(cpuUs / calls).toFixed(0)} µs CPU per call, ${servers.counts().events} events`);
        } finally {
          child.stop();
        }
      }
    }
  } finally {
    await servers.close();
  }
  const summary = cases.map(({ client, app }) => {
    const mine = samples.filter((s) => s.client === client && s.app === app);
    return { client, app, cpuUsPerCall: median(mine.map((s) => s.cpuUsPerCall)), events: median(mine.map((s) => s.events)) };
  });
  return { calls, rounds, concurrency: CONCURRENCY, loadAverage: os.loadavg(), node: process.version, durationS: Math.round((Date.now() - started) / 1000), summary, samples };
}

/** @param {Awaited<ReturnType<typeof outgoingWorkload>>} result */
export function renderOutgoingTable(result) {
  const num = (/** @type {number} */ x) => Math.round(x).toLocaleString('en-US');
  const lines = [
    `Outgoing-call workload: 2 cores, load average ${result.loadAverage.map((x) => x.toFixed(2)).join(' ')} at the end; Node ${result.node}; ${result.calls} calls per case, ${result.concurrency} at a time, ${result.rounds} interleaved rounds (medians); took ${result.durationS} s.`,
    '',
    '| client | app | CPU per call | capture\'s CPU per call | events delivered / calls |',
    '|---|---|---:|---:|---:|',
  ];
  for (const row of result.summary) {
    const base = result.summary.find((other) => other.client === row.client && other.app === 'none');
    const label = row.app === 'none' ? 'no SDK' : row.app === 'moesif' ? 'moesif-nodejs 3.11.0' : 'usertrail/server 0.1.0';
    const overhead = row.app === 'none' || !base ? '-' : `${num(row.cpuUsPerCall - base.cpuUsPerCall)} µs`;
    const events = row.app === 'none' ? '-' : `${num(row.events)} / ${num(result.calls)}`;
    lines.push(`| ${row.client === 'http' ? 'node:http' : 'fetch'} | ${label} | ${num(row.cpuUsPerCall)} µs | ${overhead} | ${events} |`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Entry: the app when forked, the whole workload when run on its own.

if (process.argv[1] === SELF) {
  const [role, ...rest] = process.argv.slice(2);
  if (role === 'app') await runApp(/** @type {App} */ (rest[0]), /** @type {Client} */ (rest[1]), rest[2] ?? '', rest[3] ?? '');
  else console.log(renderOutgoingTable(await outgoingWorkload()));
}
