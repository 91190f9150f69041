// @vitest-environment node
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_APP_ID, action, apiCall, at, startTestCollector, txId, type TestCollector } from './support';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

const user = (id: string) => ({ user_id: id, metadata: { plan: 'free' }, campaign: { utm_source: 'test' } });
const company = (id: string) => ({ company_id: id, company_domain: `${id}.example.test`, metadata: { size: 3 } });

describe('the ingest API', () => {
  it.each([
    ['actions', () => action({ anonymous_id: 'anon-single' })],
    ['events', () => apiCall({ user_id: 'user-single' })],
    ['users', () => user('user-single')],
    ['companies', () => company('company-single')],
  ])('accepts one item of %s at /v1/<kind> and answers 201', async (kind, make) => {
    const res = await c.post(`/v1/${kind}`, make());
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ accepted: 1, stored: 1, duplicates: 0, rejected: [] });
  });

  it.each([
    ['actions', () => action({ anonymous_id: 'anon-batch' })],
    ['events', () => apiCall({ user_id: 'user-batch' })],
    ['users', () => user(`user-${txId()}`)],
    ['companies', () => company(`company-${txId()}`)],
  ])('accepts a batch of %s at /v1/<kind>/batch and answers 201', async (kind, make) => {
    const res = await c.post(`/v1/${kind}/batch`, [make(), make(), make()]);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ accepted: 3, stored: 3, rejected: [] });
  });

  it('stores what it accepted, readable through the query API', async () => {
    const tx = txId();
    await c.post('/v1/actions', { ...action({ anonymous_id: 'anon-stored', time: at(5) }), transaction_id: tx, action_name: 'Clicked Buy', metadata: { colour: 'blue' } });
    const { body } = await c.get('/api/events?anonymous_id=anon-stored');
    expect(body.events).toHaveLength(1);
    expect(body.events[0]).toMatchObject({ kind: 'action', action_name: 'Clicked Buy', transaction_id: tx, time: at(5), anonymous_id: 'anon-stored', user_id: 'anon-stored', identified_user_id: null, metadata: { colour: 'blue' } });
  });

  it('accepts an action without request.time, as moesif-browser-js 1.8.13 track() sends it, timed when received', async () => {
    // The exact body of moesif.track('Clicked Pricing', { plan: 'team' }) in moesif-browser-js 1.8.13: its
    // request has uri, verb and user_agent_string, and no time.
    const track = {
      action_name: 'Clicked Pricing',
      anonymous_id: 'anon-moesif-track',
      request: { uri: 'http://app.example.test/pricing', verb: 'GET', user_agent_string: 'Mozilla/5.0' },
      transaction_id: txId(),
      metadata: { plan: 'team' },
    };
    const before = new Date().toISOString();
    const res = await c.post('/v1/actions', track);
    const after = new Date().toISOString();
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ accepted: 1, stored: 1 });
    const [stored] = (await c.get('/api/events?anonymous_id=anon-moesif-track')).body.events;
    expect(stored).toMatchObject({ action_name: 'Clicked Pricing', metadata: { plan: 'team' } });
    expect(stored.time >= before && stored.time <= after).toBe(true);
    // Its batch form too (moesif-browser-js with batchEnabled).
    expect((await c.post('/v1/actions/batch', [{ ...track, transaction_id: txId() }])).status).toBe(201);
  });

  it('takes numeric user and company ids, as moesif-browser-js sends identifyUser(12345), as the same profile as their string form', async () => {
    // moesif-browser-js 1.8.13 sends the id as given; the seed recommends "a database id", often a number.
    // usertrail's SDKs (browser and server) send String(id): both must land on one profile.
    expect((await c.post('/v1/users', { user_id: 12345, anonymous_id: 'anon-numeric', company_id: 67890 })).status).toBe(201);
    expect((await c.post('/v1/actions', action({ user_id: 12345, company_id: 67890, time: at(2) }))).status).toBe(201);
    expect((await c.post('/v1/events', apiCall({ user_id: '12345', time: at(3) }))).status).toBe(201);
    const profile = (await c.get('/api/users/12345')).body;
    expect(profile).toMatchObject({ user_id: '12345', identified_user_id: '12345', anonymous_ids: ['anon-numeric'], company_id: '67890', action_count: 1, event_count: 1 });
    // Not every number is an id.
    expect((await c.post('/v1/users', { user_id: 1.5 })).body).toEqual({ error: 'user_id must be a non-empty string' });
  });

  it('accepts an empty batch', async () => {
    const res = await c.post('/v1/actions/batch', []);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ accepted: 0, rejected: [] });
  });

  it('reads a text/plain beacon body with the application id in the query string', async () => {
    const item = action({ anonymous_id: 'anon-beacon' });
    const res = await fetch(`${c.url}/v1/actions/batch?X-Moesif-Application-Id=${DEFAULT_APP_ID}`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify([item]),
    });
    expect(res.status).toBe(201);
    expect((await c.get('/api/events?anonymous_id=anon-beacon')).body.total).toBe(1);
  });

  it('answers 401 when the application id is missing', async () => {
    const res = await c.post('/v1/actions', action({ anonymous_id: 'a' }), { appId: null });
    expect(res.status).toBe(401);
    expect(res.body.error).toMatch(/missing application id/);
  });

  it('answers 401 when the application id is unknown, in the header or the query string', async () => {
    expect((await c.post('/v1/actions', action({ anonymous_id: 'a' }), { appId: 'someone-else' })).status).toBe(401);
    const res = await fetch(`${c.url}/v1/actions?X-Moesif-Application-Id=someone-else`, { method: 'POST', body: JSON.stringify(action({ anonymous_id: 'a' })) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'unknown application id' });
  });

  it('answers 400 for malformed JSON and for an empty body', async () => {
    const bad = await c.post('/v1/actions', '{"action_name": ', { raw: true });
    expect(bad).toMatchObject({ status: 400, body: { error: 'body is not valid JSON' } });
    const empty = await c.post('/v1/actions', '', { raw: true });
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatch(/empty/);
  });

  it.each([
    ['actions', { ...action({ anonymous_id: 'a' }), action_name: 42 }, 'action_name must be a non-empty string'],
    ['actions', { ...action({ anonymous_id: 'a' }), request: undefined }, 'request is required'],
    ['actions', action({ anonymous_id: 'a', time: 'yesterday' }), 'request.time must be an ISO 8601 date string'],
    ['actions', { ...action({ anonymous_id: 'a' }), metadata: ['x'] }, 'metadata must be an object'],
    ['actions', action({ anonymous_id: 7 }), 'anonymous_id must be a non-empty string'],
    ['events', { ...apiCall({}), response: { time: at(0), status: '200' } }, 'response.status must be an integer HTTP status'],
    ['events', { ...apiCall({}), request: { time: at(0), verb: 'GET' } }, 'request.uri is required'],
    ['events', { ...apiCall({}), request: { time: at(0), uri: '/x', verb: 'GET', headers: { a: { b: 1 } } } }, 'request.headers.a must be a string, or a list of strings'],
    ['events', { ...apiCall({}), response: { time: at(0), status: 200, headers: { 'set-cookie': ['a=1', null] } } }, 'response.headers.set-cookie must be a string, or a list of strings'],
    ['users', { metadata: {} }, 'user_id or anonymous_id is required'],
    ['users', { user_id: 'u', campaign: { utm_source: 1 } }, 'campaign.utm_source must be a string'],
    ['users', { user_id: 'u', company_id: '' }, 'company_id must be a non-empty string'],
    ['companies', { company_domain: 'x.test' }, 'company_id is required'],
    ['companies', { company_id: 'c', modified_time: 12 }, 'modified_time must be an ISO 8601 date string'],
  ])('answers 400 naming the field when a %s item has a wrong type (%#)', async (kind, item, error) => {
    const res = await c.post(`/v1/${kind}`, item);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error });
  });

  it('answers 400 when an array goes to a single-item endpoint or an object to a batch endpoint', async () => {
    expect((await c.post('/v1/actions', [action({ anonymous_id: 'a' })])).body.error).toMatch(/send arrays to \/v1\/actions\/batch/);
    const res = await c.post('/v1/actions/batch', action({ anonymous_id: 'a' }));
    expect(res).toMatchObject({ status: 400, body: { error: 'body must be a JSON array' } });
  });

  it('answers 413 for a body over 1 MB, and keeps serving', async () => {
    const big = [action({ anonymous_id: 'anon-big', metadata: { blob: 'x'.repeat(1024 * 1024) } })];
    const res = await c.post('/v1/actions/batch', big);
    expect(res.status).toBe(413);
    expect(res.body.error).toMatch(/larger than 1048576 bytes/);
    expect((await c.post('/v1/actions', action({ anonymous_id: 'anon-after-big' }))).status).toBe(201);
    expect((await c.get('/api/events?anonymous_id=anon-big')).body.total).toBe(0);
  });

  it('answers 400 naming the field for JSON nested too deep to store, and stores the rest of its batch', async () => {
    // 5,000 levels parse (30 KB) but overflowed the stack when stored: a 500 for the whole batch,
    // which moesif-browser-js retries for ever, holding back everything queued behind it.
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const good = action({ anonymous_id: 'anon-deep' });
    const bad = JSON.stringify(action({ anonymous_id: 'anon-deep' })).replace(/}$/, `,"metadata":${deep}}`);
    const batch = await c.post('/v1/actions/batch', `[${JSON.stringify(good)},${bad}]`, { raw: true });
    expect(batch.status).toBe(207);
    expect(batch.body).toMatchObject({ accepted: 1, stored: 1, rejected: [{ index: 1, error: expect.stringMatching(/^metadata is nested deeper than \d+ levels$/) }] });
    expect((await c.get('/api/events?anonymous_id=anon-deep')).body.total).toBe(1);

    const user = await c.post('/v1/users', `{"user_id":"u-deep","metadata":${deep}}`, { raw: true });
    expect(user).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^metadata is nested deeper/) } });
    const event = JSON.stringify(apiCall({ user_id: 'u-deep' })).replace('"body":{"ok":true}', `"body":${deep}`);
    expect(await c.post('/v1/events', event, { raw: true })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^response is nested deeper/) } });
    // Ordinary nesting is fine.
    const nested = action({ anonymous_id: 'anon-deep', metadata: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) });
    expect((await c.post('/v1/actions', nested)).status).toBe(201);
  });

  it('stores the good items of a batch and lists the rejected ones by index with 207', async () => {
    const good1 = action({ anonymous_id: 'anon-mixed' });
    const good2 = action({ anonymous_id: 'anon-mixed' });
    const res = await c.post('/v1/actions/batch', [good1, { action_name: 'No request' }, good2, 'not an object']);
    expect(res.status).toBe(207);
    expect(res.body).toEqual({
      accepted: 2,
      stored: 2,
      duplicates: 0,
      conflicts: 0,
      rejected: [
        { index: 1, error: 'request is required' },
        { index: 3, error: 'item must be a JSON object' },
      ],
    });
    expect((await c.get('/api/events?anonymous_id=anon-mixed')).body.total).toBe(2);
  });

  it('answers 400 with every index when no item of a batch is usable', async () => {
    const res = await c.post('/v1/events/batch', [{}, { request: 1 }]);
    expect(res.status).toBe(400);
    expect(res.body.accepted).toBe(0);
    expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual([0, 1]);
    expect(res.body.error).toMatch(/every item was rejected/);
  });

  it('accepts an action or event whose transaction_id is stored already, without storing it again', async () => {
    const a = action({ anonymous_id: 'anon-idem' });
    const e = apiCall({ anonymous_id: 'anon-idem' });
    expect((await c.post('/v1/actions', a)).body).toMatchObject({ stored: 1, duplicates: 0 });
    expect((await c.post('/v1/actions', a)).body).toMatchObject({ accepted: 1, stored: 0, duplicates: 1 });
    expect((await c.post('/v1/events/batch', [e, e, apiCall({ anonymous_id: 'anon-idem' })])).body).toMatchObject({ accepted: 3, stored: 2, duplicates: 1 });
    expect((await c.post('/v1/events', e)).status).toBe(201);
    const { body } = await c.get('/api/events?anonymous_id=anon-idem');
    expect(body.total).toBe(3);
  });

  it('answers a CORS preflight from any origin, cacheably, with the headers the SDK sends', async () => {
    const res = await fetch(`${c.url}/v1/actions/batch`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://app.example.test:3000', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-moesif-application-id,x-moesif-sdk' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toBe('content-type, x-moesif-application-id, x-moesif-sdk');
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
  });

  it('allows any origin to read its answers, errors included', async () => {
    expect((await c.post('/v1/actions', action({ anonymous_id: 'a' }))).headers.get('access-control-allow-origin')).toBe('*');
    expect((await c.post('/v1/actions', {}, { appId: null })).headers.get('access-control-allow-origin')).toBe('*');
    // A cross-origin SDK can only read a Retry-After the collector exposes.
    expect((await c.post('/v1/actions', action({ anonymous_id: 'a' }))).headers.get('access-control-expose-headers')).toBe('Retry-After');
  });

  it('answers 404 in JSON for an unknown kind, naming the method and path as for any other path', async () => {
    expect(await c.post('/v1/widgets', {})).toMatchObject({ status: 404, body: { error: 'no such endpoint: POST /v1/widgets' } });
    expect(await c.post('/v1/widgets/batch', [], { appId: null })).toMatchObject({ status: 404, body: { error: 'no such endpoint: POST /v1/widgets/batch' } });
    expect((await c.get('/api/nothing')).body.error).toBe('no such endpoint: GET /api/nothing');
  });

  it('answers 405 in JSON, with Allow, for a wrong method on an endpoint that exists, and keeps serving', async () => {
    const cases: [string, string, string][] = [
      ['GET', '/v1/events', 'POST'],
      ['PUT', '/v1/actions', 'POST'],
      ['DELETE', '/v1/users/batch', 'POST'],
      ['PATCH', '/v1/companies', 'POST'],
      ['POST', '/v1/config', 'GET'],
      ['PUT', '/v1/rules', 'GET'],
      ['POST', '/api/events', 'GET'],
      ['DELETE', '/api/users/someone', 'GET'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await fetch(c.url + path, { method, headers: { 'X-Moesif-Application-Id': DEFAULT_APP_ID }, body: method === 'GET' ? undefined : '{}' });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect(await res.json(), `${method} ${path}`).toEqual({ error: `${method} is not allowed on ${path}; use ${allow}` });
    }
    // HEAD too, with the status and no body.
    expect((await fetch(`${c.url}/v1/actions`, { method: 'HEAD' })).status).toBe(405);
    expect((await c.post('/v1/actions', action({ anonymous_id: 'anon-after-405' }))).status).toBe(201);
  });

  it('answers 400 naming the parameter when the application id is given twice in the query string', async () => {
    const res = await fetch(`${c.url}/v1/actions?X-Moesif-Application-Id=${DEFAULT_APP_ID}&X-Moesif-Application-Id=${DEFAULT_APP_ID}`, { method: 'POST', body: JSON.stringify(action({ anonymous_id: 'a' })) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'the X-Moesif-Application-Id query parameter must be given once' });
  });

  it('answers 401 without the application id on every ingest endpoint, one item or a batch, and on config and rules', async () => {
    for (const kind of ['actions', 'events', 'users', 'companies']) {
      expect(await c.post(`/v1/${kind}`, {}, { appId: null }), kind).toMatchObject({ status: 401, body: { error: expect.stringMatching(/^missing application id/) } });
      expect(await c.post(`/v1/${kind}/batch`, [], { appId: null }), kind).toMatchObject({ status: 401, body: { error: expect.stringMatching(/^missing application id/) } });
    }
    for (const path of ['/v1/config', '/v1/rules']) expect(await c.get(path), path).toMatchObject({ status: 401, body: { error: expect.stringMatching(/^missing application id/) } });
  });

  it('answers 400 naming the problem for a path that is not valid percent-encoding', async () => {
    for (const path of ['/v1/%E0%A4%A', '/api/users/%', '/api/companies/%E0%A4%A']) {
      const res = await fetch(c.url + path, { method: path.startsWith('/v1') ? 'POST' : 'GET', body: path.startsWith('/v1') ? '[]' : undefined });
      expect(res.status, path).toBe(400);
      expect(await res.json(), path).toEqual({ error: 'the path is not valid percent-encoding' });
    }
  });

  it('answers 404 in JSON for any other path too, as an SDK with a wrong host or path option reaches', async () => {
    // e.g. host: '127.0.0.1:8787/collector' posts to /collector/v1/actions/batch.
    for (const [method, path] of [['POST', '/collector/v1/actions/batch'], ['POST', '/actions'], ['POST', '/'], ['GET', '/nothing/here']]) {
      const res = await fetch(c.url + path, { method, body: method === 'POST' ? '[]' : undefined });
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      expect((await res.json()).error, path).toBe(`no such endpoint: ${method} ${path}`);
    }
  });

  it('keeps metadata keys named __proto__ and constructor as plain data, on events, profiles and companies', async () => {
    // Sent raw: JSON.parse makes "__proto__" an own key, as it does for a body from any SDK.
    const hostile = '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"isAdmin":true}},"plan":"team"}';
    const item = JSON.stringify(action({ anonymous_id: 'anon-proto', time: at(1) })).replace(/}$/, `,"metadata":${hostile}}`);
    expect((await c.post('/v1/actions', item, { raw: true })).status).toBe(201);
    expect((await c.post('/v1/users', `{"user_id":"user-proto","anonymous_id":"anon-proto","metadata":${hostile}}`, { raw: true })).status).toBe(201);
    expect((await c.post('/v1/companies', `{"company_id":"company-proto","metadata":${hostile}}`, { raw: true })).status).toBe(201);

    const expected = JSON.parse(hostile);
    const [event] = (await c.get('/api/events?user_id=user-proto')).body.events;
    expect(Object.keys(event.metadata)).toEqual(['__proto__', 'constructor', 'plan']);
    expect(event.metadata).toEqual(expected);
    const profile = (await c.get('/api/users/user-proto')).body;
    expect(Object.keys(profile.metadata)).toEqual(['__proto__', 'constructor', 'plan']);
    expect(profile.metadata).toEqual(expected);
    expect(Object.keys((await c.get('/api/companies/company-proto')).body.metadata)).toEqual(['__proto__', 'constructor', 'plan']);
    // Nothing leaked into the collector's own objects.
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('answers gzip that is not gzip, is cut short, or inflates past the limit with a 4xx JSON error, and takes real gzip', async () => {
    const batch = JSON.stringify([action({ anonymous_id: 'anon-gzip' })]);
    const send = (body: Uint8Array | string, encoding = 'gzip') => c.post('/v1/actions/batch', body, { raw: true, headers: { 'Content-Encoding': encoding } });
    // The error says which encoding failed, and how (zlib's words alone, "incorrect header check", did not).
    expect(await send('this is not gzip')).toMatchObject({ status: 400, body: { error: 'body is not valid gzip (Content-Encoding: gzip): incorrect header check' } });
    expect(await send(gzipSync(batch).subarray(0, 20))).toMatchObject({ status: 400, body: { error: 'body is not valid gzip (Content-Encoding: gzip): unexpected end of file' } });
    expect(await send('not deflate either', 'deflate')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^body is not valid deflate \(Content-Encoding: deflate\): /) } });
    expect(await send('not brotli', 'br')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^body is not valid br \(Content-Encoding: br\): /) } });
    // 3 MB of zeros in 3 KB: refused by the inflated size.
    expect(await send(gzipSync(Buffer.alloc(3 * 1024 * 1024)))).toMatchObject({ status: 413, body: { error: expect.stringMatching(/larger than/) } });
    expect((await send(gzipSync(batch))).status).toBe(201);
    expect((await c.get('/api/events?anonymous_id=anon-gzip')).body.total).toBe(1);
  });

  it('never answers 500 to odd client input', async () => {
    const odd = ['null', 'true', '12', '"text"', '[null]', '[[]]', '{"__proto__": {"x": 1}}', '{"request": {"time": {"$gt": ""}}}', '\u0000', '{"action_name": "\ud800"}'];
    for (const body of odd) {
      for (const path of ['/v1/actions', '/v1/actions/batch', '/v1/events', '/v1/users/batch', '/v1/companies']) {
        const res = await c.post(path, body, { raw: true });
        expect(res.status, `${path} ${body}`).toBeLessThan(500);
        expect(res.body.error, `${path} ${body}`).toEqual(expect.any(String));
      }
    }
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    expect((await c.post('/v1/users/batch', deep, { raw: true })).status).toBe(400);
    expect((await c.post('/v1/users', '{}', { raw: true, headers: { 'Content-Encoding': 'br-nope' } })).status).toBe(415);
    expect((await c.get('/api/users')).status).toBe(200);
  });
});
