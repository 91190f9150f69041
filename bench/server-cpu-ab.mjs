// @ts-check
/**
 * A/B of usertrail/server builds by CPU per request, for changes of a few µs that
 * bench/server-load.mjs cannot resolve on a busy machine (its cases run seconds apart, and their
 * CPU per request moves by 10 % with the load). One process holds the seed's Express app several
 * times (no middleware, and one per build given), each on its own port, and drives them with the
 * same in-process pipelined client (10 connections, 10 requests in flight each, GET /test and the
 * 2 KB POST /items alternating) in alternating bursts; each burst's CPU time (process.cpuUsage, all
 * threads) covers its requests and their delivery (flush() ends the burst). Bursts of different
 * builds run a second apart, under the same load, so their per-round differences are compared.
 * The client's own CPU is in every figure alike: read differences, not absolute values. The
 * collector is a child process (its CPU not counted) that answers at once. Asserts nothing.
 *
 *   npm run build && cp dist/server.mjs /tmp/after.mjs   (and an earlier commit's as /tmp/before.mjs)
 *   node bench/server-cpu-ab.mjs before=/tmp/before.mjs after=/tmp/after.mjs [--burst 2000] [--rounds 40]
 *   node bench/server-cpu-ab.mjs now=dist/server.mjs 'b200=dist/server.mjs@{"batchSize":200}'   (options too)
 *
 * Prints, per build, the median CPU per request and its median per-round difference from the first
 * build named, with the load average.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const SECRET = 'shhhhhhared-secret';
const APP_ID = 'usertrail-bench-application-id-long-enough-for-moesif-nodejs-0001';
/** A request past express-jwt 6, which puts the verified token's claims on req.user. @typedef {import('express').Request & { user: { id: string } }} JwtRequest */

if (process.argv[2] === 'collector') {
  let batches = 0;
  const send = process.send?.bind(process);
  if (!send) throw new Error('the collector role runs only in a child process this script forks');
  process.on('message', () => send({ batches }));
  const server = http.createServer((req, res) => {
    if (req.method === 'POST') batches += 1;
    req.resume();
    req.on('end', () => { res.writeHead(req.method === 'POST' ? 201 : 200, { 'Content-Type': 'application/json' }); res.end(req.url?.startsWith('/v1/rules') ? '[]' : '{}'); });
  });
  // Listening on a TCP port, address() is an AddressInfo (a string only for a pipe or socket file).
  server.listen(0, '127.0.0.1', () => send({ port: /** @type {import('node:net').AddressInfo} */ (server.address()).port }));
} else {
  const args = process.argv.slice(2);
  const opt = (/** @type {string} */ name, /** @type {number} */ d) => { const i = args.indexOf(name); return i < 0 ? d : Number(args.splice(i, 2)[1]); };
  const burst = opt('--burst', 2000), rounds = opt('--rounds', 40), connections = opt('--connections', 10);
  const collector = fork(SELF, ['collector'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  /** @type {{ port: number }} */
  const { port: cport } = await new Promise((r) => collector.once('message', r));
  const collectorUrl = `http://127.0.0.1:${cport}`;
  const { SignJWT } = await import('jose');
  const token = await new SignJWT({ id: 'user_bench_1' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(SECRET));
  const { default: express } = await import('express');
  // Loaded as CommonJS, the seed's way, under a name TypeScript does not take for a typed import:
  // express-jwt 6 ships no types, so `jwt` is `any`.
  const jwt = createRequire(import.meta.url)('express-jwt-6');
  const postBody = JSON.stringify({ items: Array.from({ length: 16 }, (_, i) => ({ sku: `SKU-${1000 + i}`, name: `Item number ${i}`, quantity: i + 1, price: 9.99 + i, note: 'x'.repeat(60) })) });

  /** @param {string} name @param {string} path a usertrail/server build, or '' for none @param {string} extra its options as JSON */
  async function makeApp(name, path, extra) {
    const app = express();
    let served = 0;
    app.use((_req, _res, next) => { served += 1; next(); });
    // A build's default export, from a file named at run time (so untyped), called with moesif's options.
    /** @type {(import('express').RequestHandler & { flush?: () => Promise<unknown> }) | undefined} */
    let middleware;
    const identifyUser = (/** @type {Partial<JwtRequest>} */ req) => (req.user ? req.user.id : undefined);
    if (path) middleware = (await import(`${pathToFileURL(resolve(path)).href}?${name}`)).default({ applicationId: APP_ID, baseUri: collectorUrl, identifyUser, ...JSON.parse(extra || '{}') });
    if (middleware) app.use(middleware);
    const checkJwt = jwt({ secret: SECRET, algorithms: ['HS256'] });
    app.get('/test', checkJwt, (req, res) => res.status(200).json({ message: 'this is a response', user: /** @type {JwtRequest} */ (req).user.id }));
    app.post('/items', checkJwt, express.json(), (req, res) => res.status(201).json({ id: served, items: Array.isArray(req.body.items) ? req.body.items.length : 0 }));
    const server = http.createServer(app);
    await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, '127.0.0.1', r)));
    // Listening on a TCP port, address() is an AddressInfo.
    const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
    const get = `GET /test HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n\r\n`;
    const post = `POST /items HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(postBody)}\r\n\r\n${postBody}`;
    const PIPE = 10;
    const pipeline = Buffer.from(Array.from({ length: PIPE }, (_, i) => (i % 2 ? post : get)).join(''));
    const load = (/** @type {number} */ total) => Promise.all(Array.from({ length: connections }, () => /** @type {Promise<void>} */ (new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let left = Math.ceil(total / connections / PIPE) * PIPE;
      let pending = 0;
      const send = () => { pending = PIPE; socket.write(pipeline); };
      socket.on('connect', send);
      socket.on('data', (chunk) => {
        const text = chunk.toString('latin1');
        for (let i = text.indexOf('HTTP/1.1 '); i >= 0; i = text.indexOf('HTTP/1.1 ', i + 1)) { pending -= 1; left -= 1; }
        if (pending === 0) { if (left > 0) send(); else { socket.end(); resolve(); } }
      });
    }))));
    return { name, served: () => served, middleware, load };
  }

  const specs = args.map((a) => { const [name, rest = ''] = a.split('='); const [path, extra = ''] = rest.split('@'); return { name, path, extra }; });
  const apps = [await makeApp('none', '', ''), ...(await Promise.all(specs.map((s) => makeApp(s.name, s.path, s.extra))))];
  /** @returns {Promise<number>} */
  const askBatches = () => new Promise((res) => { collector.once('message', (m) => res(/** @type {{ batches: number }} */ (m).batches)); collector.send({}); });
  /** CPU µs per request of each burst, by app name. @type {Record<string, number[]>} */
  const results = Object.fromEntries(apps.map((a) => [a.name, []]));
  const batches = Object.fromEntries(apps.map((a) => [a.name, 0]));
  console.log(`start: load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; burst ${burst}, rounds ${rounds}, connections ${connections}`);
  for (let round = -2; round < rounds; round++) {
    const shift = ((round % apps.length) + apps.length) % apps.length;
    for (const app of [...apps.slice(shift), ...apps.slice(0, shift)]) {
      const s0 = app.served(); const b0 = await askBatches();
      const c0 = process.cpuUsage();
      await app.load(burst);
      if (app.middleware?.flush) await app.middleware.flush();
      const c = process.cpuUsage(c0);
      if (round < 0) continue; // warm-up
      results[app.name].push((c.user + c.system) / (app.served() - s0));
      batches[app.name] += (await askBatches()) - b0;
    }
  }
  collector.kill();
  const med = (/** @type {number[]} */ xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  console.log(`end: load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  // Paired differences per round: each app's burst minus the none burst of the same round.
  for (const app of apps) {
    const xs = results[app.name];
    const paired = xs.map((x, i) => x - results.none[i]);
    console.log(`${app.name.padEnd(10)} median ${med(xs).toFixed(1)} µs/req, overhead (median of per-round differences) ${med(paired).toFixed(1)} µs; batches ${batches[app.name]}; [${xs.map((x) => x.toFixed(0)).join(' ')}]`);
  }
  for (const s of specs) {
    const base = specs[0];
    if (s === base) continue;
    const d = results[s.name].map((x, i) => x - results[base.name][i]);
    console.log(`${s.name} - ${base.name}: median per-round difference ${med(d).toFixed(1)} µs/req [${d.map((x) => x.toFixed(0)).join(' ')}]`);
  }
  process.exit(0);
}
