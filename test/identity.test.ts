import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';
import { describe, expect, it, vi } from 'vitest';
import { cleanId, newId } from '../src/ids';
import type { Options } from '../src/options';
import { findCookieDomain } from '../src/storage/cookie-store';
import { clearCookies, cookies, KEYS, localKeys, messages, moesifKeysIn, removeCookie, setCookie, spyConsole, useSdk, UUID_V4 } from './support/page';

const sdk = useSdk();

const MOESIF_JS = readFileSync(`${process.cwd()}/node_modules/moesif-browser-js/moesif.min.js`, 'utf8');

describe('newId', () => {
  it('makes distinct v4 UUIDs from getRandomValues, also where randomUUID is missing (plain-http pages)', () => {
    // Counts the draws of random bytes: one serves 16 ids.
    const getRandomValues = vi.fn(crypto.getRandomValues.bind(crypto));
    vi.stubGlobal('crypto', { getRandomValues });
    try {
      const ids = Array.from({ length: 2000 }, newId);
      expect(getRandomValues.mock.calls.length).toBeGreaterThanOrEqual(2000 / 16);
      expect(getRandomValues.mock.calls.length).toBeLessThanOrEqual(2000 / 16 + 1);
      for (const id of ids) expect(id).toMatch(UUID_V4);
      expect(new Set(ids).size).toBe(ids.length);
      // Every variant digit (8, 9, a, b) and every hex digit occurs: the random bits are really random.
      expect(new Set(ids.map((id) => id[19]))).toEqual(new Set(['8', '9', 'a', 'b']));
      expect(new Set(ids.join('').replace(/-/g, '')).size).toBe(16);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('cleanId', () => {
  it.each([
    ['an empty string', ''],
    ['whitespace', ' \t\n '],
    ["'undefined'", 'undefined'],
    ["'null'", 'null'],
    ['undefined', undefined],
    ['null', null],
    ['an object', { id: 1 }],
    ['an array', ['u1']],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a boolean', true],
    ['a symbol', Symbol('u1')],
  ])('rejects %s', (_name, value) => {
    expect(cleanId(value)).toBeUndefined();
  });

  it('turns numbers into strings and trims strings', () => {
    expect(cleanId(42)).toBe('42');
    expect(cleanId(0)).toBe('0');
    expect(cleanId(' user-1 ')).toBe('user-1');
  });
});

describe('findCookieDomain', () => {
  it('finds the widest domain the page may set cookies on, and leaves no probe cookie behind', () => {
    expect(findCookieDomain('app.example.test')).toBe('example.test');
    expect(Object.keys(cookies())).toEqual([]);
  });

  it('uses host-only cookies on localhost and IP addresses', () => {
    expect(findCookieDomain('localhost')).toBeUndefined();
    expect(findCookieDomain('127.0.0.1')).toBeUndefined();
    expect(findCookieDomain('::1')).toBeUndefined();
  });
});

// The same behaviour, whichever of the persistent backends keeps the ids.
describe.each(['localStorage', 'cookie'] as const)('with persistence %s', (persistence) => {
  it('makes a v4 UUID anonymous id once and keeps it for the next page load', () => {
    const first = sdk.start({ persistence }).moesif;
    const id = first.getAnonymousId();
    expect(id).toMatch(UUID_V4);
    expect(first.getAnonymousId()).toBe(id);
    const second = sdk.start({ persistence }).moesif;
    expect(second.getAnonymousId()).toBe(id);
  });

  it('keeps the identified user, company and session for the next page load', () => {
    const first = sdk.start({ persistence }).moesif;
    first.identifyUser('u1');
    first.identifyCompany('c1');
    first.identifySession('s1');
    const second = sdk.start({ persistence }).moesif;
    expect([second.getUserId(), second.getCompanyId(), second.getSessionToken()]).toEqual(['u1', 'c1', 's1']);
  });

  it('writes the ids to cookies on the site domain under moesif-browser-js keys', () => {
    const { moesif } = sdk.start({ persistence });
    moesif.identifyUser('u1');
    expect(cookies()).toMatchObject({ [KEYS.anonymousId]: moesif.getAnonymousId(), [KEYS.userId]: 'u1' });
    // A domain cookie is only removed with its domain: removing host-only must leave it in place.
    document.cookie = `${KEYS.userId}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`;
    expect(cookies()[KEYS.userId]).toBe('u1');
  });

  it('identifyUser with a different id switches user, warns about reset() and gets a new anonymous id', () => {
    const console = spyConsole();
    const { moesif } = sdk.start({ persistence });
    moesif.identifyUser('alice');
    const aliceAnonymousId = moesif.getAnonymousId();
    moesif.identifyUser('bob');
    expect(moesif.getUserId()).toBe('bob');
    expect(moesif.getAnonymousId()).toMatch(UUID_V4);
    expect(moesif.getAnonymousId()).not.toBe(aliceAnonymousId);
    const warnings = messages(console.warn).filter((message) => message.includes('reset()'));
    expect(warnings).toHaveLength(1);
  });

  it('identifyUser again with the same id keeps the user and anonymous id without a warning', () => {
    const console = spyConsole();
    const { moesif } = sdk.start({ persistence });
    moesif.identifyUser('alice');
    const anonymousId = moesif.getAnonymousId();
    moesif.identifyUser('alice');
    moesif.identifyUser(' alice ');
    expect(moesif.getUserId()).toBe('alice');
    expect(moesif.getAnonymousId()).toBe(anonymousId);
    expect(console.warn).not.toHaveBeenCalled();
  });

  it('reset() forgets user, company, session and campaign everywhere and makes a new anonymous id', () => {
    history.replaceState(null, '', '/?utm_source=news');
    const { moesif } = sdk.start({ persistence });
    moesif.identifyUser('u1');
    moesif.identifyCompany('c1');
    moesif.identifySession('s1');
    const before = moesif.getAnonymousId();
    expect(cookies()[KEYS.campaign]).toContain('news');
    moesif.reset();
    expect([moesif.getUserId(), moesif.getCompanyId(), moesif.getSessionToken()]).toEqual([undefined, undefined, undefined]);
    const after = moesif.getAnonymousId();
    expect(after).toMatch(UUID_V4);
    expect(after).not.toBe(before);
    for (const key of [KEYS.userId, KEYS.companyId, KEYS.sessionToken, KEYS.campaign]) {
      expect(cookies(), key).not.toHaveProperty(key);
      expect(localStorage.getItem(key), key).toBeNull();
    }
    expect(cookies()[KEYS.anonymousId]).toBe(after);
    // The next page load sees the logged-out state, not the old user.
    const reloaded = sdk.start({ persistence }).moesif;
    expect(reloaded.getUserId()).toBeUndefined();
    expect(reloaded.getAnonymousId()).toBe(after);
  });

  // The visitor switches to the other tab: the SDK rereads the cookie jar when its page becomes visible.
  const nextTask = () => document.dispatchEvent(new Event('visibilitychange'));

  it('a reset() in one tab is seen at once by another tab of the same site', async () => {
    const tabA = sdk.start({ persistence }).moesif;
    const tabB = sdk.start({ persistence }).moesif;
    tabA.identifyUser('u1');
    await nextTask();
    expect(tabB.getUserId()).toBe('u1');
    tabA.reset();
    await nextTask();
    expect(tabB.getUserId()).toBeUndefined();
    expect(tabB.getAnonymousId()).toBe(tabA.getAnonymousId());
  });

  it.each([
    ['an empty string', ''],
    ['whitespace', '   '],
    ["'undefined'", 'undefined'],
    ["'null'", 'null'],
    ['an object', {}],
    ['NaN', Number.NaN],
    ['an array', ['u1']],
  ])('identifyUser rejects %s with a warning and keeps the current user', (_name, bad) => {
    const console = spyConsole();
    const { moesif } = sdk.start({ persistence });
    moesif.identifyUser('u1');
    moesif.identifyUser(bad as string);
    expect(moesif.getUserId()).toBe('u1');
    expect(messages(console.warn)).toHaveLength(1);
    expect(messages(console.warn)[0]).toContain('identifyUser');
  });

  it('identifyUser and identifyCompany take numbers as strings', () => {
    const { moesif } = sdk.start({ persistence });
    moesif.identifyUser(42);
    moesif.identifyCompany(7);
    expect(moesif.getUserId()).toBe('42');
    expect(moesif.getCompanyId()).toBe('7');
  });
});

describe('existing moesif-browser-js visitors', () => {
  it('keep their ids stored in localStorage, old non-UUID formats included', () => {
    localStorage.setItem(KEYS.anonymousId, 'legacy-anon-1234');
    localStorage.setItem(KEYS.userId, 'user-from-moesif');
    localStorage.setItem(KEYS.companyId, 'company-from-moesif');
    localStorage.setItem(KEYS.sessionToken, 'session-from-moesif');
    const { moesif } = sdk.start();
    // The anonymous id first: the whole set is restored to cookies at once, whichever is read first.
    expect(moesif.getAnonymousId()).toBe('legacy-anon-1234');
    expect(moesif.getUserId()).toBe('user-from-moesif');
    expect(moesif.getCompanyId()).toBe('company-from-moesif');
    expect(moesif.getSessionToken()).toBe('session-from-moesif');
  });

  it('keep their ids stored in cookies', () => {
    setCookie(KEYS.anonymousId, 'cookie-anon-99');
    setCookie(KEYS.userId, 'cookie-user');
    const { moesif } = sdk.start({ persistence: 'cookie' });
    expect(moesif.getAnonymousId()).toBe('cookie-anon-99');
    expect(moesif.getUserId()).toBe('cookie-user');
  });

  it('keep their first-touch campaign, sent with the next identifyUser', async () => {
    // Where moesif-browser-js keeps it: a cookie on the site's domain, mirrored in localStorage.
    setCookie(KEYS.campaign, JSON.stringify({ utm_source: 'legacy', gclid: 'G0' }));
    localStorage.setItem(KEYS.campaign, JSON.stringify({ utm_source: 'legacy', gclid: 'G0' }));
    const { moesif, applicationId } = sdk.start();
    moesif.identifyUser('u1');
    await moesif.flush();
    const users = sdk.collector.items(applicationId, '/v1/users/batch');
    expect(users).toHaveLength(1);
    expect(users[0].campaign).toEqual({ utm_source: 'legacy', gclid: 'G0' });
  });

  // moesif-browser-js keeps the first touch twice, for the user (moesif_campaign_data) and the company
  // (moesif_campaign_company), and empties each once it has sent it: a visitor identified as a user
  // but not yet as a company has it only under the company's key.
  it('keep the first touch moesif kept for their company, sent with the next identifyCompany', async () => {
    const firstTouch = JSON.stringify({ utm_source: 'legacy', gclid: 'G0' });
    for (const [key, value] of [[KEYS.campaign, ''], ['moesif_campaign_company', firstTouch]]) {
      setCookie(key, value);
      localStorage.setItem(key, value);
    }
    const { moesif, applicationId } = sdk.start();
    moesif.identifyCompany('c1');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/companies/batch')).toEqual([{ company_id: 'c1', campaign: { utm_source: 'legacy', gclid: 'G0' } }]);
  });

  // What moesif's own reset() removed: its company campaign, and (1.10) the calls it held for consent,
  // which carry the app's metadata. Left behind, they outlive the log-out and an opt-out.
  it.each([
    ['reset()', (moesif: ReturnType<typeof sdk.start>['moesif']) => moesif.reset()],
    ['revokePublishingConsent()', (moesif: ReturnType<typeof sdk.start>['moesif']) => moesif.revokePublishingConsent()],
  ])('%s also removes what moesif kept that usertrail does not use', (_name, call) => {
    setCookie('moesif_campaign_company', JSON.stringify({ utm_source: 'legacy' }));
    localStorage.setItem('moesif_campaign_company', JSON.stringify({ utm_source: 'legacy' }));
    localStorage.setItem('moesif_pending_requests', JSON.stringify([{ type: 'batch', data: { action_name: 'Held', metadata: { email: 'a@example.com' } } }]));
    const { moesif } = sdk.start();
    call(moesif);
    expect(cookies()).not.toHaveProperty('moesif_campaign_company');
    expect(localStorage.getItem('moesif_campaign_company')).toBeNull();
    expect(localStorage.getItem('moesif_pending_requests')).toBeNull();
  });

  it('are found under persistenceKeyPrefix, which replaces the moesif_ prefix', () => {
    localStorage.setItem('acme_anonymous_id', 'prefixed-anon');
    localStorage.setItem('acme_stored_user_id', 'prefixed-user');
    localStorage.setItem(KEYS.anonymousId, 'unprefixed-anon');
    const { moesif } = sdk.start({ persistenceKeyPrefix: 'acme_' });
    expect(moesif.getUserId()).toBe('prefixed-user');
    expect(moesif.getAnonymousId()).toBe('prefixed-anon');
    moesif.identifyCompany('c1');
    expect(localStorage.getItem('acme_stored_company_id')).toBe('c1');
    expect(cookies()).toMatchObject({ acme_anonymous_id: 'prefixed-anon', acme_stored_company_id: 'c1' });
    expect(localStorage.getItem(KEYS.companyId)).toBeNull();
  });

  it("moesif.new(): a second instance shares the stored ids, unless given a persistenceKeyPrefix of its own (moesif's README: for running multiple instances)", () => {
    const first = sdk.start().moesif;
    const shared = first.new();
    shared.init({ applicationId: 'shared', host: sdk.collector.url });
    const apart = first.new();
    apart.init({ applicationId: 'apart', host: sdk.collector.url, persistenceKeyPrefix: 'second_' });
    first.identifyUser('u1');
    expect([shared.getUserId(), shared.getAnonymousId()]).toEqual(['u1', first.getAnonymousId()]);
    expect(apart.getUserId()).toBeUndefined();
    expect(apart.getAnonymousId()).not.toBe(first.getAnonymousId());
    apart.reset();
    expect(first.getUserId()).toBe('u1');
  });
});

describe('a stored anonymous id that no SDK made', () => {
  // What a hand-edited cookie, a browser extension or another script on the site could leave.
  const TAMPERED = [
    ['10 KB of hex digits and dashes, in localStorage', 'localStorage', 'a1-'.repeat(3_400)],
    ['201 characters, in a cookie', 'cookie', 'b'.repeat(201)],
    ['a control character, in a cookie', 'cookie', 'c0ffee-\u0007-beef'],
    ['a line break, in localStorage', 'localStorage', 'c0ffee\nSet-Cookie: x=1'],
    ['a right-to-left override, in a cookie', 'cookie', 'c0ffee-\u202e-beef'],
    ['a space, in localStorage', 'localStorage', 'c0ffee beef'],
  ] as const;

  it.each(TAMPERED)('is replaced by a new one, stored and sent, with one warning that does not show it (%s)', async (_name, where, value) => {
    if (where == 'cookie') setCookie(KEYS.anonymousId, value);
    else localStorage.setItem(KEYS.anonymousId, value);
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start();
    const id = moesif.getAnonymousId();
    expect(id).toMatch(UUID_V4);
    moesif.track('After the tampered id');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.anonymous_id)).toEqual([id]);
    expect(cookies()[KEYS.anonymousId]).toBe(id);
    expect(localStorage.getItem(KEYS.anonymousId)).toBe(id);
    const warnings = messages(console.warn);
    expect(warnings).toContain('[usertrail] stored anonymous id is malformed: replaced with a new one');
    expect(warnings.filter((warning) => warning.includes('anonymous id'))).toHaveLength(1);
    expect(warnings.join('\n')).not.toContain(value.slice(0, 6));
    // The next page load keeps the new id, without a word.
    expect(sdk.start().moesif.getAnonymousId()).toBe(id);
    expect(messages(console.warn).filter((warning) => warning.includes('anonymous id'))).toHaveLength(1);
  });

  it('is not taken for a moesif-browser-js 1.8.13 id: ids made by its _.UUID() are kept', () => {
    // The real moesif-browser-js, in a page of its own: each load makes an id, as a first visit does.
    const made = Array.from({ length: 20 }, () => {
      const dom = new JSDOM('<!doctype html>', { url: 'http://app.example.test/', runScripts: 'outside-only' });
      dom.window.eval(MOESIF_JS);
      dom.window.eval("moesif.init({ applicationId: 'x' })");
      const id = dom.window.eval('moesif._anonymousId') as string;
      dom.window.close();
      return id;
    });
    for (const id of made) {
      expect(id).toMatch(/^[0-9a-f]+(-[0-9a-f]+){3}$/);
      clearCookies();
      localStorage.setItem(KEYS.anonymousId, id);
      expect(sdk.start().moesif.getAnonymousId()).toBe(id);
    }
  });
});

describe('the cookie is the source of truth, localStorage its mirror', () => {
  it('a cookie value beats a different, stale localStorage value, which is resynced', () => {
    setCookie(KEYS.anonymousId, 'fresh-from-cookie');
    setCookie(KEYS.userId, 'cookie-user');
    localStorage.setItem(KEYS.anonymousId, 'stale-local');
    localStorage.setItem(KEYS.userId, 'stale-user');
    const { moesif } = sdk.start();
    expect(moesif.getAnonymousId()).toBe('fresh-from-cookie');
    expect(moesif.getUserId()).toBe('cookie-user');
    expect(localStorage.getItem(KEYS.anonymousId)).toBe('fresh-from-cookie');
    expect(localStorage.getItem(KEYS.userId)).toBe('cookie-user');
  });

  it('a user-id cookie removed on another subdomain is not restored from stale localStorage', async () => {
    setCookie(KEYS.anonymousId, 'shared-anon');
    localStorage.setItem(KEYS.anonymousId, 'shared-anon');
    localStorage.setItem(KEYS.userId, 'logged-out-user');
    const { moesif, applicationId } = sdk.start();
    expect(moesif.getUserId()).toBeUndefined();
    expect(cookies()).not.toHaveProperty(KEYS.userId);
    expect(localStorage.getItem(KEYS.userId)).toBeNull();
    moesif.track('Viewed');
    await moesif.flush();
    const [action] = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(action.anonymous_id).toBe('shared-anon');
    expect(action).not.toHaveProperty('user_id');
  });

  it('a reset() on another subdomain (new anonymous-id cookie, no user cookie) wins over this subdomain\'s localStorage', async () => {
    const { moesif } = sdk.start();
    moesif.identifyUser('u1');
    // Another subdomain logs out: it rewrites the shared cookies, and the visitor comes back to this page.
    removeCookie(KEYS.userId);
    setCookie(KEYS.anonymousId, 'new-anon-after-reset');
    document.dispatchEvent(new Event('visibilitychange'));
    expect(moesif.getUserId()).toBeUndefined();
    expect(moesif.getAnonymousId()).toBe('new-anon-after-reset');
    expect(localStorage.getItem(KEYS.anonymousId)).toBe('new-anon-after-reset');
  });

  it('when every cookie is gone (cleared or expired), localStorage restores them', async () => {
    localStorage.setItem(KEYS.anonymousId, 'kept-anon');
    localStorage.setItem(KEYS.userId, 'kept-user');
    localStorage.setItem(KEYS.companyId, 'kept-company');
    const { moesif, applicationId } = sdk.start();
    moesif.track('Returned');
    await moesif.flush();
    const [action] = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(action).toMatchObject({ user_id: 'kept-user', company_id: 'kept-company' });
    expect(moesif.getAnonymousId()).toBe('kept-anon');
    expect(cookies()).toMatchObject({ [KEYS.anonymousId]: 'kept-anon', [KEYS.userId]: 'kept-user', [KEYS.companyId]: 'kept-company' });
  });

  // Restoring the anonymous-id cookie alone would make the jar look "alive", and the user, company and
  // session ids read next would be taken as deliberately removed. A returning visitor whose cookies
  // expired (Safari ITP: 7 days) must keep them whichever id is read first.
  it('when every cookie is gone, localStorage restores all ids whichever is read first', () => {
    localStorage.setItem(KEYS.anonymousId, 'kept-anon');
    localStorage.setItem(KEYS.userId, 'kept-user');
    const { moesif } = sdk.start();
    expect(moesif.getAnonymousId()).toBe('kept-anon');
    expect(moesif.getUserId()).toBe('kept-user');
    expect(cookies()).toMatchObject({ [KEYS.anonymousId]: 'kept-anon', [KEYS.userId]: 'kept-user' });
  });
});

describe('what each persistence writes', () => {
  it("persistence 'none' writes no cookie and no localStorage, and keeps ids for this page view only", async () => {
    const { moesif } = sdk.start({ persistence: 'none' });
    history.replaceState(null, '', '/?utm_source=ignored');
    moesif.identifyUser('u1');
    moesif.identifyCompany('c1');
    moesif.identifySession('s1');
    moesif.track('Clicked');
    const id = moesif.getAnonymousId();
    expect(id).toMatch(UUID_V4);
    expect(moesif.getUserId()).toBe('u1');
    await Promise.resolve();
    expect(moesifKeysIn(Object.keys(cookies()))).toEqual([]);
    expect(document.cookie).toBe('');
    expect(localKeys()).toEqual([]);
    await moesif.flush();
    expect(localKeys()).toEqual([]);
    const nextPage = sdk.start({ persistence: 'none' }).moesif;
    expect(nextPage.getAnonymousId()).not.toBe(id);
    expect(nextPage.getUserId()).toBeUndefined();
  });

  it("persistence 'none' also ignores ids left by earlier visits", () => {
    localStorage.setItem(KEYS.userId, 'old-user');
    setCookie(KEYS.anonymousId, 'old-anon');
    const { moesif } = sdk.start({ persistence: 'none' });
    expect(moesif.getUserId()).toBeUndefined();
    expect(moesif.getAnonymousId()).not.toBe('old-anon');
  });

  it("persistence 'cookie' writes the ids to cookies and none to localStorage", () => {
    const { moesif } = sdk.start({ persistence: 'cookie' });
    moesif.identifyUser('u1');
    moesif.identifyCompany('c1');
    moesif.identifySession('s1');
    const id = moesif.getAnonymousId();
    expect(cookies()).toMatchObject({ [KEYS.anonymousId]: id, [KEYS.userId]: 'u1', [KEYS.companyId]: 'c1', [KEYS.sessionToken]: 's1' });
    for (const key of [KEYS.anonymousId, KEYS.userId, KEYS.companyId, KEYS.sessionToken]) {
      expect(localStorage.getItem(key), key).toBeNull();
    }
  });

  it.each([
    ['cookie', true],
    ['none', false],
  ] as const)("persistence '%s': an action unsent when the page hides waits in localStorage for the next page: %s", (persistence, stored) => {
    // The README's promise: with 'cookie' only the ids leave localStorage (moesif keeps its batches there
    // too), so events still wait there for the next page; with 'none' nothing is stored.
    const applicationId = `outbox-${persistence}-${process.pid}`;
    const moesif = sdk.fresh();
    moesif.init({ applicationId, host: 'http://127.0.0.1:9', persistence });
    moesif.track('Waiting');
    window.dispatchEvent(new Event('pagehide'));
    expect(localKeys().some((key) => key.startsWith(`usertrail:v4:outbox:${applicationId}:`))).toBe(stored);
  });

  it("persistence 'localStorage' (the default) mirrors the ids in localStorage", () => {
    const { moesif } = sdk.start();
    moesif.identifyUser('u1');
    expect(localStorage.getItem(KEYS.anonymousId)).toBe(moesif.getAnonymousId());
    expect(localStorage.getItem(KEYS.userId)).toBe('u1');
  });

  it('crossSubdomainCookie false writes host-only cookies', () => {
    const { moesif } = sdk.start({ crossSubdomainCookie: false });
    const id = moesif.getAnonymousId()!;
    // A host-only cookie is removed by a write without a domain; a domain cookie would survive it.
    document.cookie = `${KEYS.anonymousId}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`;
    expect(cookies()).not.toHaveProperty(KEYS.anonymousId);
    expect(id).toMatch(UUID_V4);
  });
});

// Browsers refuse a cookie whose name and value pass 4,096 bytes, silently, and keep the old one;
// jsdom takes any size, so these tests refuse such cookies as Chromium does.
describe('an id too long for a cookie (a JWT session token with many claims)', () => {
  const setter = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!.set!;
  const refuseLongCookies = () =>
    vi.spyOn(document, 'cookie', 'set').mockImplementation((line: string) => void (line.split(';')[0].length <= 4097 && setter.call(document, line)));
  const bigToken = 'eyJhbGciOiJIUzI1NiJ9.' + 'x'.repeat(5000) + '.signature';
  /** A page of a visitor the SDK already knows: the anonymous-id cookie is there, so the jar is alive. */
  const visit = (options: Partial<Options> = {}) => {
    const started = sdk.start(options);
    started.moesif.getAnonymousId();
    return started;
  };

  it('is kept, over an older one, for this page and the next, with one warning that does not show it', async () => {
    refuseLongCookies();
    const console = spyConsole();
    const { moesif, applicationId } = visit();
    moesif.identifySession('small-old-token');
    moesif.identifySession(bigToken);
    moesif.identifySession(bigToken + '2');
    expect(moesif.getSessionToken()).toBe(bigToken + '2');
    expect(cookies()[KEYS.sessionToken]).not.toBe('small-old-token');
    moesif.track('Clicked');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')[0].session_token).toBe(bigToken + '2');
    expect(messages(console.warn)).toEqual(['[usertrail] id over 4 KB or not valid Unicode: kept for this origin only']);
    const reloaded = visit().moesif;
    expect(reloaded.getSessionToken()).toBe(bigToken + '2');
    // A short one after it goes back to the cookie.
    reloaded.identifySession('small-new-token');
    expect(cookies()[KEYS.sessionToken]).toBe('small-new-token');
    expect(visit().moesif.getSessionToken()).toBe('small-new-token');
  });

  it('is kept when no earlier cookie exists, also for a user id, and is removed by reset()', () => {
    refuseLongCookies();
    const { moesif } = visit();
    moesif.identifySession(bigToken);
    moesif.identifyUser('u'.repeat(5000));
    expect([moesif.getSessionToken(), moesif.getUserId()]).toEqual([bigToken, 'u'.repeat(5000)]);
    expect(visit().moesif.getUserId()).toBe('u'.repeat(5000));
    moesif.reset();
    expect([moesif.getSessionToken(), moesif.getUserId()]).toEqual([undefined, undefined]);
    expect(visit().moesif.getSessionToken()).toBeUndefined();
  });

  it("with persistence 'cookie' is kept in memory for this page", () => {
    refuseLongCookies();
    const { moesif } = visit({ persistence: 'cookie' });
    moesif.identifySession('small-old-token');
    moesif.identifySession(bigToken);
    expect(moesif.getSessionToken()).toBe(bigToken);
    expect(visit({ persistence: 'cookie' }).moesif.getSessionToken()).toBeUndefined();
  });

  it('is restored with the others when every cookie is gone', () => {
    refuseLongCookies();
    visit().moesif.identifySession(bigToken);
    clearCookies();
    const { moesif } = sdk.start();
    expect(moesif.getSessionToken()).toBe(bigToken);
    expect(cookies()).toHaveProperty(KEYS.anonymousId);
    expect(visit().moesif.getSessionToken()).toBe(bigToken);
  });

  it("is not replaced by an older, shorter value in another subdomain's localStorage", () => {
    refuseLongCookies();
    visit().moesif.identifySession(bigToken);
    // This origin's localStorage as another subdomain's would be: it mirrored the older cookie.
    localStorage.setItem(KEYS.sessionToken, 'small-old-token');
    expect(visit().moesif.getSessionToken()).toBeUndefined();
    expect(localStorage.getItem(KEYS.sessionToken)).toBeNull();
  });
});
