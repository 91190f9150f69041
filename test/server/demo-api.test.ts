// @vitest-environment node
/**
 * The seed's example app (demo/api, built middleware from dist/server.mjs) against the real reference
 * collector (demo/collector), both on 127.0.0.1: what the dashboard will show.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, startRecorder } from './helpers';

const distServer = fileURLToPath(new URL('../../dist/server.mjs', import.meta.url));
const APP_ID = 'usertrail-test-app';

let demo: typeof import('../../demo/api/server.js');
let collectorModule: typeof import('../../demo/collector/server.js');
let collector: Awaited<ReturnType<typeof collectorModule.startCollector>>;
let api: Awaited<ReturnType<typeof demo.startApi>>;

beforeAll(async () => {
  if (!existsSync(distServer)) throw new Error('dist/server.mjs is missing: run `npm run build` (or `npx rollup -c`) first');
  demo = await import('../../demo/api/server.js');
  collectorModule = await import('../../demo/collector/server.js');
});

beforeEach(async () => {
  collector = await collectorModule.startCollector({ port: 0, host: '127.0.0.1', db: ':memory:', applicationId: APP_ID });
  api = await demo.startApi({ collectorUrl: collector.url, applicationId: APP_ID, middlewareOptions: { batchMaxTime: 60_000 } });
});
afterEach(async () => {
  await api?.close();
  await collector?.close();
});

async function login(email: string) {
  const res = await fetch(`${api.url}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { userId: string; companyId: string; token: string };
}

async function storedEvents(query: string) {
  await api.middleware.flush();
  const res = await fetch(`${collector.url}/api/events?kind=event&${query}`);
  // any: the collector's query answer, whose fields the assertions read; typing it would restate them.
  return ((await res.json()) as { events: any[] }).events;
}

describe('the seed app with usertrail/server and the reference collector', () => {
  it('logs GET /test with a valid JWT under the token user, as the seed\'s last screenshot shows', async () => {
    const { userId, companyId, token } = await login('ada@acme.test');
    expect(userId).toMatch(/^user_[0-9a-f]{12}$/);
    const res = await fetch(`${api.url}/test`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('this is a response');
    const events = await storedEvents(`user_id=${userId}`);
    const call = events.find((e) => e.uri.endsWith('/test'));
    expect(call).toMatchObject({ verb: 'GET', status: 200, user_id: userId, company_id: companyId });
    expect(call.request.headers.authorization).toBe('Bearer *****');
    expect(JSON.stringify(events)).not.toContain(token);
  });

  it('logs a call without a token as the 401 with no user', async () => {
    const res = await fetch(`${api.url}/test`);
    expect(res.status).toBe(401);
    const events = await storedEvents('');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: 401, user_id: null });
    expect(events[0].uri).toBe(`${api.url}/test`);
  });

  it('derives a stable user id from the email and attributes the log-in call itself', async () => {
    const a = await login('Grace@Navy.test');
    const b = await login('grace@navy.test ');
    expect(a.userId).toBe(b.userId);
    expect(a.userId).toBe(demo.userIdFor('grace@navy.test'));
    const events = await storedEvents(`user_id=${a.userId}`);
    expect(events.map((e) => new URL(e.uri).pathname)).toEqual(['/login', '/login']);
    expect(JSON.stringify(events)).not.toContain(a.token);
  });

  it('serves the JWT-protected JSON endpoint with open CORS, and does not log preflights', async () => {
    const { userId, token } = await login('linus@kernel.test');
    const preflight = await fetch(`${api.url}/api/projects`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://app.example.test:3000', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    const res = await fetch(`${api.url}/api/projects`, { headers: { Authorization: `Bearer ${token}`, Origin: 'http://app.example.test:3000' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const body = (await res.json()) as { user_id: string; projects: unknown[] };
    expect(body.user_id).toBe(userId);
    const events = await storedEvents('');
    expect(events.some((e) => e.verb === 'OPTIONS')).toBe(false);
    const projects = events.find((e) => e.uri.endsWith('/api/projects'));
    expect(projects.response.body).toEqual(body);
  });

  it('close() flushes the events still queued', async () => {
    await fetch(`${api.url}/test`);
    expect(api.middleware.stats().queued).toBe(1);
    await api.close();
    const res = await fetch(`${collector.url}/api/events?kind=event`);
    expect(((await res.json()) as { total: number }).total).toBe(1);
  });

  it('keeps profiles: the log-in updates the user and company', async () => {
    const { userId, companyId } = await login('ada@acme.test');
    // The profile update is not awaited by /login (analytics never delays a response): poll for it.
    const deadline = Date.now() + 5000;
    let user: { company_id?: string } = {};
    while (Date.now() < deadline && user.company_id === undefined) {
      const res = await fetch(`${collector.url}/api/users/${userId}`);
      if (res.ok) user = (await res.json()) as { company_id?: string };
      else await new Promise((r) => setTimeout(r, 20)); // the polling interval
    }
    expect(user.company_id).toBe(companyId);
  });
});

describe('the built middleware in a process of its own', () => {
  /**
   * Runs a tiny app with the built middleware in its own Node process, makes one request, waits until
   * the middleware's stats meet `until` (an expression on `s`), closes the server, and reports whether
   * the process then exits by itself (no timer or socket keeps it alive).
   */
  async function runAppProcess(middlewareOptions: string, until: string) {
    const script = `
      import http from 'node:http';
      import moesif from ${JSON.stringify(distServer)};
      const mw = moesif({ applicationId: 'a', ${middlewareOptions} });
      const server = http.createServer((req, res) => mw(req, res, () => res.end('ok')));
      server.listen(0, '127.0.0.1', async () => {
        const r = await fetch('http://127.0.0.1:' + server.address().port + '/x');
        await r.text();
        // Polling the middleware's own counters until the delivery attempt happened.
        for (let s = mw.stats(); !(${until}); s = mw.stats()) await new Promise((ok) => setTimeout(ok, 10));
        server.close();
        server.closeAllConnections();
        console.log(JSON.stringify(mw.stats()));
      });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      // Time is what is tested: a process that has not exited by itself by then never will.
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error('the process did not exit on its own'));
      }, 8000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    return { code, stats: JSON.parse(out.trim()) as Record<string, number> };
  }

  it('lets the process exit by itself while the collector is down (timers and sockets unref\'d)', async () => {
    const down = await freePort();
    const { code, stats } = await runAppProcess(`baseUri: 'http://127.0.0.1:${down}', batchMaxTime: 10, retryBaseDelay: 50`, 's.failedRequests >= 1');
    expect(code).toBe(0);
    expect(stats.queued).toBe(1);
    expect(stats.failedRequests).toBeGreaterThanOrEqual(1);
  });

  it('lets the process exit by itself after delivering to a collector that is up (keep-alive sockets unref\'d)', async () => {
    const collectorUp = await startRecorder();
    try {
      const { code, stats } = await runAppProcess(`baseUri: '${collectorUp.url}', batchMaxTime: 10`, 's.sent === 1');
      expect(code).toBe(0);
      expect(stats).toMatchObject({ queued: 0, sent: 1 });
      expect(collectorUp.events()[0]?.request.uri).toMatch(/\/x$/);
    } finally {
      await collectorUp.close();
    }
  });
});
