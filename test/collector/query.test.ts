// @vitest-environment node
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { action, apiCall, at, startTestCollector, type TestCollector } from './support';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
  // Two visitors: Ann signs up and calls the API; Val only reads the docs.
  await c.post('/v1/users', { anonymous_id: 'q-ann-anon', campaign: { utm_source: 'blog', utm_campaign: 'launch' } });
  await c.post('/v1/actions/batch', [
    action({ anonymous_id: 'q-ann-anon', time: at(1), uri: 'http://docs.example.test/docs/' }),
    action({ anonymous_id: 'q-ann-anon', time: at(2), uri: 'http://docs.example.test/docs/quickstart' }),
    action({ anonymous_id: 'q-val-anon', time: at(3) }),
  ]);
  await c.post('/v1/users', { user_id: 'q-ann', anonymous_id: 'q-ann-anon', company_id: 'q-co', modified_time: at(4), metadata: { name: 'Ann' } });
  await c.post('/v1/actions', action({ user_id: 'q-ann', anonymous_id: 'q-ann-anon', action_name: 'Signed Up', time: at(5) }));
  await c.post('/v1/events/batch', [
    apiCall({ user_id: 'q-ann', time: at(6), status: 200 }),
    apiCall({ user_id: 'q-ann', time: at(7), status: 401, verb: 'POST', uri: 'http://api.example.test/orders' }),
  ]);
});
afterAll(async () => {
  await c.close();
});

describe('GET /api/events', () => {
  it('lists every item newest first with the stitched user id', async () => {
    const { status, body } = await c.get('/api/events');
    expect(status).toBe(200);
    expect(body.total).toBe(6);
    expect(body.events.map((e: any) => e.time)).toEqual([at(7), at(6), at(5), at(3), at(2), at(1)]);
    // The seed's User Id: Val's anonymous id while she is anonymous; the Identified User Id is null for her.
    expect(body.events.map((e: any) => e.user_id)).toEqual(['q-ann', 'q-ann', 'q-ann', 'q-val-anon', 'q-ann', 'q-ann']);
    expect(body.events.map((e: any) => e.identified_user_id)).toEqual(['q-ann', 'q-ann', 'q-ann', null, 'q-ann', 'q-ann']);
    expect(body.events[0]).toMatchObject({ kind: 'event', verb: 'POST', uri: 'http://api.example.test/orders', status: 401, company_id: 'q-co' });
  });

  it('filters by user id, anonymous id, company, kind and time', async () => {
    const times = async (query: string) => (await c.get(`/api/events?${query}`)).body.events.map((e: any) => e.time);
    expect(await times('user_id=q-ann')).toEqual([at(7), at(6), at(5), at(2), at(1)]);
    expect(await times('user_id=q-val-anon')).toEqual([at(3)]);
    // A merged anonymous id leads to its user, as on /api/users/:id and /api/activity.
    expect(await times('user_id=q-ann-anon')).toEqual([at(7), at(6), at(5), at(2), at(1)]);
    expect(await times('anonymous_id=q-ann-anon')).toEqual([at(5), at(2), at(1)]);
    // Ann's docs visits came before she joined q-co at at(4): "any future web or API traffic".
    expect(await times('company_id=q-co')).toEqual([at(7), at(6), at(5)]);
    expect(await times('kind=event')).toEqual([at(7), at(6)]);
    expect(await times('kind=actions&user_id=q-ann')).toEqual([at(5), at(2), at(1)]);
    expect(await times(`since=${encodeURIComponent(at(5))}`)).toEqual([at(7), at(6), at(5)]);
  });

  it('pages with limit and offset', async () => {
    const first = (await c.get('/api/events?limit=4')).body;
    expect(first).toMatchObject({ total: 6, limit: 4, offset: 0, next_offset: 4 });
    const second = (await c.get(`/api/events?limit=4&offset=${first.next_offset}`)).body;
    expect(second).toMatchObject({ offset: 4, next_offset: null });
    expect([...first.events, ...second.events].map((e: any) => e.time)).toEqual([at(7), at(6), at(5), at(3), at(2), at(1)]);
  });

  it('pages with a cursor (keyset: as fast at any depth), with filters too', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (await c.get(`/api/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
      expect(page.total).toBe(6);
      seen.push(...page.events.map((e: any) => e.time));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([at(7), at(6), at(5), at(3), at(2), at(1)]);
    const first = (await c.get('/api/events?user_id=q-ann&kind=action&limit=2')).body;
    expect(first.events.map((e: any) => e.time)).toEqual([at(5), at(2)]);
    const rest = (await c.get(`/api/events?user_id=q-ann&kind=action&limit=2&cursor=${first.next_cursor}`)).body;
    expect(rest).toMatchObject({ next_cursor: null, total: 3 });
    expect(rest.events.map((e: any) => e.time)).toEqual([at(1)]);
    expect(await c.get('/api/events?cursor=nonsense')).toMatchObject({ status: 400, body: { error: 'cursor is not one this collector gave' } });
  });

  it.each([
    ['kind=widget', 'kind must be "action" or "event"'],
    ['since=soon', 'since must be an ISO 8601 date'],
    ['limit=0', 'limit must be an integer from 1 to 500'],
    ['limit=abc', 'limit must be an integer from 1 to 500'],
    ['offset=-1', 'offset must be a non-negative integer'],
    ['offset=1e20', 'offset must be a non-negative integer'],
    ['offset=9223372036854775807', 'offset must be a non-negative integer'],
    ['user_id=a&user_id=b', 'user_id must be given once, as a string'],
  ])('answers 400 naming the parameter for %s', async (query, error) => {
    expect(await c.get(`/api/events?${query}`)).toMatchObject({ status: 400, body: { error } });
  });
});

describe('GET /api/users', () => {
  it('pages profiles with a cursor, in the order of the list', async () => {
    const all = (await c.get('/api/users')).body.users.map((u: any) => u.user_id);
    const first = (await c.get('/api/users?limit=1')).body;
    const second = (await c.get(`/api/users?limit=1&cursor=${first.next_cursor}`)).body;
    expect([...first.users, ...second.users].map((u: any) => u.user_id)).toEqual(all);
    expect(second.next_cursor).toBeNull();
  });

  it('lists stitched profiles with their merged anonymous ids, most recently active first', async () => {
    const { body } = await c.get('/api/users');
    expect(body.total).toBe(2);
    expect(body.users.map((u: any) => [u.user_id, u.identified_user_id, u.anonymous_ids])).toEqual([
      ['q-ann', 'q-ann', ['q-ann-anon']],
      ['q-val-anon', null, ['q-val-anon']],
    ]);
  });

  it('shows one profile with first-touch campaign, first and last seen, and its timeline', async () => {
    const { status, body } = await c.get('/api/users/q-ann');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      user_id: 'q-ann',
      identified_user_id: 'q-ann',
      anonymous_ids: ['q-ann-anon'],
      company_id: 'q-co',
      campaign: { utm_source: 'blog', utm_campaign: 'launch' },
      metadata: { name: 'Ann' },
      identified_at: at(4),
      first_seen: at(1),
      last_seen: at(7),
      action_count: 3,
      event_count: 2,
    });
    expect(body.timeline.map((e: any) => e.time)).toEqual([at(1), at(2), at(5), at(6), at(7)]);
  });

  it('shows the latest 1000 items of a busy profile in its timeline, oldest first', async () => {
    const busy = await startTestCollector(); // its own, so the other answers here keep their counts
    try {
      const items = Array.from({ length: 1003 }, (_, n) => action({ anonymous_id: 'q-busy', time: new Date(Date.UTC(2025, 1, 1) + n * 1000).toISOString() }));
      expect((await busy.post('/v1/actions/batch', items)).status).toBe(201);
      const { timeline, action_count, last_seen } = (await busy.get('/api/users/q-busy')).body;
      expect(action_count).toBe(1003);
      expect(timeline).toHaveLength(1000);
      expect(timeline.at(-1).time).toBe(last_seen);
      expect(timeline[0].time).toBe(new Date(Date.UTC(2025, 1, 1) + 3000).toISOString());
    } finally {
      await busy.close();
    }
  });

  it('answers 404 for an unknown user', async () => {
    expect(await c.get('/api/users/nobody')).toMatchObject({ status: 404, body: { error: 'no such user' } });
  });
});

describe('GET /api/companies', () => {
  it('lists companies with their user and traffic counts', async () => {
    const { body } = await c.get('/api/companies');
    expect(body.companies).toEqual([expect.objectContaining({ company_id: 'q-co', user_count: 1, action_count: 1, event_count: 2 })]);
  });

  it('shows one company with its users and their API calls', async () => {
    const { body } = await c.get('/api/companies/q-co');
    expect(body.users.map((u: any) => u.user_id)).toEqual(['q-ann']);
    expect(body.api_calls.map((e: any) => [e.verb, e.status])).toEqual([
      ['POST', 401],
      ['GET', 200],
    ]);
    expect((await c.get('/api/companies/none')).status).toBe(404);
  });
});

describe('GET /api/funnel', () => {
  it('counts unique stitched users through page view, sign-up and first API call by default, with conversion rates', async () => {
    const { body } = await c.get('/api/funnel');
    expect(body.profiles).toBe(2);
    expect(body.steps).toEqual([
      { step: 'action', label: 'First page view or action', users: 2, rate_from_previous: 1, rate_from_first: 1 },
      { step: 'identified', label: 'Identified (signed up)', users: 1, rate_from_previous: 0.5, rate_from_first: 0.5 },
      { step: 'event', label: 'First API call', users: 1, rate_from_previous: 1, rate_from_first: 0.5 },
    ]);
  });

  it('takes custom steps, in order', async () => {
    const steps = (await c.get(`/api/funnel?steps=${encodeURIComponent('action:Signed Up,event:POST /orders')}`)).body.steps;
    expect(steps.map((s: any) => s.users)).toEqual([1, 1]);
    // Order matters: nobody made an API call before their first page view... but nobody signed up after an API call either.
    const reversed = (await c.get(`/api/funnel?steps=event&steps=${encodeURIComponent('action:Signed Up')}`)).body.steps;
    expect(reversed.map((s: any) => s.users)).toEqual([1, 0]);
  });

  it('answers 400 for an unknown step', async () => {
    const res = await c.get('/api/funnel?steps=action,bought');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/unknown step "bought"/);
  });
});

describe('cross-origin access', () => {
  it('lets no other origin read the query API or the dashboard: they show captured headers, bodies and session tokens', async () => {
    const evil = { Origin: 'https://evil.example.test' };
    for (const path of ['/api/events', '/api/users', '/api/users/q-ann', '/api/companies', '/api/funnel', '/api/info', '/']) {
      const res = await fetch(c.url + path, { headers: evil });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('access-control-allow-origin'), path).toBeNull();
    }
    const preflight = await fetch(`${c.url}/api/events`, {
      method: 'OPTIONS',
      headers: { ...evil, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Private-Network': 'true' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-private-network')).toBeNull();
    // The ingest API stays open to every origin: SDKs send from any page.
    const ingest = await fetch(`${c.url}/v1/actions/batch`, { method: 'OPTIONS', headers: { ...evil, 'Access-Control-Request-Method': 'POST' } });
    expect(ingest.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('the dashboard', () => {
  it('is served at / as an HTML page', async () => {
    const res = await fetch(`${c.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/<title>[^<]*usertrail/i);
  });
});

describe('GET /api/activity', () => {
  it('counts actions and API calls per hour or day, for everything, one user (its merged ids too) or one company', async () => {
    const hour = Date.UTC(2025, 0, 1, 12);
    const bucket = { start: new Date(hour).toISOString() };
    expect((await c.get('/api/activity')).body).toEqual({ bucket: 'hour', buckets: [{ ...bucket, actions: 4, events: 2 }], actions: 4, events: 2 });
    expect((await c.get('/api/activity?bucket=day')).body.buckets).toEqual([{ start: new Date(Date.UTC(2025, 0, 1)).toISOString(), actions: 4, events: 2 }]);
    expect((await c.get('/api/activity?user_id=q-ann')).body).toMatchObject({ actions: 3, events: 2 });
    expect((await c.get('/api/activity?user_id=q-ann-anon')).body).toMatchObject({ actions: 3, events: 2 });
    expect((await c.get('/api/activity?company_id=q-co')).body).toMatchObject({ actions: 1, events: 2 });
    expect((await c.get('/api/activity?company_id=none')).body).toMatchObject({ buckets: [], actions: 0, events: 0 });
    expect(await c.get('/api/activity?bucket=week')).toMatchObject({ status: 400, body: { error: 'bucket must be "hour" or "day"' } });
  });
});

describe('odd query parameters', () => {
  it('answers 400 for an activity bucket named like a property every object has, not 500', async () => {
    for (const bucket of ['toString', 'valueOf', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect(await c.get(`/api/activity?bucket=${bucket}`), bucket).toMatchObject({ status: 400, body: { error: 'bucket must be "hour" or "day"' } });
    }
  });

  it('answers every odd parameter with a 4xx JSON error or an empty answer, never 500, and keeps serving', async () => {
    const injection = encodeURIComponent("' OR 1=1; DROP TABLE items; --");
    const paths = [
      '/api/users/nobody-at-all',
      `/api/users/${injection}`,
      '/api/users/%E0%A4%A',
      '/api/companies/nobody-at-all',
      `/api/companies/${injection}`,
      `/api/events?user_id=${injection}`,
      `/api/events?company_id=${injection}&anonymous_id=%00`,
      '/api/events?limit=99999999999999999999',
      '/api/events?limit=-5',
      '/api/events?limit=0',
      '/api/events?limit=abc',
      '/api/events?offset=-1',
      '/api/events?offset=1e20',
      '/api/events?offset=9007199254740991',
      '/api/events?cursor=not-a-cursor',
      `/api/events?cursor=${Buffer.from('["x",{}]').toString('base64url')}`,
      `/api/users?cursor=${Buffer.from('[1,2,3]').toString('base64url')}`,
      '/api/events?since=yesterday',
      '/api/events?kind=widget',
      '/api/events?user_id=a&user_id=b',
      '/api/users?limit=100000',
      '/api/funnel?steps=',
      '/api/funnel?steps=,,',
      '/api/funnel?steps=identified:x',
      `/api/funnel?steps=${'action,'.repeat(11)}`,
      `/api/funnel?steps=event:${injection}`,
      '/api/activity?user_id=a&company_id=b',
      `/api/activity?user_id=${injection}`,
    ];
    for (const path of paths) {
      const res = await c.get(path);
      expect(res.status, path).toBeLessThan(500);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
      if (res.status >= 400) expect(res.body.error, path).toEqual(expect.any(String));
    }
    expect((await c.get('/api/users/nobody-at-all')).status).toBe(404);
    expect((await c.get(`/api/events?user_id=${injection}`)).body).toMatchObject({ events: [], total: 0 });
    expect((await c.get('/api/events')).body.total).toBe(6);
  });
});
