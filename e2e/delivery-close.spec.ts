import { expect, test } from './support/fixtures';
import { umdPage } from './support/recorder';

test('a captured call with a 64 KB body, then track(), then the visitor leaves: the action arrives', async ({ page, collector }) => {
  collector.page(
    '/p',
    umdPage(`moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:${collector.port}' }); moesif.start();
      window.go = async () => {
        await (await fetch('/api/big')).text();
        // The visitor reads for a moment, then clicks and leaves 5 ms later: time is the scenario.
        await new Promise((resolve) => setTimeout(resolve, 300));
        moesif.track('Clicked sign up');
        setTimeout(() => { location.href = '/bye'; }, 5);
      };`),
  );
  collector.page('/bye', '<!doctype html><title>bye</title>');
  await page.goto(collector.url + '/p');
  await page.evaluate(() => (window as unknown as { go(): Promise<void> }).go());
  await page.waitForURL('**/bye');
  await expect.poll(() => collector.items('actions').map((a) => a.action_name), { timeout: 5_000 }).toEqual(['Clicked sign up']);
});

// Moesif's API is on another origin than every site that uses it, and the SDK's JSON and its
// X-Moesif-Application-Id header make each request wait for a CORS preflight. A keepalive request
// outlives its page with its preflight too (Chromium sends both after the page is gone).
test('a collector on another origin gets the item of a page that leaves 5 ms after track(), through the CORS preflight', async ({ page, context, collector }) => {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  // The preflight and the POST each take 150 ms: both are still on the way when the page is gone.
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: -1, uploadThroughput: -1 });
  collector.page(
    '/leave',
    umdPage(`moesif.init({ applicationId: 'app', host: '${collector.url}', batchMaxTime: 10000 });
      moesif.track('Left for another site');
      // Leaves 5 ms after tracking: time is the scenario.
      setTimeout(() => { location.href = '/bye'; }, 5);`),
  );
  collector.page('/bye', '<!doctype html><title>bye</title>');
  await page.goto(collector.at('app.example.test') + '/leave');
  await page.waitForURL('**/bye');
  await expect.poll(() => collector.items('actions').map((a) => a.action_name), { timeout: 5_000 }).toContain('Left for another site');
  expect(collector.preflights).toBeGreaterThan(0);
});
