// @vitest-environment node
/**
 * moesif-nodejs 3.11's subscription, action and governance methods in usertrail/server. For the same
 * model, our middleware must POST what the real moesif-nodejs POSTs (path and JSON), both pointed at
 * one recording collector on 127.0.0.1 (which also checks our payloads against the server's wire
 * contract); callbacks are called as moesif-nodejs calls them, and our promises never reject.
 */
import moesifNodejs from 'moesif-nodejs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import usertrail, { type ActionModel, type DeliveryOutcome, type MoesifMiddleware, type SubscriptionModel } from '../../src/server/index';
import { DEFAULT_APP_ID, startCollector } from '../../demo/collector/server.js';
import { contractProblems } from '../support/contract';
import { startRecorder, type Recorder } from './helpers';

/** moesif-nodejs refuses application ids shorter than 50 characters. */
const APP_ID = DEFAULT_APP_ID;

type Callback = (error: unknown, response: unknown) => void;
/** The methods under test as moesif-nodejs has them (its typings declare only some, and loosely). */
interface MoesifMethods {
  updateUser(model: unknown, cb?: Callback): Promise<unknown> | undefined;
  updateCompany(model: unknown, cb?: Callback): Promise<unknown> | undefined;
  updateSubscription(model: unknown, cb?: Callback): Promise<unknown> | undefined;
  updateSubscriptionsBatch(models: unknown, cb?: Callback): Promise<unknown> | undefined;
  sendAction(model: unknown, cb?: Callback): Promise<unknown> | undefined;
  sendActionsBatch(models: unknown, cb?: Callback): Promise<unknown> | undefined;
  getApplicableRulesForUserId(userId: unknown): unknown[];
  getApplicableRulesForCompanyId(companyId: unknown): unknown[];
}

let collector: Recorder;
let theirs: MoesifMethods;
let ours: MoesifMiddleware;

beforeEach(async () => {
  collector = await startRecorder();
  // moesif-nodejs's sendAction prints every action's JSON to the console; keep the test output readable.
  vi.spyOn(console, 'log').mockImplementation(() => {});
  theirs = moesifNodejs({ applicationId: APP_ID, baseUri: collector.url }) as unknown as MoesifMethods;
  ours = usertrail({ applicationId: APP_ID, baseUri: collector.url });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await collector.close();
});

/** The POSTs the collector took, as [path, JSON] (moesif-nodejs also GETs its config and rules). */
const posts = () => collector.requests.filter((r) => r.method === 'POST').map((r) => [r.path, r.body]);

/**
 * Sends one model with moesif-nodejs, then with ours, and gives both POSTs. The model is built afresh
 * for each: moesif-nodejs edits the app's objects in place (it renames an action's request keys).
 */
async function sideBySide(send: (sdk: MoesifMethods | MoesifMiddleware) => Promise<unknown> | undefined) {
  await send(theirs);
  const outcome = await send(ours);
  const [moesifPost, ourPost, ...more] = posts();
  expect(more).toEqual([]);
  return { moesifPost, ourPost, outcome };
}

const subscription = (): SubscriptionModel => ({
  subscriptionId: 'sub_1',
  companyId: 'acme',
  currentPeriodStart: new Date('2026-12-01T00:00:00Z'),
  currentPeriodEnd: '2027-01-01T00:00:00.000Z',
  status: 'active',
  metadata: { subscription_tier: 'Pro', quota: { quota_limit: 1000000, quota_period: 'Year' } },
});

const action = (): ActionModel => ({
  transactionId: 'a3765025-46ec-45dd-bc83-b136c8d1d257',
  actionName: 'Clicked Sign Up',
  sessionToken: 'sess-23jdf0owekfmcn4u3qypxg08w4d8ayrcdx8nu2nz',
  userId: '12345',
  companyId: '67890',
  metadata: { button_label: 'Get Started', sign_up_method: 'Google SSO' },
  request: {
    time: new Date('2026-12-07T05:00:00Z'),
    uri: 'https://api.acmeinc.com/items/reviews/',
    ipAddress: '61.48.220.123',
    userAgentString: 'Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:47.0) Gecko/20100101 Firefox/47.0',
  },
});

describe('the same POST as moesif-nodejs 3.11', () => {
  it('updateSubscription: /v1/subscriptions, snake_case, dates as ISO strings', async () => {
    const { moesifPost, ourPost, outcome } = await sideBySide((sdk) => sdk.updateSubscription(subscription()));
    expect(ourPost).toEqual(moesifPost);
    expect(ourPost).toEqual([
      '/v1/subscriptions',
      {
        subscription_id: 'sub_1',
        company_id: 'acme',
        current_period_start: '2026-12-01T00:00:00.000Z',
        current_period_end: '2027-01-01T00:00:00.000Z',
        status: 'active',
        metadata: { subscription_tier: 'Pro', quota: { quota_limit: 1000000, quota_period: 'Year' } },
      },
    ]);
    expect(outcome).toEqual({ status: 201, kind: 'subscriptions', count: 1 });
  });

  it('updateSubscriptionsBatch: /v1/subscriptions/batch, fields without a value (null) left out', async () => {
    // null, as a database gives an empty column: the types say undefined, JavaScript apps send null.
    const empty = { subscriptionId: 'sub_2', companyId: 'globex', status: 'trialing', currentPeriodEnd: null } as unknown as SubscriptionModel;
    const batch = () => [subscription(), { ...empty }];
    const { moesifPost, ourPost, outcome } = await sideBySide((sdk) => sdk.updateSubscriptionsBatch(batch()));
    expect(ourPost).toEqual(moesifPost);
    expect(ourPost?.[0]).toBe('/v1/subscriptions/batch');
    expect((ourPost?.[1] as unknown[])[1]).toEqual({ subscription_id: 'sub_2', company_id: 'globex', status: 'trialing' });
    expect(outcome).toEqual({ status: 201, kind: 'subscriptions', count: 2 });
  });

  // The profiles were built before the methods above, and sent `"company_id": null` where moesif-nodejs
  // sends nothing: to a collector, a field given as null is not a field left out. (moesif-nodejs adds
  // `campaign: {}` and `modified_time: null` of its own, and deletes nulls inside metadata, which is the
  // app's and goes as given.)
  it('updateUser: fields without a value (null) left out, as moesif-nodejs leaves them out', async () => {
    const user = () => ({ userId: 'u1', companyId: null, ipAddress: null, metadata: { email: 'a@acme.com', plan: null } }) as never;
    const users = await sideBySide((sdk) => sdk.updateUser(user()));
    expect(users.moesifPost?.[1]).not.toHaveProperty('company_id');
    expect(users.moesifPost?.[1]).not.toHaveProperty('ip_address');
    expect(users.ourPost).toEqual(['/v1/users', { user_id: 'u1', metadata: { email: 'a@acme.com', plan: null } }]);
  });

  it('updateCompany: fields without a value (null) left out, as moesif-nodejs leaves them out', async () => {
    const company = () => ({ companyId: 'c1', companyDomain: null, metadata: { size: 10 } }) as never;
    const companies = await sideBySide((sdk) => sdk.updateCompany(company()));
    expect(companies.moesifPost?.[1]).not.toHaveProperty('company_domain');
    expect(companies.ourPost).toEqual(['/v1/companies', { company_id: 'c1', metadata: { size: 10 } }]);
  });

  it("sendAction: /v1/actions, the request's ipAddress and userAgentString renamed, its time an ISO string", async () => {
    const { moesifPost, ourPost, outcome } = await sideBySide((sdk) => sdk.sendAction(action()));
    expect(ourPost).toEqual(moesifPost);
    expect(ourPost).toEqual([
      '/v1/actions',
      {
        transaction_id: 'a3765025-46ec-45dd-bc83-b136c8d1d257',
        action_name: 'Clicked Sign Up',
        session_token: 'sess-23jdf0owekfmcn4u3qypxg08w4d8ayrcdx8nu2nz',
        user_id: '12345',
        company_id: '67890',
        metadata: { button_label: 'Get Started', sign_up_method: 'Google SSO' },
        request: {
          time: '2026-12-07T05:00:00.000Z',
          uri: 'https://api.acmeinc.com/items/reviews/',
          ip_address: '61.48.220.123',
          user_agent_string: 'Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:47.0) Gecko/20100101 Firefox/47.0',
        },
      },
    ]);
    expect(outcome).toEqual({ status: 201, kind: 'actions', count: 1 });
  });

  it('sendActionsBatch: /v1/actions/batch; an action with only a name and a uri gets no made-up transaction id, verb or user agent', async () => {
    const pricing = { actionName: 'Viewed pricing', userId: '18340', companyId: null, request: { uri: 'https://acme.test/pricing' } } as unknown as ActionModel;
    // Built afresh for each SDK: moesif-nodejs edits the request in place.
    const batch = () => [action(), { ...pricing, request: { ...pricing.request } }];
    const { moesifPost, ourPost, outcome } = await sideBySide((sdk) => sdk.sendActionsBatch(batch()));
    expect(ourPost).toEqual(moesifPost);
    expect(ourPost?.[0]).toBe('/v1/actions/batch');
    expect((ourPost?.[1] as unknown[])[1]).toEqual({ action_name: 'Viewed pricing', user_id: '18340', request: { uri: 'https://acme.test/pricing' } });
    expect(outcome).toEqual({ status: 201, kind: 'actions', count: 2 });
  });
});

describe('callbacks and promises', () => {
  it('calls the callback once, as moesif-nodejs does: (null, …) when the collector took the item', async () => {
    const moesifCalls: unknown[][] = [];
    theirs.updateSubscription(subscription(), (...args) => moesifCalls.push(args));
    await collector.waitFor(() => moesifCalls.length === 1);
    const ourCalls: Array<[Error | null, DeliveryOutcome]> = [];
    await ours.sendAction(action(), (...args) => ourCalls.push(args));
    expect(moesifCalls[0]?.[0]).toBeNull();
    expect(ourCalls).toEqual([[null, { status: 201, kind: 'actions', count: 1 }]]);
  });

  it("gives the callback an Error when the collector refuses; moesif-nodejs's promise rejects then, ours never does", async () => {
    collector.answer = () => ({ status: 400 });
    await expect(theirs.updateSubscription(subscription())).rejects.toHaveProperty('errorMessage');
    await expect(theirs.sendAction(action())).rejects.toHaveProperty('errorMessage');

    const errors: Array<Error | null> = [];
    const keep = (error: Error | null) => void errors.push(error);
    await expect(ours.updateSubscription(subscription(), keep)).resolves.toEqual({ status: 400, kind: 'subscriptions', count: 1, error: 'HTTP 400' });
    await expect(ours.updateSubscriptionsBatch([subscription()], keep)).resolves.toMatchObject({ status: 400, error: 'HTTP 400' });
    await expect(ours.sendAction(action(), keep)).resolves.toEqual({ status: 400, kind: 'actions', count: 1, error: 'HTTP 400' });
    await expect(ours.sendActionsBatch([action()], keep)).resolves.toMatchObject({ status: 400, error: 'HTTP 400' });
    expect(errors).toEqual([expect.any(Error), expect.any(Error), expect.any(Error), expect.any(Error)]);
    expect(errors[0]?.message).toBe('HTTP 400');
  });

  it('ignores a callback that throws or rejects: the promise still resolves with the outcome', async () => {
    await expect(
      ours.sendAction(action(), () => {
        throw new Error('app bug');
      }),
    ).resolves.toEqual({ status: 201, kind: 'actions', count: 1 });
    await expect(ours.updateSubscription(subscription(), async () => Promise.reject(new Error('app bug')))).resolves.toMatchObject({ status: 201 });
  });
});

describe('bad input resolves with an error outcome and sends nothing', () => {
  it('missing ids, names and uris (where moesif-nodejs throws at the caller, or sends what Moesif refuses)', async () => {
    // moesif-nodejs checks actions before it sends them, by throwing into the app's code.
    expect(() => theirs.sendAction({ request: { uri: 'https://acme.test/' } })).toThrow(/actionName/);
    expect(() => theirs.sendActionsBatch([null])).toThrow();
    // An empty id is no id to moesif-nodejs either (an app's `user.id ?? ''`).
    expect(() => theirs.updateUser({ userId: '' })).toThrow(/userId/);
    expect(() => theirs.updateCompany({ companyId: '' })).toThrow(/companyId/);

    const errors: Array<Error | null> = [];
    const keep = (error: Error | null) => void errors.push(error);
    const cases: Array<[Promise<DeliveryOutcome>, string]> = [
      [ours.updateSubscription({ companyId: 'acme', status: 'active' }, keep), 'subscription_id is required'],
      [ours.updateSubscription({ subscriptionId: 'sub_1' }, keep), 'company_id is required'],
      [ours.updateSubscription(null as unknown as SubscriptionModel, keep), 'subscription_id is required'],
      [ours.updateSubscriptionsBatch([subscription(), null] as unknown as SubscriptionModel[], keep), 'subscription_id is required'],
      [ours.updateSubscriptionsBatch(undefined as unknown as SubscriptionModel[], keep), 'subscription_id is required'],
      [ours.sendAction({ request: { uri: 'https://acme.test/' } }, keep), 'action_name is required'],
      [ours.sendAction({ actionName: 'Signed up' }, keep), 'request.uri is required'],
      [ours.sendAction({ actionName: 'Signed up', request: { time: new Date() } }, keep), 'request.uri is required'],
      [ours.sendActionsBatch([action(), null] as unknown as ActionModel[], keep), 'action_name is required'],
      [ours.sendActionsBatch([], keep), 'action_name is required'],
      [ours.updateUser({ userId: '' }, keep), 'user_id is required'],
      [ours.updateUsersBatch([{ userId: 'u1' }, { user_id: '' }], keep), 'user_id is required'],
      [ours.updateCompany({ companyId: '' }, keep), 'company_id is required'],
      [ours.updateSubscription({ subscriptionId: '', companyId: 'acme' }, keep), 'subscription_id is required'],
    ];
    for (const [outcome, error] of cases) await expect(outcome).resolves.toMatchObject({ status: 0, error });
    expect(errors).toHaveLength(cases.length);
    expect(errors.every((error) => error instanceof Error)).toBe(true);
    expect(posts()).toEqual([]);
  });

  it("a getter of the app's object that throws, and metadata that cannot be serialized", async () => {
    const lazy = Object.defineProperty({ subscriptionId: 'sub_1', companyId: 'acme' }, 'metadata', {
      enumerable: true,
      get() {
        throw new Error('lazy relation not loaded');
      },
    });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(ours.updateSubscription(lazy)).resolves.toEqual({ status: 0, kind: 'subscriptions', count: 1, error: 'Error' });
    await expect(ours.sendAction({ ...action(), metadata: circular })).resolves.toEqual({ status: 0, kind: 'actions', count: 1, error: 'TypeError' });
    await expect(ours.sendAction({ ...action(), request: { uri: 'https://acme.test/', time: new Date('not a date') } })).resolves.toMatchObject({
      status: 0,
      error: 'RangeError',
    });
    expect(posts()).toEqual([]);
  });

  it('without an applicationId: the methods resolve with an error outcome and the rules are an empty list', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const disabled = usertrail({ applicationId: '', baseUri: collector.url });
    expect(error).toHaveBeenCalledOnce();
    const off = { status: 0, count: 1, error: 'middleware disabled (see the console error)' };
    await expect(disabled.updateSubscription(subscription())).resolves.toEqual({ ...off, kind: 'subscriptions' });
    await expect(disabled.updateSubscriptionsBatch([subscription()])).resolves.toEqual({ ...off, kind: 'subscriptions' });
    await expect(disabled.sendAction(action())).resolves.toEqual({ ...off, kind: 'actions' });
    await expect(disabled.sendActionsBatch([action()])).resolves.toEqual({ ...off, kind: 'actions' });
    expect(disabled.getApplicableRulesForUserId('12345')).toEqual([]);
    expect(disabled.getApplicableRulesForCompanyId('67890')).toEqual([]);
    expect(posts()).toEqual([]);
  });
});

describe('governance rules', () => {
  it('returns what moesif-nodejs returns for an application without rules, an empty list, and warns once that rules are not supported', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    // The collector has no rules to give moesif-nodejs.
    expect(theirs.getApplicableRulesForUserId('12345')).toEqual([]);
    expect(theirs.getApplicableRulesForCompanyId('67890')).toEqual([]);

    const forUser = ours.getApplicableRulesForUserId('12345');
    expect(forUser).toEqual([]);
    expect(ours.getApplicableRulesForCompanyId('67890')).toEqual([]);
    expect(ours.getApplicableRulesForUserId(undefined)).toEqual([]);
    // A list of its own each time: an app that pushes into one does not change the next answer.
    forUser.push({ name: 'app added' });
    expect(ours.getApplicableRulesForUserId('12345')).toEqual([]);
    expect(warn.mock.calls.map(([message]) => String(message))).toEqual([expect.stringMatching(/governance rules are not supported/)]);
  });
});

describe('against the demo collector', () => {
  it('stores server actions, and answers subscriptions with a clear 404 JSON error that reaches the callback', async () => {
    const demo = await startCollector({ port: 0, host: '127.0.0.1', db: ':memory:', applicationId: APP_ID, log: () => {} });
    try {
      const mw = usertrail({ applicationId: APP_ID, baseUri: demo.url });
      const pricing = { actionName: 'Viewed pricing', userId: '18340', request: { uri: 'https://acme.test/pricing' } };
      // 201: every item stored (207 would say some were refused).
      await expect(mw.sendActionsBatch([action(), pricing])).resolves.toEqual({ status: 201, kind: 'actions', count: 2 });
      const stored = (await (await fetch(`${demo.url}/api/events?kind=action`)).json()) as { events: Array<Record<string, unknown>> };
      expect(stored.events.map((e) => [e.action_name, e.user_id, e.uri])).toEqual(
        expect.arrayContaining([
          ['Clicked Sign Up', '12345', 'https://api.acmeinc.com/items/reviews/'],
          ['Viewed pricing', '18340', 'https://acme.test/pricing'],
        ]),
      );

      let callbackError: Error | null = null;
      const outcome = await mw.updateSubscription(subscription(), (error) => {
        callbackError = error;
      });
      expect(outcome).toEqual({ status: 404, kind: 'subscriptions', count: 1, error: 'HTTP 404' });
      expect(callbackError).toBeInstanceOf(Error);
      const answer = await fetch(`${demo.url}/v1/subscriptions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Moesif-Application-Id': APP_ID },
        body: JSON.stringify({ subscription_id: 'sub_1', company_id: 'acme' }),
      });
      expect(answer.status).toBe(404);
      expect(await answer.json()).toEqual({ error: 'no such endpoint: POST /v1/subscriptions' });
    } finally {
      await demo.close();
    }
  });
});

describe('the wire contract the recording collector checks', () => {
  it("takes the server's actions as moesif-nodejs builds them, and still holds the browser's to their verb, user agent and transaction id", () => {
    const serverAction = { action_name: 'Viewed pricing', user_id: '18340', request: { uri: 'https://acme.test/pricing', ip_address: '61.48.220.126' } };
    expect(contractProblems('/v1/actions', serverAction, 'server')).toEqual([]);
    expect(contractProblems('/v1/actions', serverAction, 'browser')).toEqual([
      'actions.transaction_id: required',
      'actions.request.ip_address: not in the wire contract',
      'actions.request.time: required',
      'actions.request.verb: required',
      'actions.request.user_agent_string: required',
    ]);
    expect(contractProblems('/v1/actions', { ...serverAction, request: {} }, 'server')).toEqual(['actions.request.uri: required']);
  });

  it('takes subscriptions from the server only, with both ids', () => {
    expect(contractProblems('/v1/subscriptions/batch', [{ subscription_id: 'sub_1', company_id: 'acme', status: 'active' }], 'server')).toEqual([]);
    expect(contractProblems('/v1/subscriptions', { subscription_id: 'sub_1' }, 'server')).toEqual(['subscriptions.company_id: required']);
    expect(contractProblems('/v1/subscriptions', { subscription_id: 'sub_1', company_id: 'acme' }, 'browser')).toEqual([
      '/v1/subscriptions: the browser SDK has no subscriptions',
    ]);
  });
});
