// @ts-check
/**
 * `npm run bench:collector [items]` (default 1,000,000): fills a fresh reference collector over HTTP,
 * with the API a real SDK uses (batches to /v1/{actions,events,users,companies}/batch), and prints the
 * ingest rate, the bytes the store takes per item, and the median time of each query the dashboard
 * uses at 100,000 items and at the end. It asserts nothing; timings are this machine's, with its load
 * average printed next to them.
 *
 * The collector runs in a child process (`node --import tsx demo/collector/main.ts`, as `npm run
 * collector` runs it) on a temporary file, so the load generator here does not share its event loop.
 *
 * The traffic: visitors in groups of 20. Each visitor sends a users call with a campaign and
 * `PAGE_VIEWS` page views as moesif-browser-js does, with its session token; half then sign up (a
 * users call with user id, anonymous id, company and session token, a "Signed Up" action, and a
 * companies call carrying the session token, as identifyCompany() sends it) and make `API_CALLS` API
 * calls carrying their user id (every other one their company too) with small JSON bodies and
 * headers. Times run forward over the last 30 days.
 *
 * At the end it prints SQLite's query plan of each lookup by session token (SESSION_LOOKUPS), and
 * where the bytes go: the file's pages per table and index (SQLite's dbstat), after the collector
 * closed. The bytes per item measured while it runs include the WAL, whose size does not grow with
 * the store (SQLite writes it again from its start after each checkpoint).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { SESSION_LOOKUPS } from '../demo/collector/store.ts';

const TOTAL = Number(process.argv[2] ?? 1_000_000);
const CHECKPOINTS = [...new Set([100_000, TOTAL].filter((n) => n <= TOTAL))];
const APP_ID = 'bench-collector-application-id';
const PAGE_VIEWS = 8;
const API_CALLS = 10;
const COMPANIES = 500;
const CONCURRENCY = 4;
const SAMPLES = 15;
const DAYS = 30;

const dir = mkdtempSync(join(os.tmpdir(), 'usertrail-bench-collector-'));
const dbPath = join(dir, 'collector.db');

function startCollector() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/collector/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', USERTRAIL_DB: dbPath, USERTRAIL_APP_ID: APP_ID },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  /** @type {Promise<{ url: string, child: typeof child }>} */
  const started = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const url = /Collector: (http:\/\/\S+)/.exec(out)?.[1];
      if (url) {
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ url, child });
      }
    });
    child.once('exit', (code) => reject(new Error(`collector exited with ${code}: ${out}`)));
  });
  return started;
}

const { url, child } = await startCollector();

/**
 * CPU seconds the collector process has used (Linux /proc): ingest per CPU-second says what the
 * collector does with a core, whatever else the machine runs; items per second says what it did here.
 */
function collectorCpuSeconds() {
  try {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** @param {string} kind @param {object[]} items */
async function post(kind, items) {
  const res = await fetch(`${url}/v1/${kind}/batch`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Moesif-Application-Id': APP_ID },
    body: JSON.stringify(items),
  });
  if (res.status !== 201) throw new Error(`${kind}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

const START = Date.now() - DAYS * 86_400_000;
const span = DAYS * 86_400_000;
let tx = 0;
/** The last visitor who signed up: the profiles the queries look up. @type {{ user?: string, company?: string, session?: string }} */
const known = {};
const ua = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36';

/**
 * The batches of one group of visitors, visitor `first` onwards, and how many items they hold.
 * @param {number} first @param {number} at the group's first time (epoch ms)
 */
function group(first, at) {
  const users = [];
  const actions = [];
  const events = [];
  const companies = [];
  for (let v = first; v < first + 20; v++) {
    const anonymous_id = `anon-${v.toString(36)}-${'x'.repeat(20)}`;
    const session_token = `session-${v.toString(36)}-${'s'.repeat(16)}`;
    let t = at + (v % 20) * 1000;
    const time = () => new Date((t += 7_000)).toISOString();
    users.push({ anonymous_id, session_token, campaign: { utm_source: ['google', 'newsletter', 'blog'][v % 3], referrer: 'https://www.example.com/' } });
    for (let p = 0; p < PAGE_VIEWS; p++) {
      actions.push({ action_name: 'Page View', anonymous_id, session_token, transaction_id: `tx-${++tx}-${v}`, request: { time: time(), uri: `https://docs.example.com/docs/page-${p}?ref=nav`, verb: 'GET', user_agent_string: ua } });
    }
    if (v % 2 === 1) continue;
    const user_id = `user-${v}`;
    const company_id = `company-${v % COMPANIES}`;
    known.user = user_id;
    known.company = company_id;
    known.session = session_token;
    users.push({ user_id, anonymous_id, company_id, session_token, metadata: { email: `${user_id}@example.com`, plan: 'team' } });
    actions.push({ action_name: 'Signed Up', user_id, anonymous_id, session_token, transaction_id: `tx-${++tx}-${v}`, request: { time: time(), uri: 'https://app.example.com/signup', verb: 'GET', user_agent_string: ua } });
    companies.push({ company_id, session_token, ...(v < COMPANIES * 2 ? { company_domain: `${company_id}.example.com`, metadata: { plan: 'team' } } : {}) });
    for (let c = 0; c < API_CALLS; c++) {
      const when = time();
      events.push({
        user_id,
        ...(c % 2 ? { company_id } : {}),
        transaction_id: `tx-${++tx}-${v}`,
        request: { time: when, uri: `https://api.example.com/orders/${c}`, verb: c % 3 ? 'GET' : 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: { n: c } },
        response: { time: when, status: 200, headers: { 'content-type': 'application/json' }, body: { ok: true, id: c } },
      });
    }
  }
  /** @type {Array<[kind: string, items: object[]]>} */
  const all = [['users', users], ['companies', companies], ['actions', actions], ['events', events]];
  const batches = all.filter(([, items]) => items.length);
  return { batches, count: batches.reduce((n, [, items]) => n + items.length, 0) };
}

let sent = 0;
let visitor = 0;
/** Sends groups, CONCURRENCY at a time (each group's batches in order), until `target` items are stored. @param {number} target */
async function fillTo(target) {
  const started = performance.now();
  const cpuBefore = collectorCpuSeconds();
  const from = sent;
  async function lane() {
    while (sent < target) {
      const at = START + Math.floor((sent / TOTAL) * span);
      const g = group(visitor, at);
      visitor += 20;
      sent += g.count;
      for (const [kind, items] of g.batches) await post(kind, items);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const ms = performance.now() - started;
  return { items: sent - from, ms, cpu: collectorCpuSeconds() - cpuBefore };
}

const median = (/** @type {number[]} */ values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** The median time of GET `path`, after two calls not counted. @param {string} path */
async function time(path) {
  /** @type {number[]} */
  const samples = [];
  for (let i = 0; i < SAMPLES + 2; i++) {
    const started = performance.now();
    const res = await fetch(url + path);
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
    if (i >= 2) samples.push(performance.now() - started);
  }
  return median(samples);
}

/** The median time of a companies call naming a known session token: the collector links the profiles seen with it. */
async function timeSessionLink() {
  /** @type {number[]} */
  const samples = [];
  for (let i = 0; i < SAMPLES + 2; i++) {
    const started = performance.now();
    await post('companies', [{ company_id: known.company, session_token: known.session }]);
    if (i >= 2) samples.push(performance.now() - started);
  }
  return median(samples);
}

/** SQLite's query plan of each lookup by session token, on the collector's file (WAL: a reader does not block it). */
function sessionPlans() {
  const db = new Database(dbPath, { readonly: true });
  try {
    return Object.entries(SESSION_LOOKUPS).map(([name, sql]) => {
      const plan = /** @type {Array<{ detail: string }>} */ (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('x'));
      return `${name}: ${plan.map((row) => row.detail).join(' | ')}`;
    });
  } finally {
    db.close();
  }
}

/** Bytes per item of each table and index of the closed file (dbstat), largest first. @param {number} items */
function tableBytes(items) {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = /** @type {Array<{ name: string, bytes: number }>} */ (
      db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all()
    );
    return rows.map((row) => `| ${row.name} | ${(row.bytes / items).toFixed(1)} |`);
  } finally {
    db.close();
  }
}

/** The cursor `pages` pages of 500 events deep (or the last one, if there are fewer). @param {number} pages */
async function deepCursor(pages) {
  let cursor = '';
  for (let i = 0; i < pages; i++) {
    /** @type {{ next_cursor?: string }} */
    const body = await (await fetch(`${url}/api/events?limit=500${cursor ? `&cursor=${cursor}` : ''}`)).json();
    if (!body.next_cursor) break;
    cursor = body.next_cursor;
  }
  return cursor;
}

function storeBytes() {
  return ['', '-wal'].map((suffix) => dbPath + suffix).filter(existsSync).reduce((n, file) => n + statSync(file).size, 0);
}

/** @typedef {{ items: number, rate: number, perCpu: number, bytes: number, timings: Array<[label: string, ms: number]>, load: number }} CheckpointResult */
/** @type {CheckpointResult[]} */
const results = [];
/** @type {string[]} */
let plans = [];
let walBytes = 0;
/** @type {string[]} */
let tables = [];
try {
  for (const checkpoint of CHECKPOINTS) {
    const fill = await fillTo(checkpoint);
    const items = sent;
    // Every group of visitors has some who sign up, so once a group is stored these are set.
    if (known.user === undefined || known.company === undefined) throw new Error(`no visitor signed up in the first ${items} items`);
    const user = encodeURIComponent(known.user);
    const company = encodeURIComponent(known.company);
    const deep = await deepCursor(100);
    const queries = [
      ['GET /api/events?limit=50', '/api/events?limit=50'],
      ['GET /api/events?user_id=…&limit=50', `/api/events?user_id=${user}&limit=50`],
      ['GET /api/events?company_id=…&limit=50', `/api/events?company_id=${company}&limit=50`],
      ['GET /api/events?kind=event&limit=50', '/api/events?kind=event&limit=50'],
      ['GET /api/events?limit=50&cursor=… (after 50,000)', `/api/events?limit=50&cursor=${deep}`],
      ['GET /api/users?limit=50', '/api/users?limit=50'],
      ['GET /api/users/:id', `/api/users/${user}`],
      ['GET /api/companies', '/api/companies'],
      ['GET /api/companies/:id', `/api/companies/${company}`],
      ['GET /api/funnel', '/api/funnel'],
      ['GET /api/funnel?steps=action:Signed Up,event', '/api/funnel?steps=action:Signed%20Up,event'],
      ['GET /api/activity?bucket=day', '/api/activity?bucket=day'],
      ['GET /api/activity?company_id=…', `/api/activity?company_id=${company}`],
    ];
    /** @type {CheckpointResult['timings']} */
    const timings = [];
    for (const [label, path] of queries) timings.push([label, await time(path)]);
    timings.push(['POST /v1/companies with a session token', await timeSessionLink()]);
    results.push({ items, rate: (fill.items / fill.ms) * 1000, perCpu: fill.items / fill.cpu, bytes: storeBytes() / items, timings, load: os.loadavg()[0] });
    console.error(`${items} items: ${Math.round((fill.items / fill.ms) * 1000)} items/s, ${Math.round(fill.items / fill.cpu)} items per collector CPU-second, ${Math.round(storeBytes() / items)} B/item, load ${os.loadavg()[0].toFixed(2)}`);
  }
  plans = sessionPlans();
  walBytes = existsSync(`${dbPath}-wal`) ? statSync(`${dbPath}-wal`).size : 0;
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  try {
    if (results.length) tables = tableBytes(sent);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (/** @type {number} */ n) => n.toLocaleString('en-US', { maximumFractionDigits: n < 10 ? 1 : 0 });
const header = `| query | ${results.map((r) => `${fmt(r.items)} items`).join(' | ')} |`;
const lines = [
  `Collector benchmark, ${new Date().toISOString().slice(0, 10)}, ${os.availableParallelism()} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the end`,
  '',
  header,
  `|---|${results.map(() => '---:').join('|')}|`,
  `| ingest over HTTP (items/s, from the previous column) | ${results.map((r) => fmt(r.rate)).join(' | ')} |`,
  `| ingest per collector CPU-second (items) | ${results.map((r) => fmt(r.perCpu)).join(' | ')} |`,
  `| store size (bytes per item) | ${results.map((r) => fmt(r.bytes)).join(' | ')} |`,
  ...(results[0]?.timings ?? []).map(([label], i) => `| \`${label}\` median (ms) | ${results.map((r) => fmt(r.timings[i][1])).join(' | ')} |`),
  `| load average (1 min) when measured | ${results.map((r) => r.load.toFixed(2)).join(' | ')} |`,
];
console.log(lines.join('\n'));
console.log(['', 'Query plans of the lookups by session token:', ...plans.map((plan) => `- ${plan}`)].join('\n'));
console.log(['', `The file by table and index after the collector closed, in bytes per item (the last store size above also counts the WAL, ${fmt(walBytes / sent)} bytes per item):`, '', '| table or index | bytes per item |', '|---|---:|', ...tables].join('\n'));
