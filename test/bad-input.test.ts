import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Moesif } from '../src/moesif';
import { cookies, KEYS, messages, spyConsole, useSdk, UUID_V4 } from './support/page';

const sdk = useSdk();

const circular = (): Record<string, unknown> => {
  const value: Record<string, unknown> = { name: 'loop' };
  value.self = value;
  return value;
};
const throwingGetter = (): Record<string, unknown> =>
  Object.defineProperty({ ok: 1 }, 'boom', {
    enumerable: true,
    get() {
      throw new Error('getter exploded');
    },
  });
const throwingProxy = (): Record<string, unknown> =>
  new Proxy({}, {
    get() {
      throw new Error('proxy trap');
    },
    ownKeys() {
      throw new Error('proxy trap');
    },
  });
const FIVE_MB = 'x'.repeat(5 * 1024 * 1024);

type Call = (moesif: Moesif) => unknown;
const any = (value: unknown) => value as never;
/** A method called with arguments its type does not allow. */
const loose = (method: unknown) => method as (...args: unknown[]) => void;

/** Bad calls on an initialized instance. None may throw; repeating one must not repeat its warning. */
const BAD_CALLS: [string, Call][] = [
  ['circular metadata', (m) => m.track('Circular', circular())],
  ['BigInt metadata', (m) => m.track('BigInt', { big: 12345678901234567890n })],
  ['metadata with a throwing getter', (m) => m.track('Getter', throwingGetter())],
  ['metadata whose toJSON throws', (m) => m.track('ToJSON', { toJSON: () => { throw new Error('toJSON'); } })],
  ['a Proxy that throws on every access as metadata', (m) => m.track('Proxy', throwingProxy())],
  ['a function as metadata', (m) => m.track('Function', any(() => 1))],
  ['functions and symbols inside metadata', (m) => m.track('Inside', { fn: () => 1, sym: Symbol('s'), [Symbol('key')]: 1, ok: true })],
  ['a symbol as action name', (m) => m.track(any(Symbol('action')))],
  ['a 5 MB string in metadata', (m) => m.track('Huge', { blob: FIVE_MB })],
  ['a 5 MB action name', (m) => m.track(FIVE_MB)],
  ['a 5 MB string in user metadata', (m) => m.identifyUser('huge-user', { blob: FIVE_MB })],
  ['an array as metadata', (m) => m.track('Array', any([1, 2, 3]))],
  ['a string as metadata', (m) => m.track('String', any('metadata'))],
  ['a number as metadata', (m) => m.track('Number', any(42))],
  ['track() without arguments', (m) => loose(m.track)()],
  ['a number as action name', (m) => m.track(any(42))],
  ['an empty action name', (m) => m.track('')],
  ['a whitespace action name', (m) => m.track('   ')],
  ['null as action name with metadata', (m) => m.track(any(null), { a: 1 })],
  ['identifyUser(undefined)', (m) => m.identifyUser(any(undefined))],
  ['identifyUser(null)', (m) => m.identifyUser(any(null))],
  ['identifyUser({})', (m) => m.identifyUser(any({}))],
  ['identifyUser([])', (m) => m.identifyUser(any([]))],
  ['identifyUser(true)', (m) => m.identifyUser(any(true))],
  ['identifyUser(NaN)', (m) => m.identifyUser(Number.NaN)],
  ["identifyUser('undefined')", (m) => m.identifyUser('undefined')],
  ['identifyUser with a string as metadata', (m) => m.identifyUser('u-meta', any('plan=pro'))],
  ['identifyCompany(undefined)', (m) => m.identifyCompany(any(undefined))],
  ['identifyCompany with an object id', (m) => m.identifyCompany(any({ id: 1 }))],
  ['identifyCompany with an array as metadata', (m) => m.identifyCompany('c-meta', any([1, 2]))],
  ['identifyCompany with a number as domain', (m) => m.identifyCompany('c-domain', {}, any(42))],
  ['identifySession(undefined)', (m) => m.identifySession(any(undefined))],
  ['identifySession({})', (m) => m.identifySession(any({}))],
  ["identifySession('null')", (m) => m.identifySession('null')],
  ['reset() with arguments', (m) => loose(m.reset)('everything', 1)],
  ['init() a second time', (m) => m.init({ applicationId: 'other-app', host: 'http://127.0.0.1:9' })],
  ['init() a second time with null', (m) => m.init(any(null))],
];

describe('bad calls on a running instance', () => {
  it.each(BAD_CALLS)('%s: nothing thrown, at most one warning per kind, tracking goes on', async (_name, call) => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    expect(() => call(moesif)).not.toThrow();
    const afterFirst = [...messages(console.warn), ...messages(console.error)];
    expect(() => call(moesif)).not.toThrow();
    const afterSecond = [...messages(console.warn), ...messages(console.error)];
    // A mistake repeated (in a loop, say) does not repeat its warning.
    expect(afterSecond).toEqual(afterFirst);
    expect(new Set(afterSecond).size).toBe(afterSecond.length);
    expect(afterSecond.length).toBeLessThanOrEqual(2);

    moesif.track('After');
    await moesif.flush();
    const names = sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.action_name);
    expect(names).toContain('After');
    expect(moesif.getAnonymousId()).toMatch(UUID_V4);
  });
});

describe('what bad metadata becomes', () => {
  it('circular metadata is sent with the cycle cut', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.track('Circular', { nested: circular(), n: 1 });
    await moesif.flush();
    const [action] = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(action.metadata).toEqual({ nested: { name: 'loop', self: '[Circular]' }, n: 1 });
  });

  it('BigInt metadata is sent as a decimal string', async () => {
    const { moesif, applicationId } = sdk.start();
    moesif.track('BigInt', { big: 12345678901234567890n });
    await moesif.flush();
    const [action] = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(action.metadata).toEqual({ big: '12345678901234567890' });
  });

  it('metadata that cannot be serialized is left out, with one warning, and the action still sent', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    moesif.track('Getter', throwingGetter());
    moesif.track('Proxy', throwingProxy());
    await moesif.flush();
    const actions = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(actions.map((action) => action.action_name)).toEqual(['Getter', 'Proxy']);
    for (const action of actions) expect(action).not.toHaveProperty('metadata');
    expect(messages(console.warn)).toHaveLength(1);
    expect(messages(console.warn)[0]).toMatch(/metadata/i);
  });

  it('metadata that is not a plain object is ignored with a warning', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    moesif.track('Array', any([1, 2]));
    moesif.track('String', any('s'));
    await moesif.flush();
    const actions = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(actions).toHaveLength(2);
    for (const action of actions) expect(action).not.toHaveProperty('metadata');
    expect(messages(console.warn)).toHaveLength(1);
    expect(messages(console.warn)[0]).toMatch(/metadata/i);
  });

  it('trackPageView() with metadata that is not a plain object sends the view without it, with the same one warning', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    moesif.trackPageView(any([1, 2]));
    moesif.trackPageView(any('section=docs'));
    expect(messages(console.warn)).toHaveLength(1);
    expect(messages(console.warn)[0]).toMatch(/metadata/i);
    // The warning track() gives for the same mistake: not a second one.
    moesif.track('Array', any([1, 2]));
    expect(messages(console.warn)).toHaveLength(1);
    await moesif.flush();
    const actions = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(actions.map((action) => action.action_name)).toEqual(['Page View', 'Page View', 'Array']);
    expect(Object.keys(actions[1]!.metadata as object).sort()).toEqual(['hash', 'host', 'pathname', 'referrer', 'search', 'title']);
  });

  // moesif-browser-js sends metadata only when it is given (`if (metadata)`): identifyCompany(id, null,
  // 'acme.com') (a domain without metadata) or track(name, null) must not send `"metadata": null`.
  it('null metadata is left out, as moesif leaves it out, without a warning', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1', any(null));
    moesif.identifyCompany('c1', any(null), 'acme.com');
    moesif.track('Null', any(null));
    await moesif.flush();
    const items = ['users', 'companies', 'actions'].flatMap((kind) => sdk.collector.items(applicationId, `/v1/${kind}/batch`));
    expect(items.length).toBeGreaterThanOrEqual(3);
    for (const item of items) expect(item).not.toHaveProperty('metadata');
    expect(sdk.collector.items(applicationId, '/v1/companies/batch')).toEqual([{ company_id: 'c1', company_domain: 'acme.com' }]);
    expect(messages(console.warn)).toEqual([]);
  });

  // JSON.stringify sends what toJSON() gives: a Date (or a class whose toJSON gives a number) would put
  // a string or number where Moesif and the collector take an object, and a collector that refuses the
  // item refuses the whole batch it travels in.
  it('metadata whose JSON is not an object (a Date, a toJSON giving a number) is left out with one warning, and the batch arrives', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    moesif.track('Before');
    moesif.track('Date', any(new Date(0)));
    moesif.track('Number', any({ toJSON: () => 5 }));
    moesif.track('Model', any({ toJSON: () => ({ plan: 'pro' }) }));
    await moesif.flush();
    const actions = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(actions.map((action) => [action.action_name, action.metadata])).toEqual([
      ['Before', undefined],
      ['Date', undefined],
      ['Number', undefined],
      ['Model', { plan: 'pro' }],
    ]);
    expect(messages(console.warn)).toHaveLength(1);
    expect(messages(console.warn)[0]).toMatch(/metadata/i);
  });

  // Other SDKs' track() takes a third argument (a callback, options). Page views pass when and where
  // their action happened there internally; what an app passes must not replace the action's time or
  // page, where a number would make the collector refuse the whole batch.
  it('a third argument to track() changes nothing that is sent', async () => {
    const { moesif, applicationId } = sdk.start();
    loose(moesif.track)('Third', { plan: 'pro' }, { time: 123, uri: 5 });
    loose(moesif.track)('Callback', undefined, () => undefined);
    await moesif.flush();
    const actions = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(actions.map((action) => action.action_name)).toEqual(['Third', 'Callback']);
    for (const action of actions) {
      expect(action.request).toMatchObject({ uri: location.href, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    }
  });

  it('an item too large for the outbox is dropped with one warning and counted', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    moesif.track('Huge', { blob: FIVE_MB });
    moesif.track('Huge too', { blob: FIVE_MB + 'more' });
    moesif.track('Small');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.action_name)).toEqual(['Small']);
    expect(moesif.getStats()?.dropped).toBe(2);
    expect(messages(console.warn)).toHaveLength(1);
  });
});

describe('init with bad arguments', () => {
  it.each([
    ['init()', (m: Moesif) => loose(m.init)()],
    ['init(null)', (m: Moesif) => m.init(any(null))],
    ["init('x')", (m: Moesif) => m.init(any('x'))],
    ['init(42)', (m: Moesif) => m.init(any(42))],
    ['init with an options object whose getter throws', (m: Moesif) =>
      m.init(any(Object.defineProperty({ applicationId: 'a' }, 'host', { enumerable: true, get() { throw new Error('bad getter'); } })))],
  ])('%s reports one error, throws nothing, and later calls are quiet no-ops', async (_name, call) => {
    const console = spyConsole();
    const moesif = sdk.fresh();
    expect(() => call(moesif)).not.toThrow();
    expect(messages(console.error)).toHaveLength(1);
    expect(() => {
      moesif.track('x');
      moesif.identifyUser('u');
      moesif.reset();
    }).not.toThrow();
    expect(moesif.getAnonymousId()).toBeUndefined();
    await expect(moesif.flush()).resolves.toBeUndefined();
    expect(messages(console.warn)).toEqual([]);
  });

  // A component that calls init() as it renders, with an application id from an environment variable
  // that is not set, calls it on every render: one error says so, not one per render.
  it('init() without an application id, called again and again, reports its error once', () => {
    const console = spyConsole();
    const moesif = sdk.fresh();
    for (let render = 0; render < 50; render++) moesif.init({ applicationId: any(undefined) });
    expect(messages(console.error)).toHaveLength(1);
    expect(messages(console.error)[0]).toContain('applicationId');
  });

  it('init twice warns once and keeps the first configuration', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    const id = moesif.getAnonymousId();
    moesif.init({ applicationId: 'second', host: 'http://127.0.0.1:9', persistence: 'none' });
    moesif.init({ applicationId: 'third' });
    expect(messages(console.warn)).toHaveLength(1);
    expect(messages(console.warn)[0]).toContain('init');
    expect(moesif.getAnonymousId()).toBe(id);
    moesif.track('Still first');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')).toHaveLength(1);
  });

  it("init() again with the same applicationId (React's StrictMode runs an app's effects twice in development) is ignored without a warning", async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    moesif.init({ applicationId, batchMaxTime: 10 });
    moesif.init({ applicationId: ` ${applicationId} ` });
    expect(messages(console.warn)).toEqual([]);
    moesif.track('Once');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')).toHaveLength(1);
  });
});

describe('calls before init', () => {
  it('more than 1000 are warned about once, and the first 1000 are replayed', async () => {
    const console = spyConsole();
    const moesif = sdk.fresh();
    for (let index = 0; index < 1005; index++) moesif.track(`Early ${index}`);
    expect(messages(console.warn)).toHaveLength(1);
    expect(messages(console.warn)[0]).toContain('1000');
    const applicationId = `early-overflow-${Date.now()}`;
    moesif.init({ applicationId, host: sdk.collector.url, batchMaxTime: 10 });
    expect(moesif.getStats()?.queued).toBe(1000);
    await moesif.flush();
    const names = sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.action_name);
    expect(names).toHaveLength(1000);
    expect(names[0]).toBe('Early 0');
    expect(names.at(-1)).toBe('Early 999');
  });

  it('getters before init return undefined without throwing and are not queued', () => {
    const console = spyConsole();
    const moesif = sdk.fresh();
    // Kept, the 1,001st call before init() would hit the limit and warn.
    for (let index = 0; index < 1001; index++) moesif.getAnonymousId();
    expect(console.warn).not.toHaveBeenCalled();
    expect(moesif.getAnonymousId()).toBeUndefined();
    expect(moesif.getUserId()).toBeUndefined();
    expect(moesif.getCompanyId()).toBeUndefined();
    expect(moesif.getSessionToken()).toBeUndefined();
    expect(moesif.getStats()).toBeUndefined();
  });
});

describe('storage that throws', () => {
  const restore: Array<() => void> = [];
  afterEach(() => {
    for (const undo of restore.splice(0)) undo();
  });
  const blockLocalStorage = (): void => {
    const original = Object.getOwnPropertyDescriptor(window, 'localStorage');
    Object.defineProperty(window, 'localStorage', {
      configurable: true,
      get() {
        throw new DOMException('The operation is insecure.', 'SecurityError');
      },
    });
    restore.push(() => {
      if (original) Object.defineProperty(window, 'localStorage', original);
      else delete (window as { localStorage?: Storage }).localStorage;
    });
    expect(() => window.localStorage).toThrow();
  };
  const disableCookies = (): void => {
    Object.defineProperty(navigator, 'cookieEnabled', { configurable: true, get: () => false });
    restore.push(() => {
      delete (navigator as { cookieEnabled?: boolean }).cookieEnabled;
    });
  };

  it('localStorage that throws on access: ids live in cookies, events still arrive, at most one warning', async () => {
    const console = spyConsole();
    blockLocalStorage();
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1');
    moesif.track('Blocked storage');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')).toMatchObject([{ action_name: 'Blocked storage', user_id: 'u1' }]);
    expect(cookies()).toMatchObject({ [KEYS.userId]: 'u1', [KEYS.anonymousId]: moesif.getAnonymousId() });
    expect(messages(console.warn).length).toBeLessThanOrEqual(1);
    expect(messages(console.error)).toEqual([]);
  });

  it('a full localStorage (setItem throws QuotaExceededError): events still arrive, ids are kept, at most one warning', async () => {
    const console = spyConsole();
    const setItem = vi.spyOn(Storage.prototype, 'setItem').mockImplementation(() => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1');
    const id = moesif.getAnonymousId();
    for (let index = 0; index < 5; index++) moesif.track(`Full ${index}`);
    await moesif.flush();
    expect(setItem).toHaveBeenCalled();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')).toHaveLength(5);
    expect(moesif.getUserId()).toBe('u1');
    expect(moesif.getAnonymousId()).toBe(id);
    expect(messages(console.warn).length).toBeLessThanOrEqual(1);
  });

  it('localStorage that becomes full after init: tracking goes on', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    const id = moesif.getAnonymousId();
    vi.spyOn(Storage.prototype, 'setItem').mockImplementation(() => {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    });
    moesif.identifyUser('u1');
    moesif.track('After full');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')).toMatchObject([{ action_name: 'After full', user_id: 'u1' }]);
    expect(moesif.getAnonymousId()).toBe(id);
    expect(messages(console.warn).length).toBeLessThanOrEqual(1);
  });

  it('cookies disabled: ids live in localStorage, no id cookie is written, events still arrive', async () => {
    const console = spyConsole();
    disableCookies();
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1');
    moesif.track('No cookies');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')).toMatchObject([{ action_name: 'No cookies', user_id: 'u1' }]);
    expect(Object.keys(cookies()).filter((name) => name.startsWith('moesif_'))).toEqual([]);
    expect(localStorage.getItem(KEYS.userId)).toBe('u1');
    expect(localStorage.getItem(KEYS.anonymousId)).toBe(moesif.getAnonymousId());
    // The next page load finds the same visitor.
    expect(sdk.start().moesif.getAnonymousId()).toBe(moesif.getAnonymousId());
    expect(messages(console.warn).length).toBeLessThanOrEqual(1);
  });

  it('cookies disabled and localStorage blocked: ids in memory, events still arrive, nothing thrown', async () => {
    const console = spyConsole();
    disableCookies();
    blockLocalStorage();
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1');
    moesif.track('Nothing persists');
    await moesif.flush();
    expect(moesif.getAnonymousId()).toMatch(UUID_V4);
    expect(moesif.getUserId()).toBe('u1');
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')).toMatchObject([{ action_name: 'Nothing persists', user_id: 'u1' }]);
    expect(messages(console.warn).length).toBeLessThanOrEqual(1);
  });

  // Issue 2: "fall back to memory with one warning", also when neither store exists at all.
  it('cookies disabled and localStorage blocked: one warning says ids last for this page view only', () => {
    const console = spyConsole();
    disableCookies();
    blockLocalStorage();
    const { moesif } = sdk.start();
    moesif.identifyUser('u1');
    moesif.track('Nothing persists');
    expect(messages(console.warn)).toHaveLength(1);
  });
});

describe('host page hostility', () => {
  it('a callback option that throws is warned about once and delivery goes on', async () => {
    const console = spyConsole();
    const callback = vi.fn((_outcome: unknown) => {
      throw new Error('callback exploded');
    });
    const { moesif, applicationId } = sdk.start({ callback, batchEnabled: false });
    moesif.track('One');
    moesif.track('Two');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.action_name)).toEqual(['One', 'Two']);
    expect(callback).toHaveBeenCalledTimes(2);
    expect(callback.mock.calls[0]).toEqual([undefined, { status: 200, kind: 'actions', count: 1 }]);
    expect(messages(console.warn)).toHaveLength(1);
    expect(messages(console.warn)[0]).toContain('callback');
  });

  it('console methods replaced by throwing functions never make the SDK throw', async () => {
    const boom = () => {
      throw new Error('console is broken');
    };
    for (const name of ['warn', 'error', 'log', 'info', 'debug'] as const) vi.spyOn(console, name).mockImplementation(boom);
    const bad = sdk.fresh();
    expect(() => bad.init(any(null))).not.toThrow();
    const { moesif, applicationId } = sdk.start({ debug: true, batchSize: 'x' as never });
    expect(() => {
      moesif.track(any(42));
      moesif.track('Circular', circular());
      moesif.track('Getter', throwingGetter());
      moesif.identifyUser('');
      moesif.identifyUser('a');
      moesif.identifyUser('b');
      moesif.init({ applicationId: 'again' });
      moesif.track('Logged');
    }).not.toThrow();
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.action_name)).toEqual(['Circular', 'Getter', 'Logged']);
  });

  it('debug: true logs what is queued and sent on the console', async () => {
    const console = spyConsole();
    const { moesif } = sdk.start({ debug: true });
    moesif.identifySession('secret-session-token');
    moesif.identifyUser('user-42', { email: 'someone@example.com' });
    moesif.track('Debugged');
    await moesif.flush();
    // Objects as JSON, so that a payload passed to the console would show here.
    const lines = console.log.mock.calls.map((call) => call.map((detail) => (typeof detail == 'string' ? detail : JSON.stringify(detail))).join(' ')).join('\n');
    expect(lines).toContain('queued actions');
    expect(lines).toContain('200');
    // No token, id or personal value reaches the console, even in debug.
    expect(lines).not.toMatch(/secret-session-token|user-42|someone@example\.com/);
  });

  it('without debug nothing is logged for normal work', async () => {
    const console = spyConsole();
    const { moesif } = sdk.start();
    moesif.identifyUser('u1');
    moesif.track('Quiet');
    await moesif.flush();
    expect(console.log).not.toHaveBeenCalled();
    expect(console.warn).not.toHaveBeenCalled();
    expect(console.error).not.toHaveBeenCalled();
  });
});

describe('damaged storage', () => {
  it("a queue left by an earlier page with damaged entries: the good ones are sent, the rest skipped, nothing thrown", async () => {
    const applicationId = `damaged-${process.pid}`;
    const action = { action_name: 'Left Behind', transaction_id: 'good-1', request: { time: new Date().toISOString(), uri: location.href, verb: 'GET', user_agent_string: 'earlier' } };
    const good = { id: 'good-1', kind: 'actions', json: action, bytes: 'not a number', at: Date.now() };
    localStorage.setItem(
      `usertrail:v3:outbox:${applicationId}:earlier-page`,
      JSON.stringify([0, [null, { id: 'no-json' }, good]]),
    );
    localStorage.setItem(`usertrail:v3:outbox:${applicationId}:unreadable`, '{not json');
    const moesif = sdk.fresh();
    expect(() => moesif.init({ applicationId, host: sdk.collector.url, batchMaxTime: 10 })).not.toThrow();
    moesif.track('Now');
    await moesif.flush();
    const names = sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.action_name);
    expect(names.sort()).toEqual(['Left Behind', 'Now']);
    expect(moesif.getStats()).toMatchObject({ adopted: 1, dropped: 0 });
    expect(Object.keys(localStorage).filter((key) => key.includes('earlier-page') || key.includes('unreadable'))).toEqual([]);
  });
});
