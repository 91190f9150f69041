// @vitest-environment node
/**
 * Delivery under load (issue 18): several batches under way at once, batches that grow with the
 * queue, gzip bodies, and nothing dropped when the app logs faster than one request at a time could
 * carry. A real recording collector on 127.0.0.1 that counts the requests it has not answered yet;
 * the tests wait for states (requests under way, events counted), never for time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import moesif, { type MoesifMiddleware, type MoesifOptions } from '../../src/server/index';
import { startApp, startRecorder, waitFor, type Recorder } from './helpers';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function recorder(): Promise<Recorder> {
  const r = await startRecorder();
  cleanups.push(() => r.close());
  return r;
}

async function appWith(options: MoesifOptions): Promise<{ mw: MoesifMiddleware; call: (path: string) => Promise<string> }> {
  const mw = moesif(options);
  const api = await startApp((app) => {
    app.use(mw);
    app.get('/item/:i', (req, res) => void res.json({ i: req.params.i, padding: 'x'.repeat(200) }));
  });
  cleanups.push(() => api.close());
  return { mw, call: async (path) => (await fetch(`${api.url}${path}`)).text() };
}

/** A gate that holds answers until the test opens it. */
function gate(): { hold: Promise<void>; open: () => void } {
  let open = () => {};
  const hold = new Promise<void>((resolve) => (open = resolve));
  return { hold, open };
}

const batchSizes = (r: Recorder) => r.requests.filter((q) => q.path === '/v1/events/batch').map((q) => (q.body as unknown[]).length);

describe('a deep queue', () => {
  it('keeps several batches in flight (at most 4), and the next batch takes everything that waits', async () => {
    const collector = await recorder();
    const answers = gate();
    collector.answer = () => ({ status: 201, hold: answers.hold });
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchSize: 5, batchMaxTime: 60_000 });
    for (let i = 0; i < 40; i++) await call(`/item/${i}`);
    // One batch at a time, the 2nd to 8th batches waited behind the first answer.
    await waitFor(() => collector.concurrency.now === 4 && mw.stats().queued === 40);
    expect(batchSizes(collector)).toEqual([5, 5, 5, 5]);
    answers.open();
    await waitFor(() => mw.stats().sent === 40);
    // The 20 events that queued up while four requests were under way left in one request.
    expect(batchSizes(collector)).toEqual([5, 5, 5, 5, 20]);
    expect(collector.concurrency.most).toBe(4);
    expect(mw.stats()).toMatchObject({ queued: 0, sent: 40, dropped: 0 });
  });

  it('drops nothing when the app logs faster than one request at a time could carry', async () => {
    // Each request is answered only once the next one has arrived: a round trip longer than the
    // time the app takes to log a batch. With one batch in flight, the queue filled behind the first
    // request and the oldest events were dropped.
    const collector = await recorder();
    let releasePrevious = () => {};
    let loadDone = false;
    collector.answer = () => {
      releasePrevious();
      if (loadDone) return { status: 201 };
      const next = gate();
      releasePrevious = next.open;
      return { status: 201, hold: next.hold };
    };
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchSize: 10, batchMaxTime: 60_000, maxQueueSize: 50 });
    const calls = 300;
    let next = 0;
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        while (next < calls) await call(`/item/${next++}`);
      }),
    );
    loadDone = true;
    releasePrevious();
    await mw.flush();
    await waitFor(() => collector.events().length === calls);
    expect(new Set(collector.events().map((e) => e.request.uri)).size).toBe(calls);
    expect(mw.stats()).toMatchObject({ queued: 0, sent: calls, dropped: 0 });
  });
});

describe('compression', () => {
  it('sends gzip bodies by default (Content-Encoding: gzip), which decode to the events', async () => {
    const collector = await recorder();
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchMaxTime: 60_000 });
    for (let i = 0; i < 20; i++) await call(`/item/${i}`);
    await mw.flush();
    const [request] = collector.requests;
    expect(request?.headers['content-encoding']).toBe('gzip');
    expect(collector.events().map((e) => new URL(e.request.uri).pathname)).toEqual(Array.from({ length: 20 }, (_, i) => `/item/${i}`));
    // Events of one API are alike: the compressed body is a fraction of the JSON.
    expect(request?.wireBytes).toBeLessThan(JSON.stringify(request?.body).length / 4);
  });

  it('sends plain JSON with gzip: false, for collectors that cannot decode it', async () => {
    const collector = await recorder();
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchMaxTime: 60_000, gzip: false });
    for (let i = 0; i < 3; i++) await call(`/item/${i}`);
    await mw.flush();
    const [request] = collector.requests;
    expect(request?.headers['content-encoding']).toBeUndefined();
    expect(request?.wireBytes).toBe(Number(request?.headers['content-length']));
    expect(collector.events()).toHaveLength(3);
  });
});
