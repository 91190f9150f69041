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
