// @vitest-environment node
/**
 * The collector takes every field of the wire contract (src/wire.ts). Each payload below is typed
 * `Complete<...>` of the SDK's own payload type, so a field added to the contract must be filled here
 * (or the typecheck fails), and the collector must then accept it (or this test fails); the other half
 * of the coupling is validate.ts, whose field tables must name every field of the same types.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ActionPayload, CapturedEvent, CompanyPayload, UserPayload } from '../../src/wire';
import { at, startTestCollector, type TestCollector } from './support';

/** Every field present, nested objects too. */
type Complete<T> = { [K in keyof T]-?: T[K] extends Record<string, unknown> ? Complete<T[K]> : Exclude<T[K], undefined> };

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

const campaign: Complete<NonNullable<UserPayload['campaign']>> = {
  utm_source: 'newsletter',
  utm_medium: 'email',
  utm_campaign: 'spring',
  utm_term: 'analytics',
  utm_content: 'header',
  gclid: 'g-1',
  fbclid: 'f-1',
  msclkid: 'm-1',
  referrer: 'https://news.example.test/',
  referring_domain: 'news.example.test',
};

const ids = { user_id: 'wire-user', anonymous_id: 'wire-anon', company_id: 'wire-co', session_token: 'wire-session' };

const user: Complete<UserPayload> = {
  ...ids,
  metadata: { email: 'wire@example.test' },
  campaign,
  ip_address: '203.0.113.7',
  user_agent_string: 'Mozilla/5.0',
  modified_time: at(0),
};
const company: Complete<CompanyPayload> = {
  company_id: 'wire-co',
  company_domain: 'wire.example.test',
  session_token: 'wire-session',
  metadata: { plan: 'team' },
  campaign,
  ip_address: '203.0.113.7',
  modified_time: at(0),
};
const actionItem: Complete<ActionPayload> = {
  ...ids,
  action_name: 'Clicked Buy',
  transaction_id: 'wire-tx-action',
  request: { time: at(1), uri: 'http://app.example.test/buy', verb: 'GET', user_agent_string: 'Mozilla/5.0' },
  metadata: { button: 'blue' },
};
const event: Complete<CapturedEvent> = {
  ...ids,
  transaction_id: 'wire-tx-event',
  request: { time: at(2), uri: 'http://api.example.test/orders', verb: 'POST', headers: { 'content-type': 'application/json' }, ip_address: '203.0.113.7', body: { n: 1 }, transfer_encoding: 'json', api_version: '2' },
  response: { time: at(2), status: 201, headers: { 'content-type': 'application/json' }, body: 'eyJvayI6dHJ1ZX0=', transfer_encoding: 'base64' },
  tags: 'checkout',
  metadata: { trace: 't-1' },
  direction: 'Outgoing',
};

it.each([
  ['users', user],
  ['companies', company],
  ['actions', actionItem],
  ['events', event],
] as const)('accepts a %s item with every field of the wire contract, singly and in a batch', async (kind, item) => {
  const single = await c.post(`/v1/${kind}`, item);
  expect(single.status, JSON.stringify(single.body)).toBe(201);
  const batch = await c.post(`/v1/${kind}/batch`, [item]);
  expect(batch.status, JSON.stringify(batch.body)).toBe(201);
});

it('keeps every field of an action and an API call as sent', async () => {
  const { events } = (await c.get('/api/events?user_id=wire-user')).body;
  const call = events.find((e: { kind: string }) => e.kind === 'event');
  expect(call).toMatchObject({ request: event.request, response: event.response, tags: event.tags, metadata: event.metadata, transaction_id: event.transaction_id });
  const act = events.find((e: { kind: string }) => e.kind === 'action');
  expect(act).toMatchObject({ action_name: actionItem.action_name, request: actionItem.request, metadata: actionItem.metadata });
  // Byte for byte, key order included: the store keeps some fields in columns and puts them back.
  expect(JSON.stringify(call.request)).toBe(JSON.stringify(event.request));
  expect(JSON.stringify(call.response)).toBe(JSON.stringify(event.response));
  expect(JSON.stringify(act.request)).toBe(JSON.stringify(actionItem.request));
});

it('gives back request and response exactly as sent, whatever their key order and time format', async () => {
  const request = { verb: 'GET', time: '2025-01-01T12:00:09Z', user_agent_string: 'ua', uri: 'http://app.example.test/' };
  await c.post('/v1/actions', { action_name: 'Odd Order', anonymous_id: 'wire-odd', transaction_id: 'wire-odd-1', request });
  const response = { status: 200, time: at(9), headers: {} };
  const callRequest = { time: '2025-01-01T12:00:09.000+00:00', uri: '/x', verb: 'GET', headers: {}, user_agent_string: 'not last' };
  await c.post('/v1/events', { anonymous_id: 'wire-odd', transaction_id: 'wire-odd-2', request: callRequest, response });
  const { events } = (await c.get('/api/events?anonymous_id=wire-odd')).body;
  const byKind = (kind: string) => events.find((e: { kind: string }) => e.kind === kind);
  expect(JSON.stringify(byKind('action').request)).toBe(JSON.stringify(request));
  expect(JSON.stringify(byKind('event').request)).toBe(JSON.stringify(callRequest));
  expect(JSON.stringify(byKind('event').response)).toBe(JSON.stringify(response));
});
