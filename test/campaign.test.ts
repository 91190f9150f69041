import { afterEach, describe, expect, it, vi } from 'vitest';
import { readCampaign } from '../src/campaign';
import { cookies, KEYS, messages, spyConsole, useSdk } from './support/page';

const all = { disableUtm: false, disableReferrer: false, disableGclid: false };
const PAGE = 'https://app.acme.test/pricing';
const FULL = `${PAGE}?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=api+analytics&utm_content=hero&gclid=G1&fbclid=F1&msclkid=M1&other=x`;

describe('readCampaign', () => {
  it('reads the five utm parameters', () => {
    expect(readCampaign({ pageUrl: `${PAGE}?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=api+analytics&utm_content=hero`, referrer: '', switches: all })).toEqual({
      utm_source: 'news',
      utm_medium: 'email',
      utm_campaign: 'spring',
      utm_term: 'api analytics',
      utm_content: 'hero',
    });
  });

  it('reads the gclid, fbclid and msclkid click ids', () => {
    expect(readCampaign({ pageUrl: `${PAGE}?gclid=G1&fbclid=F1&msclkid=M1`, referrer: '', switches: all })).toEqual({ gclid: 'G1', fbclid: 'F1', msclkid: 'M1' });
  });

  it('ignores query parameters that are not campaign parameters, and empty ones', () => {
    expect(readCampaign({ pageUrl: `${PAGE}?ref=x&utm_source=&page=2&utm_medium=cpc`, referrer: '', switches: all })).toEqual({ utm_medium: 'cpc' });
  });

  it('records a referrer from another site with its domain', () => {
    expect(readCampaign({ pageUrl: PAGE, referrer: 'https://news.example.org/article?id=1', switches: all })).toEqual({
      referrer: 'https://news.example.org/article?id=1',
      referring_domain: 'news.example.org',
    });
  });

  it('records a referrer from another subdomain of the site, which is another origin', () => {
    expect(readCampaign({ pageUrl: PAGE, referrer: 'https://docs.acme.test/guide', switches: all })).toEqual({
      referrer: 'https://docs.acme.test/guide',
      referring_domain: 'docs.acme.test',
    });
  });

  it('does not record a same-origin referrer (navigation inside the site)', () => {
    expect(readCampaign({ pageUrl: PAGE, referrer: 'https://app.acme.test/home', switches: all })).toBeUndefined();
    expect(readCampaign({ pageUrl: `${PAGE}?utm_source=x`, referrer: 'https://app.acme.test/home', switches: all })).toEqual({ utm_source: 'x' });
  });

  it('treats another scheme or port as another origin', () => {
    expect(readCampaign({ pageUrl: PAGE, referrer: 'http://app.acme.test/home', switches: all })?.referring_domain).toBe('app.acme.test');
    // With its port, as moesif sends it.
    expect(readCampaign({ pageUrl: PAGE, referrer: 'https://app.acme.test:8443/home', switches: all })?.referring_domain).toBe('app.acme.test:8443');
  });

  it('disableUtm leaves out every utm parameter and nothing else', () => {
    const campaign = readCampaign({ pageUrl: FULL, referrer: 'https://news.example.org/', switches: { ...all, disableUtm: true } });
    expect(campaign).toEqual({ gclid: 'G1', fbclid: 'F1', msclkid: 'M1', referrer: 'https://news.example.org/', referring_domain: 'news.example.org' });
  });

  it('disableGclid leaves out every click id and nothing else', () => {
    const campaign = readCampaign({ pageUrl: FULL, referrer: 'https://news.example.org/', switches: { ...all, disableGclid: true } });
    expect(campaign).toEqual({
      utm_source: 'news',
      utm_medium: 'email',
      utm_campaign: 'spring',
      utm_term: 'api analytics',
      utm_content: 'hero',
      referrer: 'https://news.example.org/',
      referring_domain: 'news.example.org',
    });
  });

  it('disableReferrer leaves out the referrer and its domain', () => {
    const campaign = readCampaign({ pageUrl: FULL, referrer: 'https://news.example.org/', switches: { ...all, disableReferrer: true } });
    expect(campaign).not.toHaveProperty('referrer');
    expect(campaign).not.toHaveProperty('referring_domain');
    expect(campaign?.utm_source).toBe('news');
  });

  it('with every switch on, a fully tagged visit records nothing', () => {
    expect(readCampaign({ pageUrl: FULL, referrer: 'https://news.example.org/', switches: { disableUtm: true, disableReferrer: true, disableGclid: true } })).toBeUndefined();
  });

  it('returns undefined for a page without campaign parameters or referrer', () => {
    expect(readCampaign({ pageUrl: PAGE, referrer: '', switches: all })).toBeUndefined();
    expect(readCampaign({ pageUrl: `${PAGE}?page=2#utm_source=hash`, referrer: '', switches: all })).toBeUndefined();
  });

  it('returns undefined for a malformed page URL instead of throwing', () => {
    expect(readCampaign({ pageUrl: 'not a url?utm_source=x', referrer: 'https://news.example.org/', switches: all })).toBeUndefined();
    expect(readCampaign({ pageUrl: '', referrer: '', switches: all })).toBeUndefined();
  });

  it('ignores a malformed referrer but keeps the page parameters', () => {
    expect(readCampaign({ pageUrl: `${PAGE}?utm_source=x`, referrer: 'not a url', switches: all })).toEqual({ utm_source: 'x' });
    expect(readCampaign({ pageUrl: PAGE, referrer: '::::', switches: all })).toBeUndefined();
  });

  it('decodes percent-encoded values', () => {
    expect(readCampaign({ pageUrl: `${PAGE}?utm_campaign=black%20friday%20%E2%82%AC`, referrer: '', switches: all })).toEqual({ utm_campaign: 'black friday €' });
  });
});

// Google Analytics' (urchin's) campaign cookie: domain hash, time, session and campaign counts, then the fields.
const UTMZ = '173272373.1700000000.2.1.utmcsr=newsletter|utmccn=spring|utmcmd=email|utmctr=api%20analytics|utmcct=hero';

describe("readCampaign with Google Analytics' __utmz cookie, as moesif-browser-js reads it", () => {
  it('gives the five utm fields when the address has none', () => {
    expect(readCampaign({ pageUrl: PAGE, referrer: '', switches: all, gaCookie: UTMZ })).toEqual({
      utm_source: 'newsletter',
      utm_campaign: 'spring',
      utm_medium: 'email',
      utm_term: 'api analytics',
      utm_content: 'hero',
    });
  });

  it("field by field: a utm parameter of the address wins, the cookie's fills the others", () => {
    expect(readCampaign({ pageUrl: `${PAGE}?utm_source=ad&utm_medium=&gclid=G1`, referrer: '', switches: all, gaCookie: UTMZ })).toEqual({
      utm_source: 'ad',
      utm_medium: 'email',
      utm_campaign: 'spring',
      utm_term: 'api analytics',
      utm_content: 'hero',
      gclid: 'G1',
    });
  });

  it('is not read with disableUtm, and gives no click id', () => {
    expect(readCampaign({ pageUrl: PAGE, referrer: '', switches: { ...all, disableUtm: true }, gaCookie: UTMZ })).toBeUndefined();
    expect(readCampaign({ pageUrl: PAGE, referrer: '', switches: all, gaCookie: '1.2.3.4.gclid=G1|utmcsr=(direct)' })).toEqual({ utm_source: '(direct)' });
  });

  it("keeps a source with dots whole (moesif-browser-js reads from the last dot on, and loses it: 'com|utmccn=...')", () => {
    expect(readCampaign({ pageUrl: PAGE, referrer: '', switches: all, gaCookie: '1.2.1.1.utmcsr=news.example.org|utmccn=(referral)|utmcmd=referral|utmcct=/a.html' })).toEqual({
      utm_source: 'news.example.org',
      utm_campaign: '(referral)',
      utm_medium: 'referral',
      utm_content: '/a.html',
    });
  });

  it('a value with no fields, or malformed escapes, gives what it can and never throws', () => {
    expect(readCampaign({ pageUrl: PAGE, referrer: '', switches: all, gaCookie: '' })).toBeUndefined();
    expect(readCampaign({ pageUrl: PAGE, referrer: '', switches: all, gaCookie: 'garbage' })).toBeUndefined();
    expect(readCampaign({ pageUrl: PAGE, referrer: '', switches: all, gaCookie: '1.2.3.4.utmcsr=%E0%A4%A|utmcmd=cpc' })).toMatchObject({ utm_medium: 'cpc' });
  });
});

describe('the __utmz cookie at init()', () => {
  const sdk = useSdk();

  it("gives the first-touch campaign when the landing address has no utm parameter, sent with the visitor's users call", async () => {
    document.cookie = `__utmz=${UTMZ}; path=/`;
    try {
      const { moesif, applicationId } = sdk.start();
      moesif.identifyUser('u-ga');
      await moesif.flush();
      const users = sdk.collector.items(applicationId, '/v1/users/batch');
      expect(users.at(-1)).toMatchObject({ user_id: 'u-ga', campaign: { utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring' } });
    } finally {
      document.cookie = '__utmz=; max-age=0; path=/';
    }
  });
});

// Issue 17: a visitor lands on docs.example.test from an ad and signs up on app.example.test. The two
// subdomains share `.example.test` cookies but not localStorage. jsdom has one origin
// (app.example.test), so "the other subdomain" is this origin with its localStorage emptied: what
// the first page left in localStorage, the other subdomain would not see.
describe('the first-touch campaign across the subdomains of a site', () => {
  const sdk = useSdk();
  const arriveFrom = (referrer: string): void => void Object.defineProperty(document, 'referrer', { value: referrer, configurable: true });
  afterEach(() => {
    delete (document as { referrer?: string }).referrer;
  });
  const google = { utm_source: 'google', utm_medium: 'cpc', gclid: 'Cj0KCQ-ad-click', referrer: 'https://www.google.com/', referring_domain: 'www.google.com' };
  /** The landing page on docs: an ad click from Google. */
  const landFromGoogle = () => {
    history.replaceState(null, '', '/docs/?utm_source=google&utm_medium=cpc&gclid=Cj0KCQ-ad-click');
    arriveFrom('https://www.google.com/');
    const landing = sdk.start();
    delete (document as { referrer?: string }).referrer;
    return landing;
  };
  /** A page of the site's other subdomain: the same cookie jar, its own (empty) localStorage. */
  const onOtherSubdomain = (path = '/signup', options = {}) => {
    localStorage.clear();
    history.replaceState(null, '', path);
    return sdk.start(options);
  };
  const sent = async (started: { moesif: { flush(): Promise<void> }; applicationId: string }) => {
    await started.moesif.flush();
    return { users: sdk.collector.items(started.applicationId, '/v1/users/batch'), companies: sdk.collector.items(started.applicationId, '/v1/companies/batch') };
  };

  it('is kept in a cookie on the site domain, SameSite=Lax, that every subdomain reads', () => {
    const written = vi.spyOn(document, 'cookie', 'set');
    landFromGoogle();
    // The write that stores it (the writes before it remove older cookies of that name that would hide it).
    const line = written.mock.calls.map(([value]) => String(value)).find((value) => value.startsWith(KEYS.campaign + '=') && value.includes('max-age='));
    expect(line).toMatch(/;\s*domain=example\.test(;|$)/i);
    expect(line).toMatch(/;\s*samesite=lax(;|$)/i);
    // http here; on https (or with secureCookie) it is Secure, as the ids are.
    expect(line).not.toMatch(/;\s*secure(;|$)/i);
    expect(JSON.parse(cookies()[KEYS.campaign])).toEqual(google);
  });

  it('identifyUser() and identifyCompany() on another subdomain send it', async () => {
    const landing = landFromGoogle();
    const anonymousId = landing.moesif.getAnonymousId();
    expect((await sent(landing)).users).toEqual([{ anonymous_id: anonymousId, campaign: google }]);

    const app = onOtherSubdomain();
    app.moesif.identifyUser('u1', { email: 'ada@acme.example' });
    app.moesif.identifyCompany('c1');
    const { users, companies } = await sent(app);
    // Nothing new on the page load itself: the first touch was already reported, from docs.
    expect(users).toEqual([
      { user_id: 'u1', anonymous_id: anonymousId, metadata: { email: 'ada@acme.example' }, campaign: google },
      { user_id: 'u1', anonymous_id: anonymousId, company_id: 'c1', campaign: google },
    ]);
    expect(companies).toEqual([{ company_id: 'c1', campaign: google }]);
  });

  it('the first touch wins: a later tagged visit on another subdomain neither replaces nor reports its own', async () => {
    landFromGoogle();
    const app = onOtherSubdomain('/pricing?utm_source=bing&msclkid=M2');
    app.moesif.identifyUser('u1');
    const { users } = await sent(app);
    expect(users).toHaveLength(1);
    expect(users[0].campaign).toEqual(google);
    expect(JSON.parse(cookies()[KEYS.campaign])).toEqual(google);
  });

  it('reset() on one subdomain forgets it on all: the stale copy in the other subdomain\'s localStorage is not sent', async () => {
    landFromGoogle();
    const stale = localStorage.getItem(KEYS.campaign);
    expect(JSON.parse(stale!)).toEqual(google);
    const app = onOtherSubdomain();
    app.moesif.reset();
    expect(cookies()).not.toHaveProperty(KEYS.campaign);
    // Back on docs, whose localStorage still mirrors the campaign.
    localStorage.setItem(KEYS.campaign, stale!);
    history.replaceState(null, '', '/docs/');
    const docs = sdk.start();
    docs.moesif.identifyUser('u2');
    const { users } = await sent(docs);
    expect(users).toHaveLength(1);
    expect(users[0]).not.toHaveProperty('campaign');
    expect(localStorage.getItem(KEYS.campaign)).toBeNull();
  });

  it('with persistence "cookie" it is in the cookie only', async () => {
    history.replaceState(null, '', '/docs/?utm_source=google');
    sdk.start({ persistence: 'cookie' });
    expect(JSON.parse(cookies()[KEYS.campaign])).toEqual({ utm_source: 'google' });
    expect(localStorage.getItem(KEYS.campaign)).toBeNull();
    const app = onOtherSubdomain('/signup', { persistence: 'cookie' });
    app.moesif.identifyUser('u1');
    expect((await sent(app)).users[0].campaign).toEqual({ utm_source: 'google' });
  });

  it('waits for consent like the ids: no cookie before the grant, the campaign of the landing page after it', async () => {
    history.replaceState(null, '', '/docs/?utm_source=google');
    const { moesif } = sdk.start({ requirePublishingConsent: true });
    expect(cookies()).not.toHaveProperty(KEYS.campaign);
    history.replaceState(null, '', '/docs/next');
    moesif.grantPublishingConsent();
    expect(JSON.parse(cookies()[KEYS.campaign])).toEqual({ utm_source: 'google' });
  });

  it('a campaign moesif-browser-js left in its cookie on another subdomain is sent', async () => {
    // moesif-browser-js 1.8.13 writes both to cookies on `.example.test` (URI-encoded JSON), as usertrail does.
    document.cookie = `${KEYS.anonymousId}=moesif-anon; path=/; domain=.example.test`;
    document.cookie = `${KEYS.campaign}=${encodeURIComponent(JSON.stringify({ utm_source: 'legacy', gclid: 'G0' }))}; path=/; domain=.example.test`;
    const app = onOtherSubdomain();
    app.moesif.identifyUser('u1');
    expect((await sent(app)).users).toEqual([{ user_id: 'u1', anonymous_id: 'moesif-anon', campaign: { utm_source: 'legacy', gclid: 'G0' } }]);
  });

  // Browsers refuse a cookie whose name and value pass 4,096 bytes, silently; jsdom takes any size.
  it('one too long for a cookie is kept for its own subdomain, as a long id is, with one warning', async () => {
    const setter = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!.set!;
    vi.spyOn(document, 'cookie', 'set').mockImplementation((line: string) => void (line.split(';')[0].length <= 4097 && setter.call(document, line)));
    const console = spyConsole();
    const long = 'x'.repeat(5000);
    history.replaceState(null, '', `/docs/?utm_source=google&utm_content=${long}`);
    const landing = sdk.start();
    expect(cookies()[KEYS.campaign]).toBe('');
    expect(messages(console.warn)).toHaveLength(1);
    history.replaceState(null, '', '/docs/next');
    const next = sdk.start();
    next.moesif.identifyUser('u1');
    expect((await sent(next)).users[0].campaign).toEqual({ utm_source: 'google', utm_content: long });
    await landing.moesif.flush();
  });
});
