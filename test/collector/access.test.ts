// @vitest-environment node
/**
 * Who may read the collector's data. The query API and the dashboard show captured headers, bodies
 * and session tokens: they answer only for an expected Host (DNS rebinding: a page whose own name
 * resolves to 127.0.0.1 reaches the collector with its own Host), and, when the collector listens
 * beyond loopback, only with the read token. The ingest API stays as Moesif's is.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_APP_ID, startCollector, type RunningCollector } from '../../demo/collector/server.js';
import { action } from './support';

let collector: RunningCollector | undefined;
afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with the headers given, Host included (fetch does not let a caller set Host). */
function request(url: string, { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const ingest = (url: string, headers: Record<string, string> = {}) =>
  request(`${url}/v1/actions`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Moesif-Application-Id': DEFAULT_APP_ID, ...headers }, body: JSON.stringify(action({ anonymous_id: 'access-anon' })) });

describe('on loopback (the default)', () => {
  it('answers the query API and the dashboard only for loopback Host names: another gets 403, ingest is unaffected', async () => {
    collector = await startCollector({ port: 0, db: ':memory:' });
    const { url, port } = collector;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
      expect((await request(`${url}/api/info`, { headers: { Host: host } })).status, host).toBe(200);
    }
    for (const path of ['/api/info', '/api/events', '/', '/dashboard.js']) {
      const reply = await request(url + path, { headers: { Host: `rebound.attacker.example:${port}` } });
      expect(reply.status, path).toBe(403);
      expect(JSON.parse(reply.body).error).toMatch(/Host/);
    }
    expect((await ingest(url, { Host: `rebound.attacker.example:${port}` })).status).toBe(201);
  });

  it('answers for the host names configured besides', async () => {
    collector = await startCollector({ port: 0, db: ':memory:', allowedHosts: ['collector.internal.example'] });
    expect((await request(`${collector.url}/api/info`, { headers: { Host: 'collector.internal.example:8787' } })).status).toBe(200);
    expect((await request(`${collector.url}/api/info`, { headers: { Host: 'other.example' } })).status).toBe(403);
  });
});

describe('beyond loopback', () => {
  it('refuses to start without a read token', async () => {
    await expect(startCollector({ port: 0, host: '0.0.0.0', db: ':memory:' })).rejects.toThrow(/read token.*USERTRAIL_READ_TOKEN/);
  });

  it('answers the query API and the dashboard with the read token only (401 without it or with a wrong one); ingest needs none', async () => {
    const token = 'read-token-for-the-test';
    collector = await startCollector({ port: 0, host: '0.0.0.0', db: ':memory:', readToken: token });
    const { url } = collector;
    for (const path of ['/api/info', '/api/events', '/api/users', '/']) {
      expect((await request(url + path)).status, `${path} without a token`).toBe(401);
      expect((await request(url + path, { headers: { Authorization: 'Bearer wrong-token' } })).status, `${path} with a wrong token`).toBe(401);
      expect((await request(url + path, { headers: { Authorization: `Bearer ${token}` } })).status, `${path} with the token`).toBe(200);
    }
    const error = JSON.parse((await request(`${url}/api/info`)).body).error;
    expect(error).toMatch(/read token/);
    expect(error).not.toContain(token);

    // The dashboard opened at /?token=...: the token goes into a cookie and out of the address.
    const opened = await request(`${url}/?token=${token}`);
    expect(opened.status).toBe(303);
    expect(opened.headers.location).toBe('/');
    const cookie = String(opened.headers['set-cookie']?.[0]);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    const pair = cookie.split(';')[0] as string;
    expect((await request(`${url}/`, { headers: { Cookie: pair } })).status).toBe(200);
    expect((await request(`${url}/api/events`, { headers: { Cookie: pair } })).status).toBe(200);
    expect((await request(`${url}/?token=wrong`)).status).toBe(401);

    // A cookie of that name that is not percent-encoding (another app on localhost, a hand edit) is
    // no token: 401 like any wrong one, not a 500.
    for (const bad of ['usertrail_read_token=%', 'usertrail_read_token=%E0%A4%A']) {
      const res = await request(`${url}/api/events`, { headers: { Cookie: bad } });
      expect(res.status, bad).toBe(401);
      expect(JSON.parse(res.body).error, bad).toMatch(/read token/);
    }

    expect((await ingest(url)).status).toBe(201);
    // Still the Host check, token or not.
    expect((await request(`${url}/api/info`, { headers: { Authorization: `Bearer ${token}`, Host: 'rebound.attacker.example' } })).status).toBe(403);
  });
});
