import { expect, test } from './support/fixtures';

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
