// @vitest-environment node
/**
 * The delivery queue on its own (an internal module): its memory bound counts characters too, so
 * events with large bodies cannot grow it without limit while the collector is down; and how many
 * requests it keeps under way.
 */
import { expect, it } from 'vitest';
import { createOutbox } from '../../src/server/outbox';
import { createLog } from '../../src/server/log';
import { createTransport, type Send, type SendResult } from '../../src/server/transport';
import { freePort, startRecorder, waitFor } from './helpers';

/** An outbox whose queue holds at most 10,000 characters of JSON, one request at a time, and no retry within a test. */
const boundedByChars = {
  path: '/v1/events/batch',
  batchSize: 100,
  maxBatchCount: 100,
  maxBatchBytes: 512 * 1024,
  maxInFlight: 1,
  batchMaxTime: 60_000,
  maxQueueSize: 1000,
  maxQueueChars: 10_000,
  retryBaseDelay: 60_000,
  retryMaxDelay: 60_000,
  log: createLog(false),
};

it('drops the oldest items once the queued JSON exceeds its character bound, delivers the rest later, and then has room again', async () => {
  const port = await freePort();
  const send = createTransport({ baseUri: `http://127.0.0.1:${port}`, applicationId: 'a', requestTimeout: 1000, gzip: true, maxSockets: 1 });
  const outbox = createOutbox({ send, ...boundedByChars });
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
    // The bound counts only what waits: once those are delivered, as many new items fit again, whole.
    for (let i = 30; i < 30 + queued; i++) outbox.push(item(i));
    expect(outbox.stats()).toMatchObject({ queued, dropped });
    await outbox.flush();
    expect(outbox.stats()).toMatchObject({ queued: 0, sent: 2 * queued, dropped });
  } finally {
    await collector.close();
  }
});

it('counts a batch that came back from a failed request against its character bound', async () => {
  const pending: Array<(result: SendResult) => void> = [];
  const send: Send = () => new Promise((resolve) => pending.push(resolve));
  const outbox = createOutbox({ send, ...boundedByChars });
  const item = (i: number) => JSON.stringify({ i, pad: 'x'.repeat(1000) });
  for (let i = 0; i < 9; i++) outbox.push(item(i));
  const flushed = outbox.flush();
  expect(pending).toHaveLength(1);
  pending[0]?.({ status: 503 });
  await flushed; // the failure ends the flush: the batch is back at the front, waiting for its retry
  for (let i = 9; i < 18; i++) outbox.push(item(i));
  const { queued, dropped } = outbox.stats();
  expect(queued * item(10).length).toBeLessThanOrEqual(10_000);
  expect(queued + dropped).toBe(18);
});

it('after a failed request, probes the collector with one request at a time until one succeeds', async () => {
  // The outbox's own seam: `send` is a function, here one that answers when the test says so, and
  // is called synchronously by the outbox, so the number of calls is exact at any moment.
  const pending: Array<(result: SendResult) => void> = [];
  const sent: number[] = [];
  const send: Send = (_path, json) =>
    new Promise((resolve) => {
      sent.push((JSON.parse(json) as unknown[]).length);
      pending.push(resolve);
    });
  const outbox = createOutbox({
    send,
    path: '/v1/events/batch',
    batchSize: 5,
    maxBatchCount: 5,
    maxBatchBytes: 512 * 1024,
    maxInFlight: 4,
    batchMaxTime: 60_000,
    maxQueueSize: 1000,
    maxQueueChars: 1_000_000,
    retryBaseDelay: 1,
    retryMaxDelay: 1,
    random: () => 0,
    log: createLog(false),
  });
  const answerAll = (status: number) => pending.splice(0).forEach((resolve) => resolve({ status }));
  for (let i = 0; i < 40; i++) outbox.push(JSON.stringify({ i }));
  expect(sent).toEqual([5, 5, 5, 5]);
  answerAll(503);
  // The retry: one batch, however many wait. Four went to a collector that had just refused four.
  await waitFor(() => sent.length > 4);
  expect(sent).toHaveLength(5);
  answerAll(201);
  // It answered: back to four at once.
  await waitFor(() => pending.length === 4);
  expect(sent).toHaveLength(9);
  await waitFor(() => {
    answerAll(201);
    return outbox.stats().queued === 0;
  });
  expect(outbox.stats()).toMatchObject({ queued: 0, sent: 40, dropped: 0, failedRequests: 4 });
});
