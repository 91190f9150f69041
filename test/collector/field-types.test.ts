// @vitest-environment node
/**
 * Every field of every kind, given a value of every JSON type (and a huge string), on the single and
 * batch endpoints of the real collector: each answer is 201 (the value is acceptable) or a 4xx JSON
 * error naming the field, never a 500, and the collector keeps serving.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { action, apiCall, startTestCollector, txId, type TestCollector } from './support';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

const VALUES: [string, unknown][] = [
  ['a number', 42],
  ['a fraction', 1.5],
  ['true', true],
  ['an empty string', ''],
  ['a huge string', 'x'.repeat(200_000)],
  ['an array', ['x']],
  ['an object', { x: 1 }],
  ['null', null],
  ['__proto__ object', JSON.parse('{"__proto__": {"polluted": 1}}')],
];

/** A valid item of each kind, and the paths of its fields (nested ones as a.b). */
const KINDS: Record<string, { make: () => Record<string, unknown>; fields: string[] }> = {
  users: {
    make: () => ({ user_id: `u-${txId()}`, anonymous_id: `a-${txId()}`, company_id: 'c', session_token: 's', modified_time: new Date().toISOString(), ip_address: '1.2.3.4', user_agent_string: 'ua', metadata: {}, campaign: { utm_source: 'x' } }),
    fields: ['user_id', 'anonymous_id', 'company_id', 'session_token', 'modified_time', 'ip_address', 'user_agent_string', 'metadata', 'campaign', 'campaign.utm_source'],
  },
  companies: {
    make: () => ({ company_id: `c-${txId()}`, company_domain: 'x.test', session_token: 's', modified_time: new Date().toISOString(), ip_address: '1.2.3.4', metadata: {}, campaign: { utm_source: 'x' } }),
    fields: ['company_id', 'company_domain', 'session_token', 'modified_time', 'ip_address', 'metadata', 'campaign', 'campaign.utm_source'],
  },
  actions: {
    make: () => action({ anonymous_id: `a-${txId()}`, user_id: `u-${txId()}`, company_id: 'c', session_token: 's', metadata: {} }),
    fields: ['action_name', 'transaction_id', 'user_id', 'anonymous_id', 'company_id', 'session_token', 'metadata', 'request', 'request.time', 'request.uri', 'request.verb', 'request.user_agent_string'],
  },
  events: {
    make: () => ({ ...apiCall({ anonymous_id: `a-${txId()}`, user_id: `u-${txId()}`, company_id: 'c', session_token: 's', metadata: {}, tags: 't', direction: 'Incoming' }) }),
    fields: [
      'transaction_id', 'user_id', 'anonymous_id', 'company_id', 'session_token', 'metadata', 'tags', 'direction',
      'request', 'request.time', 'request.uri', 'request.verb', 'request.headers', 'request.headers.accept', 'request.body', 'request.ip_address', 'request.api_version', 'request.transfer_encoding',
      'response', 'response.time', 'response.status', 'response.headers', 'response.headers.content-type', 'response.body', 'response.transfer_encoding',
    ],
  },
};

function withField(item: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.') as [string, ...string[]];
  if (rest.length === 0) return { ...item, [head]: value };
  return { ...item, [head]: withField((item[head] ?? {}) as Record<string, unknown>, rest.join('.'), value) };
}

it.each(Object.keys(KINDS))('answers every wrong type in a %s item with 201 or a 4xx naming the field, never 500', async (kind) => {
  const { make, fields } = KINDS[kind]!;
  for (const field of fields) {
    for (const [name, value] of VALUES) {
      const item = withField(make(), field, value);
      const single = await c.post(`/v1/${kind}`, item);
      const label = `${kind} ${field} = ${name}: ${JSON.stringify(single.body).slice(0, 200)}`;
      expect([201, 400], label).toContain(single.status);
      if (single.status === 400) expect(single.body.error, label).toMatch(field.split('.')[0]!);
      const batch = await c.post(`/v1/${kind}/batch`, [make(), withField(make(), field, value)]);
      expect([201, 207], label).toContain(batch.status);
    }
  }
  expect((await c.post(`/v1/${kind}`, make())).status).toBe(201);
  expect((await c.get('/api/users?limit=1')).status).toBe(200);
});
