import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMoesif } from '../src/moesif';
import type { DeliveryOutcome } from '../src/wire';

/**
 * moesif-browser-js's `batchTimeout` and `callback` contracts, against a real server on 127.0.0.1
 * that answers each request as the test says: a status, or never (a hung connection).
 */
async function collectorAnswering(answers: Array<number | 'never'>) {
  const received: string[] = [];
  const hung: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method == 'OPTIONS') return void res.writeHead(204, { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': '*' }).end();
      const answer = answers[received.length] ?? 200;
      received.push(Buffer.concat(chunks).toString('utf8'));
      if (answer == 'never') return void hung.push(res);
      res.writeHead(answer, { 'Access-Control-Allow-Origin': '*', 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  localStorage.clear();
});

describe('a request to the collector', () => {
  it('that hangs is abandoned after batchTimeout and sent again; callback gets the failure first, and nothing first on success', async () => {
    const collector = await collectorAnswering(['never', 200]);
    close = collector.close;
    const calls: Array<[DeliveryOutcome | undefined, DeliveryOutcome]> = [];
    const moesif = createMoesif();
    moesif.init({ applicationId: 'timeout-app', host: collector.url, batchEnabled: false, batchTimeout: 300, callback: (error, outcome) => calls.push([error, outcome]) });
    moesif.track('Waited');
    // Backoff after the failure: full jitter under 1 s.
    await vi.waitFor(() => expect(collector.received).toHaveLength(2), { timeout: 5_000 });
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    const [failed, succeeded] = calls;
    expect(failed[0]).toBe(failed[1]);
    expect(failed[1]).toMatchObject({ status: 0, kind: 'actions', count: 1, error: expect.stringMatching(/timeout|abort/i) });
    expect(succeeded).toEqual([undefined, { status: 200, kind: 'actions', count: 1 }]);
    // The same item both times: one transaction id, sent again.
    expect(new Set(collector.received.map((body) => JSON.parse(body)[0].transaction_id)).size).toBe(1);
    expect(moesif.getStats()).toMatchObject({ sent: 1, retried: 1, inOutbox: 0 });
  });

  it('refused for good (a 4xx) calls back with its outcome first', async () => {
    const collector = await collectorAnswering([400]);
    close = collector.close;
    const callback = vi.fn();
    const moesif = createMoesif();
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    moesif.init({ applicationId: 'refused-app', host: collector.url, batchEnabled: false, callback });
    moesif.track('Refused');
    await vi.waitFor(() => expect(callback).toHaveBeenCalledTimes(1));
    const outcome = { status: 400, kind: 'actions', count: 1 };
    expect(callback.mock.calls[0]).toEqual([outcome, outcome]);
  });
});
