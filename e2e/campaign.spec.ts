import type { Browser } from '@playwright/test';
import { expect, test } from './support/fixtures';
import type { Recorder } from './support/recorder';

/**
 * Issue 17: the first-touch campaign is kept where every subdomain of the site reads it, as
 * moesif-browser-js keeps it. Here a site moves from moesif-browser-js (its real 1.8.13 build, on the
 * docs subdomain) to usertrail (the built UMD, on the app subdomain): the campaign moesif recorded
 * when the visitor landed on docs reaches the users call usertrail makes when she signs up on app.
 * docs.example.test and app.example.test share `.example.test` cookies, not localStorage.
 */

const init = `moesif.init({ applicationId: 'app', host: '127.0.0.1:' + location.port, batchMaxTime: 50 });`;
const html = (sdk: string, script: string) =>
  `<!doctype html><html><head><title>campaign</title><script src="${sdk}"></script></head><body><script>${script}</script></body></html>`;

test("the campaign moesif-browser-js kept in its cookie on docs is sent with usertrail's identifyUser() and identifyCompany() on app", async ({ page, collector }) => {
  collector.page('/docs', html('/node_modules/moesif-browser-js/moesif.min.js', init));
  collector.page('/signup', html('/dist/moesif.min.js', init));
  await page.goto(collector.at('docs.example.test') + '/docs?utm_source=google&utm_medium=cpc&gclid=Cj0-moesif-era');
  const moesifCookie = async (name: string) => (await page.context().cookies()).find((c) => c.name === name);
  await expect.poll(async () => (await moesifCookie('moesif_campaign_data'))?.domain).toBe('.example.test');
  const anonymousId = decodeURIComponent((await moesifCookie('moesif_anonymous_id'))!.value);

  await page.goto(collector.at('app.example.test') + '/signup');
  await page.evaluate(async () => {
    const moesif = (window as any).moesif;
    moesif.identifyUser('u1');
    moesif.identifyCompany('c1');
    await moesif.flush();
  });
  const firstTouch = { utm_source: 'google', utm_medium: 'cpc', gclid: 'Cj0-moesif-era' };
  await expect.poll(() => collector.items('users').filter((u) => u.user_id === 'u1').length).toBe(2);
  for (const user of collector.items('users').filter((u) => u.user_id === 'u1')) {
    expect(user).toMatchObject({ anonymous_id: anonymousId, campaign: firstTouch });
  }
  expect(collector.items('companies')).toEqual([{ company_id: 'c1', campaign: firstTouch }]);
});

test.describe("Google Analytics' __utmz cookie, read by moesif-browser-js 1.8.13 and usertrail side by side", () => {
  const UTMZ = '173272373.1700000000.2.1.utmcsr=newsletter|utmccn=spring|utmcmd=email|utmctr=api%20analytics|utmcct=hero';
  const sdks = { moesif: '/node_modules/moesif-browser-js/moesif.min.js', usertrail: '/dist/moesif.min.js' };

  /** The campaign each SDK sends with identifyUser() on a first visit to `query` with `utmz` set, each in a browser context of its own. */
  const campaigns = async ({ browser, collector }: { browser: Browser; collector: Recorder }, query: string, utmz: string) => {
    const sent: Record<string, unknown> = {};
    for (const [name, sdk] of Object.entries(sdks)) {
      const context = await browser.newContext();
      try {
        await context.addCookies([{ name: '__utmz', value: utmz, domain: '.example.test', path: '/' }]);
        const userId = `${name}-${Math.random().toString(36).slice(2)}`;
        collector.page(`/land-${name}`, html(sdk, `${init} moesif.identifyUser('${userId}');`));
        const page = await context.newPage();
        await page.goto(`${collector.at('app.example.test')}/land-${name}${query}`);
        await expect.poll(() => collector.items('users').some((user) => user.user_id === userId)).toBe(true);
        sent[name] = collector.items('users').find((user) => user.user_id === userId)!.campaign;
      } finally {
        await context.close();
      }
    }
    return sent;
  };

  test('with no utm parameter in the address, both send the five fields of the cookie', async ({ browser, collector }) => {
    const { moesif, usertrail } = await campaigns({ browser, collector }, '', UTMZ);
    expect(moesif).toEqual({ utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring', utm_term: 'api analytics', utm_content: 'hero' });
    expect(usertrail).toEqual(moesif);
  });

  test("field by field, the address's utm parameters win and the cookie fills the rest", async ({ browser, collector }) => {
    const { moesif, usertrail } = await campaigns({ browser, collector }, '?utm_source=ad&utm_medium=cpc&gclid=G1', UTMZ);
    expect(moesif).toEqual({ utm_source: 'ad', utm_medium: 'cpc', utm_campaign: 'spring', utm_term: 'api analytics', utm_content: 'hero', gclid: 'G1' });
    expect(usertrail).toEqual(moesif);
  });

  test("a referral's source with dots: usertrail keeps it, where moesif-browser-js reads from the last dot on and loses it", async ({ browser, collector }) => {
    const { moesif, usertrail } = await campaigns({ browser, collector }, '', '1.1700000000.1.1.utmcsr=news.example.org|utmccn=(referral)|utmcmd=referral|utmcct=/post');
    expect(usertrail).toEqual({ utm_source: 'news.example.org', utm_campaign: '(referral)', utm_medium: 'referral', utm_content: '/post' });
    expect(moesif).toEqual({ utm_campaign: '(referral)', utm_medium: 'referral', utm_content: '/post' });
  });
});
