import { describe, expect, it } from 'vitest';
import { actionPayload, companyPayload, userPayload } from '../src/payloads';

/** The pure functions that build what each public method sends; the SDK-level checks are in payloads.test.ts. */
describe('payload builders', () => {
  const who = { user_id: 'u1', anonymous_id: undefined, company_id: 'c1', session_token: 's1' };

  it('a users call always carries the anonymous id, and the fields the method gives win', () => {
    expect(userPayload(who, 'anon-1', { utm_source: 'news' }, { user_id: 'u2', metadata: { plan: 'pro' } })).toEqual({
      user_id: 'u2',
      anonymous_id: 'anon-1',
      company_id: 'c1',
      session_token: 's1',
      campaign: { utm_source: 'news' },
      metadata: { plan: 'pro' },
    });
  });

  it('a company call names each field as the wire does', () => {
    const payload = companyPayload({ companyId: 'c1', companyDomain: 'acme.com', sessionToken: 's1', metadata: { seats: 3 }, campaign: { utm_source: 'news' } });
    expect(JSON.parse(JSON.stringify(payload))).toEqual({
      company_id: 'c1',
      company_domain: 'acme.com',
      session_token: 's1',
      metadata: { seats: 3 },
      campaign: { utm_source: 'news' },
    });
  });

  it('an action is a GET of the page it happened on, with the time, User-Agent and who', () => {
    const payload = actionPayload({
      actionName: 'Clicked',
      metadata: { button: 'buy' },
      who,
      transactionId: 't-1',
      uri: 'https://app.example.test/cart',
      time: '2026-01-01T00:00:00.000Z',
      userAgent: 'UA/1',
    });
    expect(JSON.parse(JSON.stringify(payload))).toEqual({
      action_name: 'Clicked',
      user_id: 'u1',
      company_id: 'c1',
      session_token: 's1',
      transaction_id: 't-1',
      request: { time: '2026-01-01T00:00:00.000Z', uri: 'https://app.example.test/cart', verb: 'GET', user_agent_string: 'UA/1' },
      metadata: { button: 'buy' },
    });
  });
});
