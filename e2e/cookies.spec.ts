import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import type { Moesif } from '../src/moesif';
import { startRecorder, umdPage, type Recorder } from './support/recorder';

declare global {
  // The UMD build's global, which page.evaluate() bodies call.
  interface Window {
    moesif: Moesif;
  }
}

/** The attributes the browser really stored for the SDK's cookies, as Chromium reports them. */
let collector: Recorder;
test.beforeAll(async () => {
  collector = await startRecorder();
});
test.afterAll(async () => {
  await collector.close();
});

const anonymousIdCookie = async (context: BrowserContext) => (await context.cookies()).find((cookie) => cookie.name == 'moesif_anonymous_id');

const openWith = async (context: BrowserContext, origin: string, options = '') => {
  const path = `/cookies-${Math.random().toString(36).slice(2)}`;
  collector.page(path, umdPage(`moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:${collector.port}', batchMaxTime: 50 ${options} }); moesif.track('Visit');`));
  const page = await context.newPage();
  await page.goto(origin + path);
  await expect.poll(() => anonymousIdCookie(context)).toBeTruthy();
  return page;
};

test('by default the id cookie is on the widest domain the site allows, SameSite=Lax, not Secure on http, for 365 days', async ({ context }) => {
  await openWith(context, collector.at('app.example.test'));
  const cookie = (await anonymousIdCookie(context))!;
  expect(cookie).toMatchObject({ domain: '.example.test', path: '/', sameSite: 'Lax', secure: false, httpOnly: false });
  const days = (cookie.expires - Date.now() / 1000) / 86_400;
  expect(days).toBeGreaterThan(364);
  expect(days).toBeLessThan(366);
  expect((await context.cookies()).map((c) => c.name)).not.toContain('usertrail_probe');
});

test("two windows of one site side by side: one's identifyUser reaches the other's events, with no switch between them", async ({ context }) => {
  const first = await openWith(context, collector.at('app.example.test'));
  const second = await openWith(context, collector.at('app.example.test'));
  await first.evaluate(() => window.moesif.identifyUser('u-side-by-side'));
  // The second window rereads its cookie jar within a second (no storage event is listened to: see cookie-store.ts).
  await expect
    .poll(
      async () => {
        await second.evaluate(() => {
          window.moesif.track('In the second window');
          return window.moesif.flush();
        });
        return collector.items('actions').some((action) => action.action_name == 'In the second window' && action.user_id == 'u-side-by-side');
      },
      { timeout: 5_000 },
    )
    .toBe(true);
});

test('under a public suffix (acme.github.io) the probe settles on the site itself, never on github.io', async ({ context }) => {
  await openWith(context, collector.at('acme.github.io'));
  expect(await anonymousIdCookie(context)).toMatchObject({ domain: '.acme.github.io', sameSite: 'Lax' });
  expect((await context.cookies()).map((c) => c.name)).not.toContain('usertrail_probe');
});

test('crossSubdomainCookie: false keeps a host-only cookie; cookieDomain and cookieExpiration are used as given', async ({ context }) => {
  await openWith(context, collector.at('app.example.test'), ", crossSubdomainCookie: false, cookieExpiration: 2");
  const hostOnly = (await anonymousIdCookie(context))!;
  expect(hostOnly.domain).toBe('app.example.test');
  expect((hostOnly.expires - Date.now() / 1000) / 86_400).toBeCloseTo(2, 1);
  await context.clearCookies();
  await openWith(context, collector.at('app.example.test'), ", crossSubdomainCookie: false, cookieDomain: 'example.test'");
  expect((await anonymousIdCookie(context))!.domain).toBe('.example.test');
});

test('crossSiteCookie gives SameSite=None; Secure, and secureCookie gives Secure (on http://localhost, which may hold them)', async ({ context }) => {
  await openWith(context, collector.at('localhost'), ', crossSiteCookie: true');
  expect(await anonymousIdCookie(context)).toMatchObject({ domain: 'localhost', sameSite: 'None', secure: true });
  await context.clearCookies();
  await openWith(context, collector.at('localhost'), ', secureCookie: true');
  expect(await anonymousIdCookie(context)).toMatchObject({ sameSite: 'Lax', secure: true });
});

/** A JWT of about 5 KB (many claims): over Chromium's 4,096-byte limit for a cookie's name and value. */
const bigJwt = (subject: string) =>
  ['{"alg":"HS256","typ":"JWT"}', JSON.stringify({ sub: subject, roles: Array.from({ length: 360 }, (_, i) => `role-${i}`) }), 'signature']
    .map((part) => Buffer.from(part).toString('base64url'))
    .join('.');

/** The action named `name` once the collector has it (every test names its actions apart). */
const action = async (name: string) => {
  await expect.poll(() => collector.items('actions').some((item) => item.action_name == name)).toBe(true);
  return collector.items('actions').find((item) => item.action_name == name)!;
};

const sessionCookie = async (context: BrowserContext) => (await context.cookies()).find((cookie) => cookie.name == 'moesif_stored_session_id');

test('a session token too long for a cookie (a 5 KB JWT) is sent with every action, after a reload too, with one warning that does not show it', async ({ context }) => {
  const token = bigJwt('first');
  expect(token.length).toBeGreaterThan(4_500);
  const page = await openWith(context, collector.at('app.example.test'));
  const warnings: string[] = [];
  page.on('console', (message) => message.type() == 'warning' && warnings.push(message.text()));
  // No earlier session cookie: the jar lives (the anonymous id is in it) but cannot hold the token.
  await page.evaluate((jwt) => {
    window.moesif.identifySession(jwt);
    window.moesif.track('Big token, first page');
    // Apps call it again on every route.
    window.moesif.identifySession(jwt);
  }, token);
  expect((await action('Big token, first page')).session_token).toBe(token);
  expect(await page.evaluate(() => window.moesif.getSessionToken())).toBe(token);
  expect(warnings).toEqual(['[usertrail] id over 4 KB or not valid Unicode: kept for this origin only']);
  await page.reload();
  await page.evaluate(() => window.moesif.track('Big token, after a reload'));
  expect((await action('Big token, after a reload')).session_token).toBe(token);
  expect(warnings).toHaveLength(1);
});

test('a user id no cookie can hold (an unpaired UTF-16 surrogate) is still identified and sent, with one warning that does not show it', async ({ context }) => {
  const page = await openWith(context, collector.at('app.example.test'));
  const warnings: string[] = [];
  page.on('console', (message) => message.type() == 'warning' && warnings.push(message.text()));
  // encodeURIComponent, which js-cookie's writes use, throws URIError for it: identifyUser() warned
  // "URI malformed" and identified no one, and every later call that read the ids did the same.
  // Compared in the page: a string leaving it through the DevTools protocol is UTF-8, where the
  // surrogate becomes U+FFFD.
  const kept = await page.evaluate(() => {
    const id = 'user-\ud83d';
    window.moesif.identifyUser(id);
    window.moesif.track('Odd user id');
    return window.moesif.getUserId() === id;
  });
  expect(kept).toBe(true);
  // JSON.stringify escapes it (\ud83d), so the collector gets the id as the app gave it.
  expect((await action('Odd user id')).user_id).toBe('user-\ud83d');
  expect(warnings).toEqual(['[usertrail] id over 4 KB or not valid Unicode: kept for this origin only']);
});

test('a session token too long for a cookie wins over an earlier, shorter one the cookie held, after a reload too', async ({ context }) => {
  const token = bigJwt('second');
  const page = await openWith(context, collector.at('app.example.test'));
  await page.evaluate(() => window.moesif.identifySession('short-old-token'));
  expect((await sessionCookie(context))?.value).toBe('short-old-token');
  await page.evaluate((jwt) => {
    window.moesif.identifySession(jwt);
    window.moesif.track('Big over short');
  }, token);
  expect((await action('Big over short')).session_token).toBe(token);
  // The browser refused the long cookie: the old one must not stay behind it.
  expect((await sessionCookie(context))?.value).not.toBe('short-old-token');
  await page.reload();
  await page.evaluate(() => window.moesif.track('Big over short, after a reload'));
  expect((await action('Big over short, after a reload')).session_token).toBe(token);
  // And a short one after it is a cookie again.
  await page.evaluate(() => window.moesif.identifySession('short-new-token'));
  expect((await sessionCookie(context))?.value).toBe('short-new-token');
});

test("another subdomain, which cannot have the long token, sends none rather than the older one it saw in the cookie", async ({ context }) => {
  const docs = await openWith(context, collector.at('docs.example.test'));
  const app = await openWith(context, collector.at('app.example.test'));
  await app.evaluate(() => window.moesif.identifySession('short-old-token'));
  // docs reads the shared cookie, and mirrors it in its localStorage.
  await docs.reload();
  await docs.evaluate(() => window.moesif.track('Docs, short token'));
  expect((await action('Docs, short token')).session_token).toBe('short-old-token');
  await app.evaluate((jwt) => window.moesif.identifySession(jwt), bigJwt('third'));
  await docs.reload();
  await docs.evaluate(() => window.moesif.track('Docs, after the long token'));
  expect(await action('Docs, after the long token')).not.toHaveProperty('session_token');
});

/** Counts, in `window.cookieWrites`, what the page writes to document.cookie (installed before the SDK loads). */
const countCookieWrites = (context: BrowserContext) =>
  context.addInitScript(() => {
    const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!;
    Object.assign(window, { cookieWrites: 0 });
    Object.defineProperty(Document.prototype, 'cookie', {
      ...cookie,
      set(value: string) {
        (window as unknown as { cookieWrites: number }).cookieWrites++;
        cookie.set!.call(this, value);
      },
    });
  });
const cookieWritesOf = (page: Page) => page.evaluate(() => (window as unknown as { cookieWrites: number }).cookieWrites);

/** The SDK's cookies as the browser keeps them: name, value and expiry. */
const jarOf = async (context: BrowserContext) =>
  (await context.cookies()).filter((cookie) => cookie.name.startsWith('moesif_') || cookie.name.startsWith('usertrail_')).map(({ name, value, expires }) => ({ name, value, expires }));

// An app that identifies its visitor on every page, as most do.
const IDENTIFY = "moesif.identifyUser('u-every-page', { plan: 'team' }); moesif.identifyCompany('c-every-page'); moesif.identifySession('s-every-page');";

/** A page of app.example.test whose script runs `script` after init() with `options`, on every load. */
const openEveryLoad = async (context: BrowserContext, options: string, script: string) => {
  const path = `/cookies-${Math.random().toString(36).slice(2)}`;
  collector.page(path, umdPage(`moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:${collector.port}', batchMaxTime: 50 ${options} }); ${script}`));
  const page = await context.newPage();
  await page.goto(collector.at('app.example.test') + path);
  await expect.poll(() => anonymousIdCookie(context)).toBeTruthy();
  return page;
};

test('a reload with the same ids writes no cookie, though the app identifies the visitor again on every page', async ({ context }) => {
  await countCookieWrites(context);
  const page = await openEveryLoad(context, '', IDENTIFY);
  await expect.poll(async () => (await jarOf(context)).length).toBe(4);
  expect(await cookieWritesOf(page)).toBeGreaterThan(0);
  const jar = await jarOf(context);
  for (let load = 0; load < 2; load++) {
    await page.reload();
    expect(await page.evaluate(() => [window.moesif.getUserId(), window.moesif.getCompanyId(), window.moesif.getSessionToken()])).toEqual(['u-every-page', 'c-every-page', 's-every-page']);
    expect(await cookieWritesOf(page)).toBe(0);
    // The same cookies, with the same expiry: none was written again.
    expect(await jarOf(context)).toEqual(jar);
  }
  // A change is written at once.
  await page.evaluate(() => window.moesif.identifyCompany('c-next'));
  expect((await jarOf(context)).find((cookie) => cookie.name == 'moesif_stored_company_id')?.value).toBe('c-next');
});

test('a visitor who refused consent: a reload writes no cookie (there is none left to remove)', async ({ context }) => {
  await countCookieWrites(context);
  const page = await openEveryLoad(context, '', "moesif.track('Visit');");
  await page.evaluate(() => window.moesif.revokePublishingConsent());
  expect((await context.cookies()).map((cookie) => cookie.name)).toEqual(['usertrail_consent']);
  await page.reload();
  expect(await page.evaluate(() => window.moesif.isPublishingConsentGranted())).toBe(false);
  expect(await cookieWritesOf(page)).toBe(0);
  expect((await context.cookies()).map((cookie) => `${cookie.name}=${cookie.value}`)).toEqual(['usertrail_consent=revoked']);
});

test('a consent banner that calls grantPublishingConsent() on every page: a reload writes no cookie', async ({ context }) => {
  await countCookieWrites(context);
  const page = await openEveryLoad(context, ', requirePublishingConsent: true', "moesif.grantPublishingConsent(); moesif.track('Visit');");
  await expect.poll(async () => (await context.cookies()).map((cookie) => `${cookie.name}=${cookie.value}`)).toContain('usertrail_consent=granted');
  const jar = await jarOf(context);
  await page.reload();
  expect(await page.evaluate(() => window.moesif.isPublishingConsentGranted())).toBe(true);
  expect(await cookieWritesOf(page)).toBe(0);
  expect(await jarOf(context)).toEqual(jar);
});

test('an unchanged cookie is written again once a day, so its expiry keeps sliding for a returning visitor', async ({ context }) => {
  await countCookieWrites(context);
  const page = await openEveryLoad(context, '', IDENTIFY);
  const userCookie = async () => (await context.cookies()).find((cookie) => cookie.name == 'moesif_stored_user_id')!;
  await expect.poll(async () => (await userCookie())?.value).toBe('u-every-page');
  // As the browser would keep it 355 days later: same value, 10 days left.
  const inDays = (days: number) => Date.now() / 1000 + days * 86_400;
  await context.addCookies([{ ...(await userCookie()), expires: inDays(10) }]);
  await page.reload();
  expect(await cookieWritesOf(page)).toBe(0);
  expect((await userCookie()).expires).toBeLessThan(inDays(11));
  // The next day (by the page's clock): the identifyUser() of the page writes it again, for 365 days.
  await page.clock.setFixedTime(Date.now() + 25 * 3_600_000);
  await page.reload();
  expect(await cookieWritesOf(page)).toBeGreaterThan(0);
  const refreshed = await userCookie();
  expect(refreshed.value).toBe('u-every-page');
  expect(refreshed.expires).toBeGreaterThan(inDays(364));
  // And not again that day.
  await page.reload();
  expect(await cookieWritesOf(page)).toBe(0);
});
