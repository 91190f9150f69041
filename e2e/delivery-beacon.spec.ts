import { createServer } from 'node:http';
import { expect, test } from './support/fixtures';
import { listenLocally } from './support/listen';
import { umdPage } from './support/recorder';

/** useBeacon in Chromium: beacons share the page's 64 KB keepalive quota with keepalive fetches. */
test('with useBeacon, a batch whose beacon the browser refuses while an earlier one is under way goes by fetch and arrives', async ({ page, collector }) => {
  const received: string[] = [];
  // A collector that holds the first request (a beacon: its 40 KB count against the page's keepalive
  // quota while it is under way) and answers the others.
  const holding = await listenLocally(
    createServer((req, res) => {
      const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': '*' };
      if (req.method == 'OPTIONS') return void res.writeHead(204, cors).end();
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk));
      req.on('end', () => {
        received.push(body);
        if (received.length > 1) res.writeHead(200, cors).end('{}');
      });
    }),
  );
  try {
    collector.page(
      '/p',
      umdPage(`window.outcomes = [];
        moesif.init({ applicationId: 'app', host: ${JSON.stringify(holding.url)}, useBeacon: true, batchEnabled: false, callback: (error, outcome) => outcomes.push(outcome) });
        window.big = (name) => moesif.track(name, { filler: 'x'.repeat(40000) });`),
    );
    await page.goto(collector.url + '/p');
    await page.evaluate(() => (window as unknown as { big(name: string): void }).big('First'));
    await expect.poll(() => received.length).toBe(1);
    await page.evaluate(() => (window as unknown as { big(name: string): void }).big('Second'));
    // The second beacon is refused (the first holds the quota): its fetch is answered, not refused as well.
    const statuses = () => page.evaluate(() => (window as unknown as { outcomes: Array<{ status: number }> }).outcomes.map((outcome) => outcome.status));
    await expect.poll(statuses).toEqual([202, 200]);
    expect(received.filter((body) => body.includes('"Second"'))).toHaveLength(1);
  } finally {
    await holding.close();
  }
});
