import { expect, test, type BrowserContext } from '@playwright/test';
import { startRecorder, umdPage, type Recorder } from './support/recorder';

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
