import { createServer } from 'node:http';
import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import { listenLocally } from './support/listen';
import { umdPage } from './support/recorder';

/**
 * The `batchTimeout` of each request to the collector, in Chromium: a hung request is abandoned and sent
 * again, and an answered one leaves nothing behind (AbortSignal.timeout() kept every request's signal
 * alive until its timer fired, batchTimeout later: bench/README.md, soak).
 */

/** How many AbortSignals `page` holds after garbage collection (DevTools' queryObjects, as the heap snapshot counts them). */
async function liveAbortSignals(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { result: prototype } = await cdp.send('Runtime.evaluate', { expression: 'AbortSignal.prototype' });
  const { objects } = await cdp.send('Runtime.queryObjects', { prototypeObjectId: prototype.objectId! });
  const { result } = await cdp.send('Runtime.callFunctionOn', { objectId: objects.objectId!, functionDeclaration: 'function () { return this.length; }', returnByValue: true });
  await cdp.detach();
  return result.value as number;
}

test('answered requests to the collector leave no signal (nor the timer that would abort it) behind', async ({ page, collector }) => {
  collector.page('/p', umdPage(`moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchEnabled: false });`));
  await page.goto(collector.url + '/p');
  const before = await liveAbortSignals(page);
  for (let n = 0; n < 10; n++) {
    await page.evaluate((n) => window.moesif.track('Answered ' + n), n);
    await collector.settled(page);
  }
  expect(collector.items('actions')).toHaveLength(10);
  // Before, one per request: each AbortSignal.timeout(batchTimeout) lived until its 90 s timer fired.
  expect(await liveAbortSignals(page)).toBe(before);
});

test('a request the collector never answers is abandoned after batchTimeout, reported as timed out, and sent again', async ({ page, collector }) => {
  const received: string[] = [];
  // A collector that answers its preflights, leaves the first request hanging and answers the next.
  const hanging = await listenLocally(
    createServer((req, res) => {
      const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': '*' };
      if (req.method == 'OPTIONS') return void res.writeHead(204, cors).end();
      req.resume();
      received.push(req.url ?? '');
      if (received.length > 1) res.writeHead(200, cors).end('{}');
    }),
  );
  try {
    collector.page(
      '/p',
      umdPage(`window.outcomes = [];
        moesif.init({ applicationId: 'app', host: ${JSON.stringify(hanging.url)}, batchEnabled: false, batchTimeout: 300, callback: (error, outcome) => outcomes.push(outcome) });
        moesif.track('Waited');`),
    );
    await page.goto(collector.url + '/p');
    const outcomes = () => page.evaluate(() => (window as unknown as { outcomes: Array<{ status: number; error?: string }> }).outcomes);
    await expect.poll(outcomes).toHaveLength(2);
    const [timedOut, answered] = await outcomes();
    expect(timedOut).toMatchObject({ status: 0, error: expect.stringMatching(/^TimeoutError/) });
    expect(answered).toMatchObject({ status: 200 });
    expect(received).toHaveLength(2);
  } finally {
    await hanging.close();
  }
});
