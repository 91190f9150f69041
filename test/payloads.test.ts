import { afterEach, describe, expect, it } from 'vitest';
import { KEYS, UUID_V4, useSdk } from './support/page';

const sdk = useSdk();
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** document.referrer as a visitor arriving from another site would have it. */
function arriveFrom(referrer: string): void {
  Object.defineProperty(document, 'referrer', { value: referrer, configurable: true });
}
afterEach(() => {
  delete (document as { referrer?: string }).referrer;
});

describe('requests', () => {
  it('POST JSON arrays to the batch endpoints with the Moesif headers', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.track('Clicked');
    moesif.identifyUser('u1');
    moesif.identifyCompany('c1');
    await moesif.flush();
    const received = sdk.collector.from(applicationId);
    expect(received.map((request) => request.path).sort()).toEqual(['/v1/actions/batch', '/v1/companies/batch', '/v1/users/batch']);
    for (const request of received) {
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toMatch(/^application\/json\b/);
      expect(request.headers['x-moesif-application-id']).toBe(applicationId);
      expect(request.headers['x-moesif-sdk']).toMatch(/^usertrail\/\S+$/);
      expect(Array.isArray(request.body)).toBe(true);
    }
  });

  it('a batch carries every item queued together, in order, in one request', async () => {
    const { moesif, applicationId } = sdk.start({ batchMaxTime: 1000 });
    for (let index = 0; index < 10; index++) moesif.track(`Step ${index}`);
    await moesif.flush();
    const requests = sdk.collector.from(applicationId).filter((request) => request.path === '/v1/actions/batch');
    expect(requests).toHaveLength(1);
    expect((requests[0].body as { action_name: string }[]).map((action) => action.action_name)).toEqual(
      Array.from({ length: 10 }, (_, index) => `Step ${index}`),
    );
  });
});

describe('actions', () => {
  it('an anonymous action has the Moesif fields and an anonymous_id, not a user_id', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.track('Signed Up', { plan: 'pro', seats: 3 });
    await moesif.flush();
    const [action] = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(action).toEqual({
      action_name: 'Signed Up',
      anonymous_id: moesif.getAnonymousId(),
      transaction_id: expect.stringMatching(UUID_V4),
      request: { time: expect.stringMatching(ISO_TIME), uri: location.href, verb: 'GET', user_agent_string: navigator.userAgent },
      metadata: { plan: 'pro', seats: 3 },
    });
    expect(Math.abs(Date.parse((action.request as { time: string }).time) - Date.now())).toBeLessThan(10_000);
  });

  it('an identified action carries user_id, company_id and session_token, and no anonymous_id', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1');
    moesif.identifyCompany('c1');
    moesif.identifySession('s1');
    moesif.track('Clicked');
    await moesif.flush();
    const [action] = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(action).toMatchObject({ action_name: 'Clicked', user_id: 'u1', company_id: 'c1', session_token: 's1' });
    expect(action).not.toHaveProperty('anonymous_id');
    expect(action).not.toHaveProperty('metadata');
  });

  it('each action has its own transaction_id', async () => {
    const { moesif, applicationId } = sdk.start();
    for (let index = 0; index < 5; index++) moesif.track('Clicked');
    await moesif.flush();
    const ids = sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.transaction_id);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
  });

  it('the uri is the page address at the time of the call', async () => {
    const { moesif, applicationId } = sdk.start();
    history.replaceState(null, '', '/settings?tab=billing');
    moesif.track('Opened billing');
    await moesif.flush();
    const [action] = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect((action.request as { uri: string }).uri).toBe('http://app.example.test/settings?tab=billing');
  });
});

describe('users', () => {
  it('identifyUser sends user_id, anonymous_id, company_id, session_token and metadata', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.identifySession('s1');
    moesif.identifyCompany('c1');
    moesif.identifyUser('u1', { email: 'a@acme.test', plan: 'pro' });
    await moesif.flush();
    const users = sdk.collector.items(applicationId, '/v1/users/batch');
    expect(users.at(-1)).toEqual({
      user_id: 'u1',
      anonymous_id: moesif.getAnonymousId(),
      company_id: 'c1',
      session_token: 's1',
      metadata: { email: 'a@acme.test', plan: 'pro' },
    });
  });

  it('a plain page load without campaign sends no /v1/users call', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.track('Viewed');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/users/batch')).toEqual([]);
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')).toHaveLength(1);
  });

  it('identifyUser again with the same id and no metadata sends nothing new', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1');
    await moesif.flush();
    moesif.identifyUser('u1');
    moesif.identifyUser(' u1 ');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/users/batch')).toHaveLength(1);
    // With the next page load too.
    const next = sdk.start();
    next.moesif.identifyUser('u1');
    await next.moesif.flush();
    expect(sdk.collector.items(next.applicationId, '/v1/users/batch')).toEqual([]);
  });

  it('identifyUser again with the same id and new metadata sends the metadata', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1');
    moesif.identifyUser('u1', { plan: 'enterprise' });
    await moesif.flush();
    const users = sdk.collector.items(applicationId, '/v1/users/batch');
    expect(users).toHaveLength(2);
    expect(users[1]).toMatchObject({ user_id: 'u1', metadata: { plan: 'enterprise' } });
  });

  it('a number id is sent as a string', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser(1234);
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/users/batch')[0].user_id).toBe('1234');
  });
});

describe('companies', () => {
  it('identifyCompany sends company_id, company_domain, session_token and metadata, and links the visitor', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.identifySession('s1');
    moesif.identifyCompany('c1', { industry: 'saas' }, 'acme.test');
    await moesif.flush();
    const [company] = sdk.collector.items(applicationId, '/v1/companies/batch');
    expect(company).toEqual({ company_id: 'c1', company_domain: 'acme.test', session_token: 's1', metadata: { industry: 'saas' } });
    const users = sdk.collector.items(applicationId, '/v1/users/batch');
    expect(users).toEqual([{ anonymous_id: moesif.getAnonymousId(), company_id: 'c1', session_token: 's1' }]);
  });
});

describe('campaign (first touch)', () => {
  const campaign = { utm_source: 'news', utm_medium: 'email', gclid: 'G1', referrer: 'https://news.example.org/post', referring_domain: 'news.example.org' };

  it("is sent once, with the anonymous visitor's first /v1/users call", async () => {
    history.replaceState(null, '', '/?utm_source=news&utm_medium=email&gclid=G1');
    arriveFrom('https://news.example.org/post');
    const { moesif, applicationId } = sdk.start();
    await moesif.flush();
    const users = sdk.collector.items(applicationId, '/v1/users/batch');
    expect(users).toEqual([{ anonymous_id: moesif.getAnonymousId(), campaign }]);
    expect(JSON.parse(localStorage.getItem(KEYS.campaign)!)).toEqual(campaign);

    // The next page load, still on the tagged address: nothing new to say.
    const next = sdk.start();
    next.moesif.track('Viewed');
    await next.moesif.flush();
    expect(sdk.collector.items(next.applicationId, '/v1/users/batch')).toEqual([]);
  });

  it('is sent with identifyUser and identifyCompany', async () => {
    history.replaceState(null, '', '/?utm_source=news&utm_medium=email&gclid=G1');
    arriveFrom('https://news.example.org/post');
    const { moesif, applicationId } = sdk.start();
    await moesif.flush();
    moesif.identifyUser('u1');
    moesif.identifyCompany('c1');
    await moesif.flush();
    const users = sdk.collector.items(applicationId, '/v1/users/batch');
    expect(users[1]).toMatchObject({ user_id: 'u1', campaign });
    const [company] = sdk.collector.items(applicationId, '/v1/companies/batch');
    expect(company).toMatchObject({ company_id: 'c1', campaign });
  });

  it('keeps the first touch: a later tagged visit does not replace it', async () => {
    history.replaceState(null, '', '/?utm_source=first');
    sdk.start();
    history.replaceState(null, '', '/?utm_source=second');
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1');
    await moesif.flush();
    const users = sdk.collector.items(applicationId, '/v1/users/batch');
    expect(users).toHaveLength(1);
    expect(users[0].campaign).toEqual({ utm_source: 'first' });
  });

  it('a same-origin referrer alone is no campaign and sends nothing', async () => {
    arriveFrom('http://app.example.test/previous');
    const { moesif, applicationId } = sdk.start();
    await moesif.flush();
    expect(sdk.collector.from(applicationId)).toEqual([]);
  });

  it('the disable switches leave their fields out of what is sent', async () => {
    history.replaceState(null, '', '/?utm_source=news&gclid=G1&msclkid=M1');
    arriveFrom('https://news.example.org/post');
    const { moesif, applicationId } = sdk.start({ disableUtm: true, disableReferrer: true });
    await moesif.flush();
    const [user] = sdk.collector.items(applicationId, '/v1/users/batch');
    expect(user.campaign).toEqual({ gclid: 'G1', msclkid: 'M1' });
  });

  it('is forgotten by reset(): the next identifyUser carries none', async () => {
    history.replaceState(null, '', '/?utm_source=news');
    const { moesif, applicationId } = sdk.start();
    moesif.reset();
    moesif.identifyUser('u2');
    await moesif.flush();
    const users = sdk.collector.items(applicationId, '/v1/users/batch');
    expect(users.at(-1)).toMatchObject({ user_id: 'u2' });
    expect(users.at(-1)).not.toHaveProperty('campaign');
  });
});

describe('calls before init', () => {
  it('are kept and replayed in order at init', async () => {
    const moesif = sdk.fresh();
    moesif.identifyUser('early-user');
    moesif.track('First');
    moesif.identifyCompany('early-company');
    moesif.track('Second', { n: 2 });
    expect(moesif.getUserId()).toBeUndefined();
    const applicationId = `early-${Date.now()}`;
    moesif.init({ applicationId, host: sdk.collector.url, batchMaxTime: 10 });
    expect(moesif.getUserId()).toBe('early-user');
    await moesif.flush();
    const actions = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(actions.map((action) => [action.action_name, action.user_id, action.company_id])).toEqual([
      ['First', 'early-user', undefined],
      ['Second', 'early-user', 'early-company'],
    ]);
    expect(actions[1].metadata).toEqual({ n: 2 });
  });
});
