// @vitest-environment node
/**
 * The delivery queue on its own (an internal module): its memory bound counts characters too, so
 * events with large bodies cannot grow it without limit while the collector is down.
 */
import { expect, it } from 'vitest';
import { createOutbox } from '../../src/server/outbox';
import { createLog } from '../../src/server/log';
import { createTransport } from '../../src/server/transport';
import { freePort, startRecorder } from './helpers';

it('drops the oldest items once the queued JSON exceeds its character bound, and delivers the rest later', async () => {
  const port = await freePort();
  const send = createTransport({ baseUri: `http://127.0.0.1:${port}`, applicationId: 'a', requestTimeout: 1000 });
  const outbox = createOutbox({
    send,
    path: '/v1/events/batch',
    batchSize: 100,
    maxBatchBytes: 512 * 1024,
    batchMaxTime: 60_000,
    maxQueueSize: 1000,
    maxQueueChars: 10_000,
    retryBaseDelay: 60_000,
    retryMaxDelay: 60_000,
    log: createLog(false),
  });
  const item = (i: number) => JSON.stringify({ i, pad: 'x'.repeat(1000) });
  for (let i = 0; i < 30; i++) outbox.push(item(i));
  const { queued, dropped } = outbox.stats();
  expect(queued * item(0).length).toBeLessThanOrEqual(10_000);
  expect(queued + dropped).toBe(30);
  // Synthetic items: the outbox does not read what it queues, so they need not be events.
  const collector = await startRecorder(port, { contract: false });
  try {
    await outbox.flush();
    const delivered = (collector.requests[0]?.body as Array<{ i: number }>).map((x) => x.i);
    expect(delivered).toEqual(Array.from({ length: queued }, (_, k) => 30 - queued + k));
    expect(outbox.stats()).toMatchObject({ queued: 0, sent: queued, dropped });
  } finally {
    await collector.close();
  }
});
