// @vitest-environment node
/**
 * The middleware in a real Express app, logging to a recording collector on 127.0.0.1: attribution,
 * bodies, masking, and that the app's traffic is never changed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import express from 'express';
import { expressjwt } from 'express-jwt';
import { Readable } from 'node:stream';
import { brotliCompressSync, createBrotliCompress, createDeflate, createGzip, deflateSync, gzipSync } from 'node:zlib';
import moesif, { moesifMiddleware, type MoesifMiddleware, type MoesifOptions } from '../../src/server/index';
import { SignJWT } from 'jose';
import { JWT_SECRET, serversPerTest, signToken, startApp, waitFor } from './helpers';

const servers = serversPerTest();
let mw: MoesifMiddleware | undefined;

afterEach(() => {
  vi.restoreAllMocks();
});

/** The seed's app (tracking-api-calls-by-user.txt) plus extra routes, our middleware mounted first. */
async function seedApp(options: Partial<MoesifOptions> = {}, routes?: (app: express.Express) => void) {
  mw = moesif({ applicationId: 'app-1', baseUri: servers.collector.url, batchMaxTime: 10, ...options });
  const middleware = mw;
  servers.api = await startApp((app) => {
    app.use(middleware);
    app.get('/test', expressjwt({ secret: JWT_SECRET, algorithms: ['HS256'] }), (_req, res) => {
      res.status(200);
      res.send('this is a response');
    });
    routes?.(app);
  });
  return servers.api.url;
}

async function oneEvent() {
  await mw?.flush();
  return waitFor(() => servers.collector.events()[0]);
}

describe('attribution', () => {
  it('logs a call with a valid JWT under the token subject (express-jwt 8 req.auth.sub)', async () => {
    const url = await seedApp();
    const token = await signToken({ sub: 'user_42' });
    const res = await fetch(`${url}/test?x=1`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('this is a response');
    const event = await oneEvent();
    expect(event.user_id).toBe('user_42');
    expect(event.direction).toBe('Incoming');
    expect(event.request.verb).toBe('GET');
    expect(event.request.uri).toBe(`${url}/test?x=1`);
    expect(event.request.ip_address).toBe('127.0.0.1');
    expect(event.response.status).toBe(200);
    expect(event.response.body).toBe('this is a response');
    expect(event.transaction_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(event.request.time)).toBeLessThanOrEqual(Date.parse(event.response.time));
  });

  it('logs a call without a token as the 401 express-jwt answered, with no user', async () => {
    const url = await seedApp();
    const res = await fetch(`${url}/test`);
    expect(res.status).toBe(401);
    const event = await oneEvent();
    expect(event.response.status).toBe(401);
    expect(event.user_id).toBeUndefined();
  });

  it('never attributes a call to a token the auth middleware refused (alg none, expired, forged, malformed)', async () => {
    const url = await seedApp();
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const valid = await signToken({ sub: 'user_ok', pad: 'x'.repeat(6000) });
    const refused = [
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'user_forged' })}.`,
      await new SignJWT({ sub: 'user_expired' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
        .sign(new TextEncoder().encode(JWT_SECRET)),
      await signToken({ sub: 'user_wrong_key' }, 'another-secret'),
      'not.a.jwt',
    ];
    for (const token of refused) expect((await fetch(`${url}/test`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
    // express-jwt reads the scheme case-insensitively; a large (6 KB) token is still a token.
    expect((await fetch(`${url}/test`, { headers: { Authorization: `bearer ${valid}` } })).status).toBe(200);
    await mw?.flush();
    const events = await waitFor(() => servers.collector.events().length === 5 && servers.collector.events());
    expect(events.map((e) => e.user_id)).toEqual([undefined, undefined, undefined, undefined, 'user_ok']);
    expect(events.map((e) => e.request.headers.authorization)).toEqual([...Array(4).fill('Bearer *****'), 'bearer *****']);
  });

  it('honours identifyUser and identifyCompany overrides, including async ones', async () => {
    const url = await seedApp({
      identifyUser: (req) => (req.headers['x-user'] as string | undefined) ?? undefined,
      identifyCompany: async (req) => `co_${String(req.headers['x-user'])}`,
    });
    await fetch(`${url}/test`, { headers: { 'X-User': 'u7' } });
    const event = await oneEvent();
    expect(event.user_id).toBe('u7');
    expect(event.company_id).toBe('co_u7');
  });

  it("logs the seed's token, whose user is its id claim, under that id with express-jwt 8 (req.auth.id)", async () => {
    const url = await seedApp();
    // As the seed's jwt.io token: an `id` field in the payload, verified by express-jwt on the route.
    const token = await signToken({ id: 'user_from_id', sub: 'idp|other' });
    const res = await fetch(`${url}/test`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect((await oneEvent()).user_id).toBe('user_from_id');
  });

  it('reads the seed convention req.user.id (express-jwt requestProperty "user") and numeric ids', async () => {
    const url = await seedApp({}, (app) => {
      app.get('/legacy', expressjwt({ secret: JWT_SECRET, algorithms: ['HS256'], requestProperty: 'user' }), (_req, res) => {
        res.json({ ok: true });
      });
    });
    const token = await signToken({ id: 1234 });
    await fetch(`${url}/legacy`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await oneEvent()).user_id).toBe('1234');
  });

  it('adds session token, tags, metadata and api version from the hooks', async () => {
    const url = await seedApp({
      getSessionToken: () => 'sess-1',
      getTags: () => 'a, b',
      getMetadata: (req) => ({ path: req.url }),
      getApiVersion: () => '2.0',
    });
    await fetch(`${url}/test`);
    const event = await oneEvent();
    expect(event).toMatchObject({ session_token: 'sess-1', tags: 'a, b', metadata: { path: '/test' } });
    expect(event.request.api_version).toBe('2.0');
  });

  it('gives the hooks the URL the app received, not what a mounted router left of it', async () => {
    // The usual health-check skip. moesif-nodejs asks skip() before routing; asked after, req.url was
    // '/health' (Express strips the router's mount path and leaves it so when a route answers).
    const url = await seedApp({ skip: (req) => req.url === '/api/health', getMetadata: (req) => ({ url: req.url }) }, (app) => {
      const router = express.Router();
      router.get('/health', (_req, res) => void res.send('ok'));
      // An answer that comes later than the health check's (time is the scenario).
      router.get('/items', (_req, res) => void setTimeout(() => res.json([]), 10));
      app.use('/api', router);
    });
    await fetch(`${url}/api/health`);
    await fetch(`${url}/api/items?page=2`);
    // The health check was answered (and skipped, or not) before the second call began.
    await mw?.flush();
    const events = await waitFor(() => servers.collector.events().length > 0 && servers.collector.events());
    expect(events.map((e) => e.metadata)).toEqual([{ url: '/api/items?page=2' }]);
  });

  it('skips calls the skip hook names, asked after the response so it can see the status', async () => {
    const url = await seedApp({ skip: (_req, res) => res.statusCode === 401 });
    await fetch(`${url}/test`);
    await fetch(`${url}/test`, { headers: { Authorization: `Bearer ${await signToken({ sub: 'u' })}` } });
    await mw?.flush();
    // The 401 was answered, and skipped or not, before the second call began: its event would be first.
    await waitFor(() => servers.collector.events().length === 1);
    expect(servers.collector.events().map((e) => e.response.status)).toEqual([200]);
  });
});

describe('bodies', () => {
  it('passes a JSON response through byte for byte and records it parsed', async () => {
    const payload = { projects: [{ id: 1, name: 'Zoë ✓' }], total: 1 };
    const url = await seedApp({}, (app) => app.get('/json', (_req, res) => void res.json(payload)));
    const res = await fetch(`${url}/json`);
    const text = await res.text();
    expect(text).toBe(JSON.stringify(payload));
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    const event = await oneEvent();
    expect(event.response.body).toEqual(payload);
    expect(event.response.headers['content-type']).toMatch(/application\/json/);
  });

  it('passes a streamed response through byte for byte, with encodings and callbacks honoured', async () => {
    const calls: string[] = [];
    const returns: unknown[] = [];
    const url = await seedApp({}, (app) =>
      app.get('/stream', (_req, res) => {
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        returns.push(res.write('héllo ', 'utf8', () => calls.push('write1')));
        returns.push(res.write('776f726c64', 'hex'));
        returns.push(res.write(Buffer.from(' ✓ ')));
        returns.push(res.write(new Uint8Array([0x21, 0x21])));
        res.end(' end', 'latin1', () => calls.push('end'));
      }),
    );
    const res = await fetch(`${url}/stream`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const expected = Buffer.concat([Buffer.from('héllo '), Buffer.from('world'), Buffer.from(' ✓ '), Buffer.from('!!'), Buffer.from(' end', 'latin1')]);
    expect(bytes.equals(expected)).toBe(true);
    expect(returns.every((r) => typeof r === 'boolean')).toBe(true);
    await waitFor(() => calls.length === 2);
    expect(calls).toEqual(['write1', 'end']);
    expect((await oneEvent()).response.body).toBe(expected.toString('utf8'));
  });

  it('passes a piped binary stream through unchanged and records it as base64', async () => {
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 256;
    const url = await seedApp({ responseMaxBodySize: 1000 }, (app) =>
      app.get('/bin', (_req, res) => {
        res.setHeader('Content-Type', 'application/octet-stream');
        Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]).pipe(res);
      }),
    );
    const res = await fetch(`${url}/bin`);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
    const event = await oneEvent();
    expect(event.response.transfer_encoding).toBe('base64');
    expect(Buffer.from(event.response.body, 'base64').equals(data.subarray(0, 1000))).toBe(true);
  });

  it('caps a large body in the event, not in the response', async () => {
    const big = 'x'.repeat(250_000);
    const url = await seedApp({ responseMaxBodySize: 10_000 }, (app) => app.get('/big', (_req, res) => void res.type('text').send(big)));
    const res = await fetch(`${url}/big`);
    expect(await res.text()).toBe(big);
    const event = await oneEvent();
    expect(event.response.body).toBe(big.slice(0, 10_000));
  });

  it('keeps exactly the first bytes of a long string answer, cut inside a character or not', async () => {
    // Strings past the cap are no longer encoded whole; what is kept must still be the bytes sent.
    const text = `ab😀${'é'.repeat(50_000)}`;
    const expected = Buffer.from(text, 'utf8');
    const url = await seedApp({ responseMaxBodySize: 3 }, (app) =>
      // res.end(string), as node:http apps answer (Express's send() makes long strings Buffers itself).
      app.get('/long', (_req, res) => void res.type('application/octet-stream').end(text)),
    );
    const res = await fetch(`${url}/long`);
    expect(Buffer.from(await res.arrayBuffer()).equals(expected)).toBe(true);
    const event = await oneEvent();
    expect(event.response.transfer_encoding).toBe('base64');
    expect(Buffer.from(event.response.body, 'base64')).toEqual(expected.subarray(0, 3));
  });

  it('records compressed bodies decoded and masked, whichever side of a compression middleware it is on', async () => {
    const payload = { id: 'u1', token: 'jwt-abc', note: 'Zoë ✓' };
    const json = JSON.stringify(payload);
    /** Gzips whatever the app writes after it, as compression() does: mounted before us, we see plain bytes. */
    const gzipLater: express.RequestHandler = (_req, res, next) => {
      const gzip = createGzip();
      const write = res.write.bind(res) as (chunk: Buffer) => boolean;
      const end = res.end.bind(res) as () => void;
      gzip.on('data', (chunk: Buffer) => write(chunk));
      gzip.on('end', () => end());
      const start = () => {
        if (res.headersSent) return;
        res.setHeader('Content-Encoding', 'gzip');
        res.removeHeader('Content-Length');
      };
      // any: standing in for the overloaded write/end, as compression() replaces them.
      (res as any).write = (chunk: Buffer | string) => (start(), gzip.write(chunk));
      (res as any).end = (chunk?: Buffer | string) => {
        start();
        if (chunk) gzip.write(chunk);
        gzip.end();
        return res;
      };
      next();
    };
    const compressed = (encoding: string, body: Buffer): express.RequestHandler => (_req, res) => {
      res.set({ 'Content-Type': 'application/json', 'Content-Encoding': encoding });
      res.end(body);
    };
    const url = await seedApp({}, (app) => {
      app.get('/gzip', compressed('gzip', gzipSync(json)));
      app.get('/br', compressed('br', brotliCompressSync(json)));
      app.get('/deflate', compressed('deflate', deflateSync(json)));
      app.get('/inner', gzipLater, (_req, res) => void res.json(payload));
      // 5 MB of text in 5 KB of gzip: decoded only up to responseMaxBodySize.
      app.get('/bomb', (_req, res) => void res.set({ 'Content-Type': 'text/plain', 'Content-Encoding': 'gzip' }).end(gzipSync('a'.repeat(5_000_000))));
      app.post('/gzipped-upload', (req, res) => {
        req.resume();
        req.on('end', () => void res.status(204).end());
      });
    });
    for (const path of ['/gzip', '/br', '/deflate', '/inner']) {
      const res = await fetch(`${url}${path}`);
      // The app's traffic is untouched: the client decodes what it was sent.
      expect(res.headers.get('content-encoding')).toBe(path === '/inner' ? 'gzip' : path.slice(1));
      expect(await res.json()).toEqual(payload);
    }
    await (await fetch(`${url}/bomb`)).arrayBuffer();
    await fetch(`${url}/gzipped-upload`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ password: 'hunter2' })),
    });
    await mw?.flush();
    const events = await waitFor(() => servers.collector.events().length === 6 && servers.collector.events());
    for (const event of events.slice(0, 4)) {
      expect(event.response.transfer_encoding).toBeUndefined();
      expect(event.response.body).toEqual({ ...payload, token: '*****' });
    }
    expect(events[4]?.response.body).toBe('a'.repeat(100_000));
    expect(events[5]?.request.body).toEqual({ password: '*****' });
  });

  it('records plain bodies as they are beneath a compression middleware, whatever encoding it declares', async () => {
    // compression() mounted first, as apps usually do: we see the app's plain bytes while the header
    // already says deflate or br. Neither has a header to check, so some plain bodies "decoded" into
    // garbage ({"a":1} as deflate) or into nothing ([] as br) instead of being kept as they are.
    const compressLater = (encoding: 'deflate' | 'br'): express.RequestHandler => (_req, res, next) => {
      const compressor = encoding === 'br' ? createBrotliCompress() : createDeflate();
      const write = res.write.bind(res) as (chunk: Buffer) => boolean;
      const end = res.end.bind(res) as () => void;
      compressor.on('data', (chunk: Buffer) => write(chunk));
      compressor.on('end', () => end());
      // any: standing in for the overloaded end, as compression() replaces it.
      (res as any).end = (chunk?: Buffer | string) => {
        if (!res.headersSent) res.setHeader('Content-Encoding', encoding).removeHeader('Content-Length');
        compressor.end(chunk);
        return res;
      };
      next();
    };
    const bodies = [{ a: 1 }, [], { ok: true, items: [1, 2, 3] }];
    mw = moesif({ applicationId: 'app-1', baseUri: servers.collector.url, batchMaxTime: 10 });
    const middleware = mw;
    servers.api = await startApp((app) => {
      app.use('/deflate', compressLater('deflate'));
      app.use('/br', compressLater('br'));
      app.use(middleware);
      app.get('/:encoding/:i', (req, res) => void res.json(bodies[Number(req.params.i)]));
    });
    const { url } = servers.api;
    const paths = ['deflate', 'br'].flatMap((encoding) => bodies.map((_, i) => `/${encoding}/${i}`));
    for (const path of paths) {
      const res = await fetch(`${url}${path}`);
      expect(res.headers.get('content-encoding')).toBe(path.split('/')[1]);
      expect(await res.json()).toEqual(bodies[Number(path.split('/')[2])]);
    }
    await mw?.flush();
    const events = await waitFor(() => servers.collector.events().length === paths.length && servers.collector.events());
    expect(events.map((event) => [new URL(event.request.uri).pathname, event.response.body])).toEqual(
      paths.map((path) => [path, bodies[Number(path.split('/')[2])]]),
    );
  });

  it('records a JSON request body parsed by express.json(), mounted after the middleware', async () => {
    const url = await seedApp({}, (app) => app.post('/echo', express.json(), (req, res) => void res.json({ got: req.body })));
    const res = await fetch(`${url}/echo`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"a"}' });
    expect(await res.json()).toEqual({ got: { name: 'a' } });
    expect((await oneEvent()).request.body).toEqual({ name: 'a' });
  });

  it('keeps a parsed body whole when its JSON is requestMaxBodySize bytes, and cuts one a byte longer', async () => {
    // Non-ASCII and characters JSON escapes: the cap counts the UTF-8 bytes of the masked JSON.
    const fits = { name: 'Zoë "quoted"\n€'.repeat(20), password: 'hunter2' };
    const over = { ...fits, name: `${fits.name}!` };
    const masked = (body: object) => JSON.stringify({ ...body, password: '*****' });
    const cap = Buffer.byteLength(masked(fits));
    const url = await seedApp({ requestMaxBodySize: cap }, (app) => app.post('/echo', express.json(), (_req, res) => void res.status(204).end()));
    for (const body of [fits, over]) {
      await fetch(`${url}/echo`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    }
    await mw?.flush();
    const [whole, cut] = await waitFor(() => servers.collector.events().length === 2 && servers.collector.events());
    expect(whole?.request.body).toEqual({ ...fits, password: '*****' });
    expect(whole?.metadata).toBeUndefined();
    expect(cut?.request.body).toBe(Buffer.from(masked(over)).subarray(0, cap).toString());
    expect(cut?.metadata).toEqual({ truncated: ['request'] });
  });

  it('records a raw request body without consuming it for the app', async () => {
    const url = await seedApp({}, (app) =>
      app.post('/raw', (req, res) => {
        // The app reads the stream itself, late (time is the scenario): nothing may have been lost to us.
        setTimeout(() => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => res.send(`len=${Buffer.concat(chunks).length}`));
        }, 30);
      }),
    );
    const body = JSON.stringify({ items: Array.from({ length: 2000 }, (_, i) => i) });
    const res = await fetch(`${url}/raw`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect(await res.text()).toBe(`len=${Buffer.byteLength(body)}`);
    expect((await oneEvent()).request.body).toEqual(JSON.parse(body));
  });

  it('does not record a raw multipart body (files, and form fields it cannot mask)', async () => {
    const url = await seedApp({}, (app) =>
      app.post('/upload', (req, res) => {
        // Read raw, as busboy-based handlers do: no req.body.
        req.resume();
        req.on('end', () => void res.status(201).json({ ok: true }));
      }),
    );
    const form = new FormData();
    form.append('password', 'hunter2');
    form.append('file', new Blob([Buffer.from('%PDF-1.7 private contract')], { type: 'application/pdf' }), 'contract.pdf');
    expect((await fetch(`${url}/upload`, { method: 'POST', body: form })).status).toBe(201);
    const event = await oneEvent();
    expect(event.request.headers['content-type']).toMatch(/^multipart\/form-data/);
    // It went out as base64 of the whole form: anyone reading the event decodes the password.
    expect(event.request.body).toBeUndefined();
    expect(event.response.body).toEqual({ ok: true });
  });

  it('records no raw request body rather than its tail when mounted after an async middleware', async () => {
    // A session lookup before us: by the time we run, Node has already buffered the first chunks.
    const body = JSON.stringify({ password: 'hunter2', items: Array.from({ length: 30_000 }, (_, i) => i) });
    mw = moesif({ applicationId: 'app-1', baseUri: servers.collector.url, batchMaxTime: 10, requestMaxBodySize: 1_000_000 });
    const middleware = mw;
    servers.api = await startApp((app) => {
      app.use((_req, _res, next) => void setTimeout(next, 30)); // a slow lookup: time is the scenario
      app.use(middleware);
      app.post('/raw', (req, res) => {
        let length = 0;
        req.on('data', (chunk: Buffer) => (length += chunk.length));
        req.on('end', () => void res.json({ length }));
      });
      app.post('/parsed', express.json({ limit: '1mb' }), (req, res) => void res.json({ keys: Object.keys(req.body as object) }));
    });
    const headers = { 'Content-Type': 'application/json' };
    expect(await (await fetch(`${servers.api.url}/raw`, { method: 'POST', headers, body })).json()).toEqual({ length: body.length });
    expect(await (await fetch(`${servers.api.url}/parsed`, { method: 'POST', headers, body })).json()).toEqual({ keys: ['password', 'items'] });
    await mw.flush();
    const [raw, parsed] = await waitFor(() => servers.collector.events().length === 2 && servers.collector.events());
    // The recorded bytes were the end of the body only, sent as if they were all of it.
    expect(raw?.request.body).toBeUndefined();
    // A parser's req.body is whole whenever we are mounted: still recorded.
    expect(parsed?.request.body).toMatchObject({ password: '*****' });
  });

  it('records no response body, rather than an empty one, when responseMaxBodySize is 0', async () => {
    // Request bodies only: every answer was logged as "" (an API that answered nothing).
    const url = await seedApp({ responseMaxBodySize: 0 }, (app) => app.post('/echo', express.json(), (req, res) => void res.json({ got: req.body })));
    expect(await (await fetch(`${url}/echo`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"a":1}' })).json()).toEqual({ got: { a: 1 } });
    const event = await oneEvent();
    expect(event.request.body).toEqual({ a: 1 });
    expect(event.response).not.toHaveProperty('body');
  });

  it('logs no bodies when logBody is false', async () => {
    const url = await seedApp({ logBody: false }, (app) => app.get('/json', (_req, res) => void res.json({ a: 1 })));
    await fetch(`${url}/json`);
    const event = await oneEvent();
    expect(event.response.body).toBeUndefined();
    expect(event.request.body).toBeUndefined();
  });
});

describe('masking', () => {
  it('masks a form body that a text parser read, as webhooks that check a signature read theirs', async () => {
    // Slack's slash commands and Twilio post forms, verified against the raw text: req.body is a string.
    const url = await seedApp({}, (app) => app.post('/hook', express.text({ type: '*/*' }), (req, res) => void res.send(String(req.body.length))));
    const form = 'team=acme&token=xoxb-slack-secret&user_name=ada&password=hunter2';
    const res = await fetch(`${url}/hook`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: form });
    expect(await res.text()).toBe(String(form.length));
    const event = await oneEvent();
    expect(event.request.body).toBe('team=acme&token=*****&user_name=ada&password=*****');
  });

  it('records a text body that a text parser read, its JSON-looking credentials masked', async () => {
    const url = await seedApp({}, (app) => app.post('/note', express.text(), (req, res) => void res.send(String(req.body.length))));
    await fetch(`${url}/note`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{"note": "hi", "password": "hunter2"' });
    const event = await oneEvent();
    expect(event.request.body).toBe('{"note": "hi", "password": "*****"');
  });

  it('masks the JSON of an event-stream body that a text parser read, as when no parser read it', async () => {
    // Server-sent events and NDJSON are masked line by line when recorded from the stream; a text
    // parser's string of the same body went out with its credentials.
    const url = await seedApp({}, (app) => {
      app.post('/parsed', express.text({ type: '*/*' }), (req, res) => void res.send(String(req.body.length)));
      app.post('/raw', (req, res) => {
        req.resume();
        req.on('end', () => void res.status(204).end());
      });
    });
    const body = 'event: login\ndata: {"user": "ada", "token": "abc-secret"}\n\n';
    for (const path of ['/parsed', '/raw']) {
      await fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'text/event-stream' }, body });
    }
    await mw?.flush();
    const events = await waitFor(() => servers.collector.events().length === 2 && servers.collector.events());
    const masked = 'event: login\ndata: {"user": "ada", "token": "*****"}\n\n';
    expect(events.map((event) => [new URL(event.request.uri).pathname, event.request.body]).sort()).toEqual([
      ['/parsed', masked],
      ['/raw', masked],
    ]);
  });

  it('masks a form body that no parser read (recorded from the stream), as sent otherwise', async () => {
    const url = await seedApp({}, (app) =>
      app.post('/login', (req, res) => {
        req.resume();
        req.on('end', () => void res.status(204).end());
      }),
    );
    await fetch(`${url}/login`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'user=ada&password=hunter2&next=%2Fhome' });
    const event = await oneEvent();
    expect(event.request.body).toBe('user=ada&password=*****&next=%2Fhome');
  });

  it('masks credentials in headers, JSON bodies and query strings', async () => {
    const url = await seedApp({}, (app) =>
      app.post('/login', express.json(), (_req, res) => {
        res.cookie('sid', 'secret-session');
        res.json({ token: 'jwt-abc', user: { id: 'u1', max_tokens: 5 } });
      }),
    );
    const token = await signToken({ sub: 'u1' });
    await fetch(`${url}/login?api_key=k123&page=2`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, Cookie: 'a=b', 'X-Api-Key': 'k1', 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'a@b.c', password: 'hunter2' }),
    });
    const event = await oneEvent();
    const all = JSON.stringify(event);
    for (const secret of [token, 'hunter2', 'jwt-abc', 'secret-session', 'k123', 'a=b', '"k1"']) expect(all).not.toContain(secret);
    expect(event.request.headers.authorization).toBe('Bearer *****');
    expect(event.request.headers['x-api-key']).toBe('*****');
    expect(event.request.uri).toBe(`${url}/login?api_key=*****&page=2`);
    expect(event.request.body).toEqual({ email: 'a@b.c', password: '*****' });
    expect(event.response.body).toEqual({ token: '*****', user: { id: 'u1', max_tokens: 5 } });
  });

  it('masks secret keys by their common names, and leaves counters and public ids alone', async () => {
    const url = await seedApp({}, (app) =>
      app.post('/keys', express.json(), (_req, res) =>
        void res.json({ secretKey: 'sk-1', accessKey: 'ak-1', aws_secret_access_key: 'aws-1', sessionId: 'sess-1', credentials: { user: 'u', pass: 'p-1' } }),
      ),
    );
    await fetch(`${url}/keys`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Ocp-Apim-Subscription-Key': 'azure-1', 'X-Functions-Key': 'fn-1' },
      body: JSON.stringify({ prompt_tokens: 12, max_tokens: 64, idempotencyKey: 'idem-1', publicKey: 'pub-1' }),
    });
    const event = await oneEvent();
    const all = JSON.stringify(event);
    for (const secret of ['sk-1', 'ak-1', 'aws-1', 'sess-1', 'p-1', 'azure-1', 'fn-1']) expect(all).not.toContain(secret);
    expect(event.request.headers['ocp-apim-subscription-key']).toBe('*****');
    expect(event.request.body).toEqual({ prompt_tokens: 12, max_tokens: 64, idempotencyKey: 'idem-1', publicKey: 'pub-1' });
    expect(event.response.body).toEqual({
      secretKey: '*****',
      accessKey: '*****',
      aws_secret_access_key: '*****',
      sessionId: '*****',
      credentials: '*****',
    });
  });

  it('masks credentials in the URL of the Referer a browser sends from a page that had them', async () => {
    // The password-reset page calls the API on its own origin: browsers send its whole address.
    const url = await seedApp({}, (app) => app.post('/password', (_req, res) => void res.status(204).end()));
    const referer = 'https://app.example.test/reset?token=reset-secret-123&step=2';
    await fetch(`${url}/password`, { method: 'POST', headers: { Referer: referer } });
    const event = await oneEvent();
    expect(event.request.headers.referer).toBe('https://app.example.test/reset?token=*****&step=2');
  });

  it('masks credentials in the URLs of Location headers, query and fragment alike', async () => {
    const url = await seedApp({}, (app) => {
      app.get('/reset', (_req, res) => void res.redirect(302, '/welcome?token=reset-123&next=%2Fhome'));
      // The OAuth implicit flow hands the access token over in the fragment.
      app.get('/authorize', (_req, res) => void res.redirect(302, 'https://app.example.test/cb#access_token=at-456&state=s1'));
    });
    await fetch(`${url}/reset`, { redirect: 'manual' });
    await fetch(`${url}/authorize`, { redirect: 'manual' });
    await mw?.flush();
    const [reset, authorize] = await waitFor(() => servers.collector.events().length === 2 && servers.collector.events());
    expect(reset?.response.headers.location).toBe('/welcome?token=*****&next=%2Fhome');
    expect(authorize?.response.headers.location).toBe('https://app.example.test/cb#access_token=*****&state=s1');
  });

  it('masks JWTs wherever they appear, whatever the field, parameter or header is called', async () => {
    const token = await signToken({ sub: 'user_1' });
    const refresh = await signToken({ sub: 'user_1', typ: 'refresh' });
    const url = await seedApp({}, (app) => {
      // The shape of djangorestframework-simplejwt's and many Node token endpoints' answers.
      app.post('/api/token', (_req, res) => void res.json({ refresh, access: token, user: 'user_1' }));
      app.get('/verify/:token', (_req, res) => void res.type('text').send(`verified ${token} ok`));
    });
    await fetch(`${url}/api/token`, { method: 'POST' });
    await fetch(`${url}/verify/${token}?jwt=${refresh}&page=2`, { headers: { 'X-Amzn-Oidc-Data': token } });
    await mw?.flush();
    const [issue, verify] = await waitFor(() => servers.collector.events().length === 2 && servers.collector.events());
    const all = JSON.stringify([issue, verify]);
    for (const jwt of [token, refresh]) expect(all).not.toContain(jwt.split('.')[1]);
    expect(issue?.response.body).toEqual({ refresh: '*****', access: '*****', user: 'user_1' });
    expect(verify?.request.uri).toBe(`${url}/verify/*****?jwt=*****&page=2`);
    expect(verify?.request.headers['x-amzn-oidc-data']).toBe('*****');
    expect(verify?.response.body).toBe('verified ***** ok');
  });

  it('masks credentials in JSON bodies cut at the size cap, and in ones that are not valid JSON', async () => {
    const pad = 'x'.repeat(2000);
    // The cap falls inside the password's value: what is left of it must not be sent either.
    const cutInside = JSON.stringify({ pad, password: 'hunter2-and-more' });
    const cap = cutInside.indexOf('hunter2') + 4;
    const url = await seedApp({ responseMaxBodySize: cap, requestMaxBodySize: 500 }, (app) => {
      app.get('/cut', (_req, res) => void res.type('json').send(cutInside));
      app.get('/long', (_req, res) => void res.json({ token: 'jwt-abc', user: { id: 'u1', secret: { k: 'inner-s3' } }, pad }));
      app.get('/broken', (_req, res) => void res.type('json').send(`{"api_key": "k-live-9", "n": 1, oops}`));
      app.post('/upload', (req, res) => {
        req.resume();
        req.on('end', () => void res.status(204).end());
      });
    });
    await fetch(`${url}/cut`);
    await fetch(`${url}/long`);
    await fetch(`${url}/broken`);
    await fetch(`${url}/upload`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_secret: 'cs-123', items: pad }),
    });
    await mw?.flush();
    const [cut, long, broken, upload] = await waitFor(() => servers.collector.events().length === 4 && servers.collector.events());
    const all = JSON.stringify([cut, long, broken, upload]);
    for (const secret of ['hunt', 'jwt-abc', 'inner-s3', 'k-live-9', 'cs-123']) expect(all).not.toContain(secret);
    expect(cut?.response.body).toBe(`{"pad":"${pad}","password":"*****"`);
    expect(long?.response.body).toMatch(/^\{"token":"\*{5}","user":\{"id":"u1","secret":"\*{5}"\},"pad":"x+$/);
    expect(broken?.response.body).toBe('{"api_key": "*****", "n": 1, oops}');
    expect(upload?.request.body).toMatch(/^\{"client_secret":"\*{5}","items":"x+$/);
  });

  it('masks a sensitive object of pretty-printed JSON cut at the size cap whole, whether the cut falls inside it or after it', async () => {
    const pretty = (pad: string) => JSON.stringify({ pad, credentials: { user: 'u1', pass: 's3cret-pass' }, after: 'kept-value' }, null, 2);
    const inside = pretty('x'.repeat(2000));
    const cap = inside.indexOf('s3cret') + 3;
    // As much shorter that the cut falls inside "kept-value", after the credentials closed.
    const after = pretty('x'.repeat(2000 - (inside.indexOf('kept-value') - inside.indexOf('s3cret'))));
    const url = await seedApp({ responseMaxBodySize: cap }, (app) => {
      app.get('/inside', (_req, res) => void res.type('json').send(inside));
      app.get('/after', (_req, res) => void res.type('json').send(after));
    });
    await fetch(`${url}/inside`);
    await fetch(`${url}/after`);
    await mw?.flush();
    const [cutInside, cutAfter] = await waitFor(() => servers.collector.events().length === 2 && servers.collector.events());
    for (const secret of ['s3c', 'u1']) expect(JSON.stringify([cutInside, cutAfter])).not.toContain(secret);
    const masked = (text: string) => `${text.slice(0, text.indexOf('{', text.indexOf('"credentials"')))}"*****"`;
    expect(cutInside?.response.body).toBe(masked(inside));
    expect(cutAfter?.response.body).toBe(`${masked(after)}${after.slice(after.indexOf('}', after.indexOf('s3cret')) + 1, cap)}`);
  });

  it('masks a credential after a string that ends in an escaped backslash, one with escaped quotes and an empty one, in JSON that is not valid', async () => {
    const broken = String.raw`{"path": "C:\\", "say": "\"hi\"", "note": "", "password": "hunter2", oops}`;
    const url = await seedApp({}, (app) => app.get('/broken', (_req, res) => void res.type('json').send(broken)));
    await fetch(`${url}/broken`);
    const event = await oneEvent();
    expect(event.response.body).toBe(String.raw`{"path": "C:\\", "say": "\"hi\"", "note": "", "password": "*****", oops}`);
  });

  it('lets maskContent edit the event', async () => {
    const url = await seedApp({
      maskContent: (event) => {
        delete event.request.headers['user-agent'];
        return { ...event, metadata: { masked: true } };
      },
    });
    await fetch(`${url}/test`, { headers: { 'User-Agent': 'ua-test' } });
    const event = await oneEvent();
    expect(event.request.headers['user-agent']).toBeUndefined();
    expect(event.metadata).toEqual({ masked: true });
  });
});

describe('options', () => {
  it('reads options taken from environment variables as strings ("false", "2")', async () => {
    // logBody: process.env.LOG_BODY: the string "false" was truthy, so bodies went out anyway.
    const env = { LOG_BODY: 'false', BATCH_SIZE: '2', BATCH_MAX_TIME: '60000' };
    // The cast: a JavaScript app passes whatever its environment holds.
    const fromEnv = { logBody: env.LOG_BODY, batchSize: env.BATCH_SIZE, batchMaxTime: env.BATCH_MAX_TIME } as unknown as MoesifOptions;
    const url = await seedApp(fromEnv, (app) => app.get('/json', (_req, res) => void res.json({ email: 'ada@acme.test' })));
    for (let i = 0; i < 2; i++) await fetch(`${url}/json`);
    const events = await waitFor(() => servers.collector.events().length === 2 && servers.collector.events());
    expect(servers.collector.requests).toHaveLength(1);
    expect(events.map((e) => e.response.body)).toEqual([undefined, undefined]);
  });

  it('warns once, by name, about each option it cannot use, and uses its default', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    // The cast: what a JavaScript app can pass.
    const wrong = { batchSize: -5, logBody: 'no', identifyUser: 'req.user.id', requestTimeout: '10s' } as unknown as MoesifOptions;
    const url = await seedApp(wrong);
    const token = await signToken({ sub: 'user_1' });
    await fetch(`${url}/test`, { headers: { Authorization: `Bearer ${token}` } });
    expect((await oneEvent()).user_id).toBe('user_1');
    const messages = warn.mock.calls.map((call) => String(call[0]));
    expect(messages).toHaveLength(4);
    for (const name of ['batchSize', 'logBody', 'identifyUser', 'requestTimeout']) expect(messages.some((m) => m.includes(name))).toBe(true);
  });

  it('names each option it does not know (a typo, a moesif-nodejs option it lacks) in one warning', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    // logbody (moesif examples write it so) was ignored without a word: bodies went out anyway.
    const unknown = { logbody: false, noAutoHideSensitive: true, identifyuser: () => 'u' } as unknown as MoesifOptions;
    const url = await seedApp(unknown);
    await fetch(`${url}/test`);
    await oneEvent();
    expect(warn.mock.calls.map((call) => String(call[0]))).toEqual([
      '[usertrail/server] option "logbody" is unknown (did you mean "logBody"?): ignored',
      '[usertrail/server] option "noAutoHideSensitive" is not supported by usertrail/server: ignored',
      '[usertrail/server] option "identifyuser" is unknown (did you mean "identifyUser"?): ignored',
    ]);
  });

  it('refuses an applicationId that no HTTP header can carry, with one clear error', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    // A value pasted with a line break inside: every request to the collector failed before it was
    // sent, and was retried for ever, without a word.
    const url = await seedApp({ applicationId: 'eyJhcHAi\nOiIxIn0' });
    expect((await fetch(`${url}/test`)).status).toBe(401);
    expect(error).toHaveBeenCalledTimes(1);
    expect(String(error.mock.calls[0]?.[0])).toMatch(/applicationId .*cannot be sent/);
    expect(String(error.mock.calls[0]?.[0])).not.toContain('eyJhcHAi');
    expect(mw?.stats().queued).toBe(0);
  });
});

describe('resilience', () => {
  it('keeps the app working when hooks throw, warns once per hook, and uses the defaults', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const url = await seedApp({
      identifyUser: () => {
        throw new Error('boom with user data');
      },
      getMetadata: () => Promise.reject(new Error('nope')),
    });
    const token = await signToken({ sub: 'user_9' });
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/test`, { headers: { Authorization: `Bearer ${token}` } });
      expect(await res.text()).toBe('this is a response');
    }
    await mw?.flush();
    const events = await waitFor(() => servers.collector.events().length === 3 && servers.collector.events());
    expect(events.every((e) => e.user_id === 'user_9')).toBe(true);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls.flat().join(' ')).not.toContain('user data');
  });

  it('does not let a hook that never settles hold the event or flush(): after hookTimeout the default is used', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    // A lookup whose database never answers: without a limit, each call's event (and its req/res)
    // stayed in memory for good, and flush() on SIGTERM waited forever (here: until the test timed out).
    const url = await seedApp({ identifyUser: () => new Promise<string>(() => {}), hookTimeout: 200 });
    const token = await signToken({ sub: 'user_9' });
    await fetch(`${url}/test`, { headers: { Authorization: `Bearer ${token}` } });
    await mw?.flush();
    expect(servers.collector.events().map((e) => e.user_id)).toEqual(['user_9']);
    expect(warn.mock.calls.flat().join(' ')).toMatch(/identifyUser did not settle within 0.2 s/);
    // A limit, not a wait: with the default 5 s instead of hookTimeout, flush() outlasts it and the test fails.
  }, 4000);

  it('drops the event when maskContent throws rather than send it unmasked', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const url = await seedApp({
      maskContent: () => {
        throw new Error('mask failed');
      },
    });
    expect((await fetch(`${url}/test`)).status).toBe(401);
    // The warning says the event was built and dropped: nothing is left to send.
    await waitFor(() => warn.mock.calls.flat().join(' ').includes('maskContent threw'));
    await mw?.flush();
    expect(mw?.stats()).toMatchObject({ queued: 0, sent: 0 });
    expect(servers.collector.events()).toEqual([]);
  });

  it('without applicationId prints one clear error, never throws, and passes requests through', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    // The cast: a JavaScript app can call it without the required option.
    const passThrough = moesifMiddleware({} as MoesifOptions);
    expect(error).toHaveBeenCalledTimes(1);
    expect(String(error.mock.calls[0]?.[0])).toMatch(/applicationId is required/);
    servers.api = await startApp((app) => {
      app.use(passThrough);
      app.get('/ok', (_req, res) => void res.send('ok'));
    });
    expect(await (await fetch(`${servers.api.url}/ok`)).text()).toBe('ok');
    await passThrough.flush();
    expect(passThrough.stats().queued).toBe(0);
    expect((await passThrough.updateUser({ userId: 'u' })).status).toBe(0);
  });

  it('debug logs say counts and statuses, never user ids, tokens or bodies', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    const url = await seedApp({ debug: true }, (app) => app.get('/me', (_req, res) => void res.json({ email: 'ada@acme.test' })));
    const token = await signToken({ sub: 'user_secretive' });
    await fetch(`${url}/test`, { headers: { Authorization: `Bearer ${token}` } });
    await fetch(`${url}/me`);
    await mw?.flush();
    await waitFor(() => lines.length > 0);
    const output = lines.join('\n');
    expect(output).toMatch(/POST \/v1\/events\/batch: 201/);
    for (const secret of ['user_secretive', token, 'ada@acme.test']) expect(output).not.toContain(secret);
  });

  it('logs a call whose client left before the answer with the status the app then answered', async () => {
    // A slow call the client gives up on is the one worth seeing: it was logged at once as a 200
    // with no body (the status Node starts with), whatever the app answered afterwards.
    let answered = false;
    const url = await seedApp({}, (app) =>
      app.get('/slow', (_req, res) => {
        // Answers after the client left (time is the scenario).
        setTimeout(() => {
          res.status(503).json({ error: 'upstream timed out' });
          answered = true;
        }, 150);
      }),
    );
    const controller = new AbortController();
    const call = fetch(`${url}/slow`, { signal: controller.signal }).catch((error: unknown) => error);
    setTimeout(() => controller.abort(), 30); // the client gives up before the answer: time is the scenario
    expect(await call).toBeInstanceOf(Error);
    await waitFor(() => answered);
    const event = await oneEvent();
    expect(event.response.status).toBe(503);
    expect(event.response.body).toEqual({ error: 'upstream timed out' });
    expect(Date.parse(event.response.time) - Date.parse(event.request.time)).toBeGreaterThanOrEqual(140);
  });

  it("reads the client's address from proxy headers as moesif-nodejs does: the first valid one, its port dropped", async () => {
    const url = await seedApp({}, (app) => app.get('/ip', (_req, res) => void res.send('ok')));
    const cases: Array<[Record<string, string>, string]> = [
      // A proxy that cannot tell puts "unknown" first; Azure's front ends add the client's port.
      [{ 'X-Forwarded-For': 'unknown, 203.0.113.7' }, '203.0.113.7'],
      [{ 'X-Forwarded-For': '203.0.113.8:54321, 10.0.0.1' }, '203.0.113.8'],
      [{ 'X-Forwarded-For': '2001:db8::1' }, '2001:db8::1'],
      // nginx's usual proxy_set_header X-Real-IP, and Cloudflare's header, without X-Forwarded-For.
      [{ 'X-Real-IP': '203.0.113.9' }, '203.0.113.9'],
      [{ 'CF-Connecting-IP': '198.51.100.4' }, '198.51.100.4'],
      [{ 'X-Forwarded-For': 'garbage', 'X-Real-IP': 'also garbage' }, '127.0.0.1'],
    ];
    for (const [headers] of cases) await fetch(`${url}/ip`, { headers });
    await mw?.flush();
    const events = await waitFor(() => servers.collector.events().length === cases.length && servers.collector.events());
    expect(events.map((e) => e.request.ip_address)).toEqual(cases.map(([, ip]) => ip));
  });

  it("keeps the client's address when the connection closes before an async hook answers", async () => {
    // identifyUser looking the user up in a database; curl and many scripts close the connection
    // right after the answer. Node forgets a closed socket's address: the call had no ip_address.
    const url = await seedApp({
      identifyUser: async (req) => {
        await new Promise<void>((resolve) => req.socket.once('close', () => resolve()));
        return 'user_9';
      },
    });
    const res = await fetch(`${url}/test`, { headers: { Connection: 'close' } });
    expect(res.status).toBe(401);
    const event = await oneEvent();
    expect(event.user_id).toBe('user_9');
    expect(event.request.ip_address).toBe('127.0.0.1');
  });

  it('logs a call once when the same middleware is mounted on overlapping paths', async () => {
    const url = await seedApp({}, (app) => {
      // app.use(mw) above, and again on a router, as apps assembled from modules end up doing.
      const router = express.Router();
      router.use(mw as MoesifMiddleware);
      router.get('/items', (_req, res) => void res.json([1, 2]));
      app.use('/api', router);
    });
    expect(await (await fetch(`${url}/api/items`)).json()).toEqual([1, 2]);
    // A call after it: once its event has arrived, a second event for the first would have too.
    await fetch(`${url}/api/items?after=1`);
    await mw?.flush();
    await waitFor(() => servers.collector.events().some((e) => e.request.uri.endsWith('?after=1')));
    await mw?.flush();
    expect(servers.collector.events().map((e) => new URL(e.request.uri).pathname + new URL(e.request.uri).search)).toEqual(['/api/items', '/api/items?after=1']);
    expect(servers.collector.events()[0]?.response.body).toEqual([1, 2]);
  });

  it('sends the Moesif headers with each batch', async () => {
    const url = await seedApp();
    await fetch(`${url}/test`);
    await oneEvent();
    const headers = servers.collector.requests[0]?.headers;
    expect(headers?.['content-type']).toBe('application/json');
    expect(headers?.['x-moesif-application-id']).toBe('app-1');
    expect(headers?.['x-moesif-sdk']).toMatch(/^usertrail-node\//);
  });
});
