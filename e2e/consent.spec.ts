import type { BrowserContext, Page } from '@playwright/test';
import { expect, test, type PageAndCollector } from './support/fixtures';
import { umdPage } from './support/recorder';

const init = (extra = '') =>
  `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50, requirePublishingConsent: true ${extra} });`;

const sdkTraces = async (page: Page, context: BrowserContext) => ({
  cookies: (await context.cookies()).map((c) => c.name),
  storage: await page.evaluate(() => Object.keys(localStorage)),
});

const open = async ({ page, collector }: PageAndCollector, script: string) => {
  collector.page('/app', umdPage(script));
  await page.goto(collector.at('app.example.test') + '/app');
};

const activity = `moesif.identifyUser('u-1', { plan: 'pro' }); moesif.track('First'); moesif.track('Second');`;

test('while consent is pending nothing is stored or sent; on grant every kept call arrives once, in order', async ({ page, context, collector }) => {
  await open({ page, collector }, `${init()} ${activity} moesif.start(); fetch('/api/other', { method: 'POST', body: 'while pending' });`);
  await expect.poll(() => collector.api.length).toBe(1);
  // Everything is held: the four items (users, two actions, the captured call) wait in memory, and no
  // request was made.
  await expect.poll(() => page.evaluate(() => window.moesif.getStats())).toMatchObject({ inOutbox: 4, requests: 0 });
  expect(collector.received).toHaveLength(0);
  expect(await sdkTraces(page, context)).toEqual({ cookies: [], storage: [] });
  expect(await page.evaluate(() => window.moesif.isPublishingConsentGranted())).toBe(false);

  await page.evaluate(() => window.moesif.grantPublishingConsent());
  await expect.poll(() => collector.items('actions').map((a) => a.action_name)).toEqual(['First', 'Second']);
  await expect.poll(() => collector.items('users').length).toBe(1);
  expect(collector.items('users')[0]).toMatchObject({ user_id: 'u-1', metadata: { plan: 'pro' } });
  // The API call captured while pending was kept too, and arrives attributed to the user.
  await expect.poll(() => collector.items('events').length).toBe(1);
  expect(collector.items('events')[0]).toMatchObject({ user_id: 'u-1', request: { verb: 'POST', body: 'while pending' } });
  // Once: nothing arrives a second time later (a poll alone passes at the first moment the list matches).
  await collector.settled(page);
  expect(collector.items('actions').map((a) => a.action_name)).toEqual(['First', 'Second']);
  expect(collector.items('users')).toHaveLength(1);
  expect(collector.items('events')).toHaveLength(1);
  const { cookies } = await sdkTraces(page, context);
  expect(cookies).toEqual(expect.arrayContaining(['moesif_anonymous_id', 'moesif_stored_user_id', 'usertrail_consent']));

  // The decision is remembered: the next page load tracks without a new grant.
  await page.reload();
  await page.evaluate(() => window.moesif.track('After Reload'));
  await expect.poll(() => collector.items('actions').map((a) => a.action_name)).toContain('After Reload');
  expect(await page.evaluate(() => window.moesif.getUserId())).toBe('u-1');
});

test('a visitor from before the site asked for consent keeps one journey: what the page kept while pending arrives under the earlier anonymous id', async ({ page, context, collector }) => {
  // The first visit, before the site turned consent on.
  await open({ page, collector }, `${init().replace('requirePublishingConsent: true', '')} moesif.track('Before consent');`);
  await expect.poll(() => collector.items('actions').length).toBe(1);
  const earlierId = collector.items('actions')[0]!.anonymous_id as string;
  await collector.settled(page);

  // Now the site asks for consent: while pending the page reads no stored id and sends nothing.
  await open({ page, collector }, `${init()} moesif.track('While pending');`);
  await expect.poll(() => page.evaluate(() => window.moesif.getStats())).toMatchObject({ inOutbox: 1, requests: 0 });
  const pendingId = await page.evaluate(() => window.moesif.getAnonymousId());
  expect(pendingId).not.toBe(earlierId);

  await page.evaluate(() => window.moesif.grantPublishingConsent());
  await expect.poll(() => collector.items('actions').map((a) => [a.action_name, a.anonymous_id])).toEqual([
    ['Before consent', earlierId],
    ['While pending', earlierId],
  ]);
  expect(await page.evaluate(() => window.moesif.getAnonymousId())).toBe(earlierId);
  expect((await context.cookies()).find((c) => c.name == 'moesif_anonymous_id')?.value).toBe(earlierId);
  await collector.settled(page);
  expect(JSON.stringify(collector.received)).not.toContain(pendingId);
});

test('revoking removes cookies and storage, empties the outbox, and nothing more arrives, also after a reload', async ({ page, context, collector }) => {
  collector.refuse(true); // keep events queued, so the outbox has something to purge
  await open({ page, collector }, `${init(', requirePublishingConsent: false')} ${activity}`);
  await expect.poll(async () => (await sdkTraces(page, context)).storage.some((key) => key.startsWith('usertrail:v4:outbox'))).toBe(true);

  await page.evaluate(() => window.moesif.revokePublishingConsent());
  // A request already on its way at the revoke was sent with consent: every request the SDK made must
  // have reached the collector (and been dropped) before it accepts again, or one could slip through.
  // (At least as many: the browser may resend a request whose reused connection was dropped.)
  const sent: number = await page.evaluate(() => window.moesif.getStats()!.requests);
  await expect.poll(() => collector.refused).toBeGreaterThanOrEqual(sent);
  collector.refuse(false);
  const traces = await sdkTraces(page, context);
  expect(traces.cookies).toEqual(['usertrail_consent']);
  expect(traces.storage.filter((key) => key !== 'usertrail_consent')).toEqual([]);
  expect((await context.cookies())[0]).toMatchObject({ name: 'usertrail_consent', value: 'revoked', domain: '.example.test' });

  await page.evaluate(() => window.moesif.track('After Revoke'));
  await page.reload();
  await page.evaluate(() => window.moesif.track('After Reload'));
  await collector.settled(page);
  expect(collector.items('actions')).toEqual([]);
  expect(collector.items('users')).toEqual([]);
});

test('a revoke takes effect on a page that made fetch read-only after start(): capture cannot put it back, and says nothing', async ({ page, collector }) => {
  await open({ page, collector }, `${init(', requirePublishingConsent: false')} moesif.start();`);
  const warnings: string[] = [];
  page.on('console', (message) => message.type() == 'warning' && warnings.push(message.text()));
  await page.evaluate(() => {
    // A framework's or a test's freeze, after the SDK wrapped fetch: the wrapper stays in place, off.
    Object.defineProperty(window, 'fetch', { writable: false });
    window.moesif.revokePublishingConsent();
  });
  // Putting the browser's fetch back threw TypeError in the revoke, before the decision was kept: the
  // page still answered "granted" and went on sending.
  expect(await page.evaluate(() => window.moesif.isPublishingConsentGranted())).toBe(false);
  await page.evaluate(async () => {
    window.moesif.track('After the revoke');
    await fetch('/api/other');
  });
  await collector.settled(page);
  expect(collector.items('actions')).toEqual([]);
  expect(collector.items('events')).toEqual([]);
  expect(warnings).toEqual([]);
});

test('with respectDoNotTrack, Global Privacy Control or Do Not Track means nothing arrives', async ({ page, collector }) => {
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  await open({ page, collector }, `${init(', requirePublishingConsent: false, respectDoNotTrack: true')} ${activity}`);
  await collector.settled(page);
  expect(collector.received).toHaveLength(0);

  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' }));
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => false }));
  await page.reload();
  await page.evaluate(() => window.moesif.track('Still Nothing'));
  await collector.settled(page);
  expect(collector.received).toHaveLength(0);
});

test('reset() keeps the consent decision', async ({ page, collector }) => {
  await open({ page, collector }, `${init()} moesif.grantPublishingConsent(); moesif.identifyUser('u-2'); moesif.reset(); moesif.track('After Reset');`);
  await expect.poll(() => collector.items('actions').map((a) => a.action_name)).toEqual(['After Reset']);
  expect(collector.items('actions')[0].user_id).toBeUndefined();
  await page.reload();
  expect(await page.evaluate(() => window.moesif.isPublishingConsentGranted())).toBe(true);
});

/**
 * A visitor signed in on docs.example.test, whose consent is then revoked in an app.example.test tab
 * (both granted by default: no requirePublishingConsent), and who switches back to the docs tab.
 * Returns the docs tab and how many requests the collector had received at the revoke.
 */
async function revokeOnAppWithDocsOpen({ context, collector }: Pick<PageAndCollector, 'collector'> & { context: BrowserContext }, options: { trackPageViews?: boolean } = {}) {
  const initGranted = `moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 50, trackPageViews: ${!!options.trackPageViews} });`;
  collector.page('/docs', umdPage(initGranted));
  collector.page('/app', umdPage(initGranted));
  const docs = await context.newPage();
  await docs.goto(collector.at('docs.example.test') + '/docs');
  await docs.evaluate(() => window.moesif.identifyUser('u-docs'));
  await expect.poll(() => collector.items('users').length).toBe(1);
  if (options.trackPageViews) {
    // The view of the page load has left (it waited for a title that never changes): no call of docs'
    // follows the revoke before what the test does next.
    await expect.poll(() => collector.items('actions').map((a) => a.action_name)).toEqual(['Page View']);
  }
  const app = await context.newPage();
  await app.goto(collector.at('app.example.test') + '/app');
  await app.evaluate(() => window.moesif.revokePublishingConsent());
  const before = collector.received.length;
  // The visitor switches to the docs tab. Headless Chromium's bringToFront fires no visibilitychange,
  // which a real tab switch does (the SDK rereads the cookie jar on it), so it is dispatched here.
  await docs.bringToFront();
  await docs.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  return { docs, before };
}

test('a revoke on app reaches an open docs tab: it sends nothing more and does not bring the ids back from its localStorage', async ({ context, collector }) => {
  const { docs, before } = await revokeOnAppWithDocsOpen({ context, collector });
  // docs still holds the ids in its own localStorage; its next calls must find the refusal first.
  await docs.evaluate(() => {
    const moesif = window.moesif;
    moesif.track('On docs after the revoke');
    moesif.identifyCompany('c-docs');
    return fetch('/api/other');
  });
  await collector.settled(docs);
  expect((await context.cookies()).map((c) => c.name)).toEqual(['usertrail_consent']);
  expect(collector.received.length - before).toBe(0);
  expect(await docs.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('moesif_') || key.startsWith('usertrail:')))).toEqual([]);
});

test('a revoke on app reaches a docs tab whose router navigates: its automatic page view brings no id back into the cookies', async ({ context, collector }) => {
  const { docs, before } = await revokeOnAppWithDocsOpen({ context, collector }, { trackPageViews: true });
  // Back on docs, the visitor follows a link of its router: the view reads who navigated, and must find
  // the refusal before it reads the ids from docs' localStorage.
  const jarAfterNavigation = await docs.evaluate(() => {
    history.pushState(null, '', '/docs/next');
    return document.cookie;
  });
  expect(jarAfterNavigation).toBe('usertrail_consent=revoked');
  await collector.settled(docs);
  expect((await context.cookies()).map((c) => c.name)).toEqual(['usertrail_consent']);
  expect(collector.received.length - before).toBe(0);
});

test('a visitor who refuses while consent is pending: the ids the page held are never written, not even for a moment', async ({ page, collector }) => {
  // Every cookie and localStorage key the page writes a value to, in order.
  await page.addInitScript(() => {
    const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!;
    const written: string[] = [];
    Object.assign(window, { written });
    Object.defineProperty(Document.prototype, 'cookie', {
      ...cookie,
      set(value: string) {
        if (!/^[^=]*=;/.test(value)) written.push(value.slice(0, value.indexOf('=')));
        cookie.set!.call(this, value);
      },
    });
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = function (key: string, value: string) {
      written.push(key);
      setItem.call(this, key, value);
    };
  });
  await open({ page, collector }, `${init()} ${activity}`);
  expect(await page.evaluate(() => (window as unknown as { written: string[] }).written)).toEqual([]);
  await page.evaluate(() => window.moesif.revokePublishingConsent());
  // The decision alone (the cookie, found on the widest domain by a probe, and its localStorage mirror).
  expect(new Set(await page.evaluate(() => (window as unknown as { written: string[] }).written))).toEqual(new Set(['usertrail_probe', 'usertrail_consent']));
  expect(collector.received).toHaveLength(0);
});
