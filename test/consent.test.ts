import { describe, expect, it } from 'vitest';
import { cookies, KEYS, localKeys, messages, setCookie, spyConsole, useSdk } from './support/page';

const sdk = useSdk();

/** Ids an earlier visit stored, before the site asked for consent (or under moesif-browser-js). */
const storeEarlierVisit = (): void => {
  setCookie(KEYS.anonymousId, 'old-anon');
  setCookie(KEYS.userId, 'old-user');
  localStorage.setItem(KEYS.anonymousId, 'old-anon');
  localStorage.setItem(KEYS.userId, 'old-user');
};

const withNavigator = (name: 'doNotTrack' | 'globalPrivacyControl', value: unknown, run: () => void): void => {
  Object.defineProperty(navigator, name, { configurable: true, get: () => value });
  try {
    run();
  } finally {
    delete (navigator as unknown as Record<string, unknown>)[name];
  }
};

describe('consent pending, with ids an earlier visit stored', () => {
  it('a returning visitor stays the earlier visit after the grant, and what the page kept while pending is sent under its anonymous id', async () => {
    storeEarlierVisit();
    const { moesif, applicationId } = sdk.start({ requirePublishingConsent: true });
    // While pending the stored ids are not read: the page works under an id of its own.
    const pendingId = moesif.getAnonymousId();
    expect(pendingId).not.toBe('old-anon');
    moesif.track('Read the pricing page');
    moesif.identifyCompany('acme');
    moesif.grantPublishingConsent();
    expect([moesif.getAnonymousId(), moesif.getUserId(), moesif.getCompanyId()]).toEqual(['old-anon', 'old-user', 'acme']);
    expect([cookies()[KEYS.anonymousId], cookies()[KEYS.userId]]).toEqual(['old-anon', 'old-user']);
    await moesif.flush();
    const sent = [...sdk.collector.items(applicationId, '/v1/actions/batch'), ...sdk.collector.items(applicationId, '/v1/users/batch')];
    expect(sent.map((item) => item.anonymous_id)).toEqual(['old-anon', 'old-anon']);
    expect(JSON.stringify(sdk.collector.requests)).not.toContain(pendingId);
  });

  it("another user signing in while pending: the identity after the grant is the page's, never a mix of both", () => {
    storeEarlierVisit();
    const { moesif } = sdk.start({ requirePublishingConsent: true });
    moesif.identifyUser('new-user');
    const pending = moesif.getAnonymousId();
    moesif.grantPublishingConsent();
    expect([moesif.getAnonymousId(), moesif.getUserId()]).toEqual([pending, 'new-user']);
    expect(cookies()[KEYS.anonymousId]).toBe(pending);
  });

  it('reset() while pending, then a grant: the old user does not come back', () => {
    storeEarlierVisit();
    const { moesif } = sdk.start({ requirePublishingConsent: true });
    moesif.reset();
    moesif.grantPublishingConsent();
    expect(moesif.getUserId()).toBeUndefined();
  });

  it('a grant before anything was tracked keeps the stored ids whole', () => {
    storeEarlierVisit();
    const { moesif } = sdk.start({ requirePublishingConsent: true });
    moesif.grantPublishingConsent();
    expect([moesif.getAnonymousId(), moesif.getUserId()]).toEqual(['old-anon', 'old-user']);
  });
});

describe('a visitor who opts out', () => {
  it.each([
    ['Do Not Track', 'doNotTrack', '1'],
    ['Global Privacy Control', 'globalPrivacyControl', true],
  ] as const)('with respectDoNotTrack and %s: ids stored by earlier visits are removed, and no decision is stored', (_, name, value) => {
    withNavigator(name, value, () => {
      storeEarlierVisit();
      const { moesif } = sdk.start({ respectDoNotTrack: true });
      moesif.track('Never sent');
      expect({ cookies: Object.keys(cookies()), local: localKeys() }).toEqual({ cookies: [], local: [] });
      expect(moesif.isPublishingConsentGranted()).toBe(false);
    });
  });

  it.each([
    ['Do Not Track', 'doNotTrack', '1'],
    ['Global Privacy Control', 'globalPrivacyControl', true],
  ] as const)('without respectDoNotTrack (the default), %s is no refusal: the ids earlier visits stored are kept', (_, name, value) => {
    withNavigator(name, value, () => {
      storeEarlierVisit();
      const { moesif } = sdk.start();
      expect(moesif.isPublishingConsentGranted()).toBe(true);
      expect(moesif.getAnonymousId()).toBe('old-anon');
    });
  });

  it('a stored refusal removes, at the next load, the ids and queues earlier visits left', () => {
    storeEarlierVisit();
    const applicationId = 'refused-app';
    localStorage.setItem(`usertrail:v3:outbox:${applicationId}:earlier-tab`, JSON.stringify([0, [{ kind: 'actions', json: {}, at: Date.now() }]]));
    localStorage.setItem('unrelated', 'kept');
    setCookie('usertrail_consent', 'revoked', undefined);
    const { moesif } = sdk.start({ applicationId });
    moesif.track('Never sent');
    expect(Object.keys(cookies())).toEqual(['usertrail_consent']);
    expect(localKeys().sort()).toEqual(['unrelated', 'usertrail_consent']);
  });

  it('revoking while pending removes what earlier visits stored', () => {
    storeEarlierVisit();
    const { moesif } = sdk.start({ requirePublishingConsent: true });
    moesif.revokePublishingConsent();
    expect(Object.keys(cookies())).toEqual(['usertrail_consent']);
    expect(localKeys().filter((key) => key.startsWith('moesif_'))).toEqual([]);
  });
});

describe('a consent cookie with a value the SDK never writes (tampered)', () => {
  it('is no decision, at load and at every later call: without requirePublishingConsent the visitor stays granted', async () => {
    setCookie('usertrail_consent', 'yes', undefined);
    const { moesif, applicationId } = sdk.start();
    expect(moesif.isPublishingConsentGranted()).toBe(true);
    moesif.track('Sent');
    expect(moesif.isPublishingConsentGranted()).toBe(true);
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.action_name)).toEqual(['Sent']);
  });

  it('is no decision with requirePublishingConsent: the page waits for one, storing and sending nothing until the grant', async () => {
    setCookie('usertrail_consent', 'GRANTED', undefined);
    const { moesif, applicationId } = sdk.start({ requirePublishingConsent: true });
    moesif.identifyUser('u1');
    moesif.track('Kept while pending');
    expect(moesif.isPublishingConsentGranted()).toBe(false);
    await moesif.flush();
    expect(sdk.collector.from(applicationId)).toEqual([]);
    expect(cookies()).toEqual({ usertrail_consent: 'GRANTED' });
    moesif.grantPublishingConsent();
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => action.action_name)).toEqual(['Kept while pending']);
  });
});

describe('a decision made in another tab of the site', () => {
  it('a revoke there stops this tab at its next call: nothing sent, no id written back', async () => {
    const tabA = sdk.start();
    const tabB = sdk.start();
    tabA.moesif.identifyUser('u1');
    tabA.moesif.revokePublishingConsent();
    tabB.moesif.identifyCompany('c1');
    tabB.moesif.track('After the revoke elsewhere');
    await tabB.moesif.flush();
    expect(Object.keys(cookies())).toEqual(['usertrail_consent']);
    expect(sdk.collector.items(tabB.applicationId, '/v1/actions/batch')).toEqual([]);
    expect(tabB.moesif.isPublishingConsentGranted()).toBe(false);
  });

  it('a grant there starts this pending tab, with what it kept so far', async () => {
    const tabA = sdk.start({ requirePublishingConsent: true });
    const tabB = sdk.start({ requirePublishingConsent: true });
    tabB.moesif.track('Kept while pending');
    tabA.moesif.grantPublishingConsent();
    expect(tabB.moesif.isPublishingConsentGranted()).toBe(true);
    await tabB.moesif.flush();
    expect(sdk.collector.items(tabB.applicationId, '/v1/actions/batch').map((action) => action.action_name)).toEqual(['Kept while pending']);
  });
});

describe('start() and stop() through a refusal', () => {
  it('stop(), a revoke, start(), a grant: the automatic page views that stop() paused are back', async () => {
    const { moesif, applicationId } = sdk.start({ trackPageViews: true });
    moesif.stop();
    moesif.revokePublishingConsent();
    moesif.start();
    moesif.grantPublishingConsent();
    history.pushState(null, '', '/after-the-grant');
    // The view leaves once the route sets its title.
    document.title = 'After the grant';
    await Promise.resolve();
    await moesif.flush();
    const views = sdk.collector.items(applicationId, '/v1/actions/batch').filter((action) => action.action_name == 'Page View');
    expect(views.map((view) => (view.metadata as { pathname: string }).pathname)).toContain('/after-the-grant');
  });
});

describe('while pending', () => {
  it('no cookie is ever written, not even the probe that finds the cookie domain', () => {
    const jar = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!;
    const written: string[] = [];
    Object.defineProperty(document, 'cookie', {
      configurable: true,
      get: () => jar.get!.call(document),
      set: (value: string) => (written.push(value), jar.set!.call(document, value)),
    });
    try {
      const { moesif } = sdk.start({ requirePublishingConsent: true });
      moesif.identifyUser('u1');
      moesif.track('Pending');
      expect(written).toEqual([]);
      moesif.grantPublishingConsent();
      expect(written.some((cookie) => cookie.startsWith('usertrail_probe='))).toBe(true);
    } finally {
      delete (document as { cookie?: string }).cookie;
    }
  });

  it('calls are kept in order up to the outbox limits, and what is dropped is counted and warned once', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start({ requirePublishingConsent: true, maxOutboxBytes: 20_000 });
    for (let n = 0; n < 500; n++) moesif.track('Pending', { n });
    moesif.grantPublishingConsent();
    await moesif.flush();
    const sent = sdk.collector.items(applicationId, '/v1/actions/batch').map((action) => (action.metadata as { n: number }).n);
    const stats = moesif.getStats()!;
    // The newest are kept, in order, and every one of the 500 is either sent or counted as dropped.
    expect(sent.length).toBeGreaterThan(0);
    expect(sent).toEqual(Array.from({ length: sent.length }, (_, index) => 500 - sent.length + index));
    expect(stats.dropped + sent.length).toBe(500);
    expect(messages(console.warn).filter((line) => line.includes('dropped'))).toHaveLength(1);
  });

  it('reset() keeps the decision', () => {
    const { moesif } = sdk.start({ requirePublishingConsent: true });
    moesif.grantPublishingConsent();
    moesif.reset();
    expect(moesif.isPublishingConsentGranted()).toBe(true);
    moesif.revokePublishingConsent();
    moesif.reset();
    expect(moesif.isPublishingConsentGranted()).toBe(false);
    expect(Object.keys(cookies())).toEqual(['usertrail_consent']);
  });
});
