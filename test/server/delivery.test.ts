// @vitest-environment node
/**
 * Delivery to a collector that is down, slow, rate limiting or refusing: batches, retries, the
 * bound on memory, flush(), and the profile updates. Real servers on 127.0.0.1, no mocks.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { batchBody, batchLength } from '../../src/server/batch';
import moesif, { type MoesifMiddleware, type MoesifOptions } from '../../src/server/index';
import { createLog } from '../../src/server/log';
import { createOutbox } from '../../src/server/outbox';
import { createTransport } from '../../src/server/transport';
import { freePort, startApp, startRecorder, waitFor, type Recorder, type RunningApp } from './helpers';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
  vi.restoreAllMocks();
});

async function recorder(port?: number): Promise<Recorder> {
  const r = await startRecorder(port);
  cleanups.push(() => r.close());
  return r;
}

async function appWith(options: MoesifOptions): Promise<{ mw: MoesifMiddleware; api: RunningApp; call: (path: string) => Promise<string> }> {
  const mw = moesif(options);
  const api = await startApp((app) => {
    app.use(mw);
    app.get('/item/:i', (req, res) => void res.json({ i: req.params.i }));
  });
  cleanups.push(() => api.close());
  return { mw, api, call: async (path) => (await fetch(`${api.url}${path}`)).text() };
}

const uris = (r: Recorder) => r.events().map((e) => new URL(e.request.uri).pathname);

describe('batching', () => {
  it('sends batchSize events per request', async () => {
    const collector = await recorder();
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchSize: 2, batchMaxTime: 60_000 });
    for (let i = 0; i < 5; i++) await call(`/item/${i}`);
    await waitFor(() => collector.events().length === 4);
    await mw.flush();
    expect(collector.requests.map((r) => (r.body as unknown[]).length)).toEqual([2, 2, 1]);
  });

  it('flush() empties the queue at once, whatever batchMaxTime says', async () => {
    const collector = await recorder();
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchSize: 100, batchMaxTime: 60_000 });
    for (let i = 0; i < 3; i++) await call(`/item/${i}`);
    await waitFor(() => mw.stats().queued === 3);
    expect(collector.requests).toHaveLength(0);
    await mw.flush();
    expect(mw.stats()).toMatchObject({ queued: 0, sent: 3 });
    expect(uris(collector)).toEqual(['/item/0', '/item/1', '/item/2']);
  });

  it('splits a batch the collector refuses as too large (413) and still delivers every event', async () => {
    const collector = await recorder();
    collector.answer = (req) => ((req.body as unknown[]).length > 1 ? { status: 413 } : { status: 201 });
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchSize: 10, batchMaxTime: 60_000 });
    for (let i = 0; i < 4; i++) await call(`/item/${i}`);
    await mw.flush();
    expect(uris(collector).sort()).toEqual(['/item/0', '/item/1', '/item/2', '/item/3']);
    expect(mw.stats()).toMatchObject({ queued: 0, sent: 4, dropped: 0, rejected: 0 });
  });
});

describe('the next batch', () => {
  // Items of 10 characters: a body of one is 12 bytes, of two 23, of three 34.
  const items = ['a'.repeat(10), 'b'.repeat(10), 'c'.repeat(10)];

  it('takes everything waiting, within the count and byte limits', () => {
    expect(batchLength(items, 1000, 1000)).toBe(3);
    expect(batchLength(items, 2, 1000)).toBe(2);
    expect(batchLength(items, 1000, 30)).toBe(2);
    expect(batchLength([], 1000, 1000)).toBe(0);
  });

  it('takes a batch whose body is exactly the byte limit, and not one byte more', () => {
    expect(batchBody(items.slice(0, 2))).toHaveLength(23);
    expect(batchLength(items, 1000, 23)).toBe(2);
    expect(batchLength(items, 1000, 22)).toBe(1);
  });

  it('takes an item larger than the byte limit alone, rather than never', () => {
    expect(batchLength(['x'.repeat(100), ...items], 1000, 30)).toBe(1);
  });

  it('counts bytes in UTF-8, not characters', () => {
    // Ten two-byte characters each: 20 bytes an item, so two of them no longer fit in 30.
    expect(batchLength(['é'.repeat(10), 'é'.repeat(10)], 1000, 30)).toBe(1);
  });
});

describe('a full batch that one request cannot carry', () => {
  it('sends all of it at once, in as many requests as the byte limit needs, not one per batchMaxTime', async () => {
    // Synthetic items: the outbox does not read what it queues, so they need not be events.
    const collector = await startRecorder(0, { contract: false });
    cleanups.push(() => collector.close());
    const outbox = createOutbox({
      send: createTransport({ baseUri: collector.url, applicationId: 'a', requestTimeout: 5000, gzip: true, maxSockets: 4 }),
      path: '/v1/events/batch',
      batchSize: 10,
      maxBatchCount: 1000,
      // Two of these items per request.
      maxBatchBytes: 1000,
      maxInFlight: 4,
      batchMaxTime: 60_000,
      maxQueueSize: 1000,
      maxQueueChars: 1_000_000,
      retryBaseDelay: 60_000,
      retryMaxDelay: 60_000,
      log: createLog(false),
    });
    for (let i = 0; i < 10; i++) outbox.push(JSON.stringify({ i, pad: 'x'.repeat(400) }));
    // No flush(): ten items waited, so all ten were due. The first request took two of them, and the
    // other eight waited a whole batchMaxTime for each further request.
    await waitFor(() => outbox.stats().sent === 10);
    expect(collector.requests.map((r) => (r.body as unknown[]).length)).toEqual([2, 2, 2, 2, 2]);
  });

  it('sends a batch refused as too large (413) again at once, in smaller requests, not after batchMaxTime', async () => {
    const collector = await recorder();
    collector.answer = (req) => ((req.body as unknown[]).length > 1 ? { status: 413 } : { status: 201 });
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchSize: 3, batchMaxTime: 60_000 });
    for (let i = 0; i < 3; i++) await call(`/item/${i}`);
    // No flush(): the batch left because batchSize events waited, and its parts are as due as it was.
    await waitFor(() => mw.stats().sent === 3);
    expect(uris(collector).sort()).toEqual(['/item/0', '/item/1', '/item/2']);
    expect(mw.stats()).toMatchObject({ queued: 0, sent: 3, dropped: 0, rejected: 0 });
  });
});

describe('a collector that is down or refusing', () => {
  it('delivers the events once the collector comes back, having said once that it could not reach it', async () => {
    // A typo in baseUri's host or a certificate the process does not trust fails for ever: without a
    // word, only stats() told. Retried as before, but named once on the console.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const port = await freePort();
    const { mw, call } = await appWith({
      applicationId: 'a',
      baseUri: `127.0.0.1:${port}`,
      batchMaxTime: 10,
      retryBaseDelay: 50,
      retryMaxDelay: 200,
    });
    for (let i = 0; i < 3; i++) expect(await call(`/item/${i}`)).toBe(`{"i":"${i}"}`);
    await waitFor(() => mw.stats().failedRequests >= 2);
    expect(mw.stats()).toMatchObject({ queued: 3, sent: 0 });
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
      '[usertrail/server] could not reach the collector (ECONNREFUSED); events are kept and retried',
    ]);
    const collector = await recorder(port);
    // The collector stores a batch before its answer reaches the middleware: wait for both.
    await waitFor(() => mw.stats().sent === 3, 5000);
    expect(uris(collector)).toEqual(['/item/0', '/item/1', '/item/2']);
    expect(mw.stats()).toMatchObject({ queued: 0, sent: 3, dropped: 0 });
  });

  it('bounds the queue while the collector is down: the oldest are dropped and counted', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const port = await freePort();
    const { mw, call } = await appWith({
      applicationId: 'a',
      baseUri: `http://127.0.0.1:${port}`,
      maxQueueSize: 5,
      batchSize: 100,
      batchMaxTime: 60_000,
      retryBaseDelay: 60_000,
    });
    for (let i = 0; i < 12; i++) await call(`/item/${i}`);
    await mw.flush(); // one attempt, refused: flush resolves anyway
    expect(mw.stats()).toMatchObject({ queued: 5, dropped: 7, sent: 0 });
    const collector = await recorder(port);
    await mw.flush();
    expect(uris(collector)).toEqual(['/item/7', '/item/8', '/item/9', '/item/10', '/item/11']);
    expect(mw.stats()).toMatchObject({ queued: 0, dropped: 7, sent: 5 });
  });

  it('waits at least as long as Retry-After before retrying a 503', async () => {
    const collector = await recorder();
    const attempts: number[] = [];
    collector.answer = () => {
      attempts.push(Date.now());
      return attempts.length === 1 ? { status: 503, headers: { 'Retry-After': '1' } } : { status: 201 };
    };
    const { call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchMaxTime: 10, retryBaseDelay: 10 });
    await call('/item/1');
    await waitFor(() => collector.events().length === 1, 5000);
    expect(attempts).toHaveLength(2);
    expect((attempts[1] as number) - (attempts[0] as number)).toBeGreaterThanOrEqual(950);
  });

  it('drops a batch refused for good (400) and goes on with the next', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const collector = await recorder();
    let first = true;
    collector.answer = () => {
      if (!first) return { status: 201 };
      first = false;
      return { status: 400 };
    };
    const outcomes: string[] = [];
    const { mw, call } = await appWith({
      applicationId: 'a',
      baseUri: collector.url,
      batchMaxTime: 60_000,
      callback: (_error, outcome) => outcomes.push(`${outcome.kind} ${outcome.status}`),
    });
    await call('/item/1');
    await mw.flush();
    await call('/item/2');
    await mw.flush();
    expect(uris(collector)).toEqual(['/item/2']);
    expect(mw.stats()).toMatchObject({ queued: 0, sent: 1, rejected: 1 });
    expect(outcomes).toEqual(['events 400', 'events 201']);
  });

  it('says so once, debug or not, when the collector refuses the events (a wrong applicationId)', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const collector = await recorder();
    collector.answer = () => ({ status: 401 });
    const { mw, call } = await appWith({ applicationId: 'wrong-app-id', baseUri: collector.url, batchMaxTime: 60_000 });
    for (let i = 0; i < 2; i++) {
      await call(`/item/${i}`);
      await mw.flush();
    }
    expect(mw.stats()).toMatchObject({ rejected: 2, sent: 0 });
    // Every event of the app was being thrown away without a word unless debug was on. Only this
    // test's warnings count: an earlier test's middleware may still warn while this one runs.
    const messages = warn.mock.calls.map((args) => args.map(String).join(' '));
    expect(messages.filter((message) => /HTTP 401/.test(message))).toEqual([expect.stringMatching(/HTTP 401 \(check applicationId\)/)]);
    for (const message of messages) expect(message).not.toContain('wrong-app-id');
  });

  it('names applicationId as the likely cause for a 403 too, and not for a 400 (an event the collector refused)', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const collector = await recorder();
    const statuses = [403, 400];
    collector.answer = () => ({ status: statuses.shift() ?? 201 });
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchMaxTime: 60_000 });
    for (let i = 0; i < 2; i++) {
      await call(`/item/${i}`);
      await mw.flush();
    }
    expect(mw.stats()).toMatchObject({ rejected: 2, sent: 0 });
    const messages = warn.mock.calls.map((args) => args.map(String).join(' '));
    expect(messages.filter((message) => /HTTP 403/.test(message))).toEqual([expect.stringMatching(/HTTP 403 \(check applicationId\)/)]);
    expect(messages.filter((message) => /HTTP 400/.test(message))).toEqual([expect.not.stringContaining('applicationId')]);
  });

  it('calls callback as moesif-nodejs does: (null, outcome) when delivered, (Error, outcome) when not', async () => {
    const collector = await recorder();
    let answer = 201;
    collector.answer = () => ({ status: answer });
    const calls: Array<[string | null, number]> = [];
    // Written for moesif-nodejs: `if (err)` is how it tells a failed batch. The first argument was
    // the outcome object, truthy for every batch, delivered or not.
    const callback = (error: unknown, outcome?: { status: number }) => {
      calls.push([error ? (error as Error).message : null, outcome?.status ?? -1]);
    };
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchMaxTime: 60_000, callback });
    await call('/item/1');
    await mw.flush();
    answer = 400;
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    await call('/item/2');
    await mw.flush();
    expect(calls).toEqual([
      [null, 201],
      ['HTTP 400', 400],
    ]);
  });

  it('a console.warn that throws (an app failing its tests on warnings) is not an unhandled rejection, and delivery goes on', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(async () => void process.off('unhandledRejection', onUnhandled));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {
      throw new Error('warnings fail this test suite');
    });
    const collector = await recorder();
    collector.answer = () => ({ status: 401 });
    // batchSize 1: the batch leaves at once, and no flush() awaits its request to catch what it throws.
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchSize: 1 });
    await call('/item/1');
    await waitFor(() => warn.mock.calls.length > 0);
    // Node reports an unhandled rejection at the end of the turn it happened in.
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
    collector.answer = () => ({ status: 201 });
    await call('/item/2');
    await waitFor(() => mw.stats().sent === 1);
    expect(mw.stats()).toMatchObject({ queued: 0, sent: 1, rejected: 1 });
  });

  it('an async callback that throws is not an unhandled rejection (which would end the process)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(async () => void process.off('unhandledRejection', onUnhandled));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const collector = await recorder();
    const failing = async () => {
      throw new Error('the app logs the outcome somewhere that is down');
    };
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchMaxTime: 60_000, callback: failing });
    await call('/item/1');
    await mw.flush();
    await mw.updateUser({ userId: 'u1' }, failing);
    // Both failures were caught (one warning, once per instance), and Node reports an unhandled
    // rejection at the end of the turn it happened in.
    await waitFor(() => warn.mock.calls.length > 0);
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([]);
    expect(mw.stats()).toMatchObject({ sent: 1 });
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('gives up on a slow collector after requestTimeout and keeps the events for later', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => {});
    const collector = await recorder();
    collector.answer = () => ({ status: 201, delayMs: 2000 });
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: collector.url, batchMaxTime: 60_000, requestTimeout: 100, retryBaseDelay: 60_000 });
    await call('/item/1');
    const started = Date.now();
    await mw.flush();
    expect(Date.now() - started).toBeLessThan(1500);
    expect(mw.stats()).toMatchObject({ queued: 1, failedRequests: 1 });
  });
});

describe('a collector whose answer never ends', () => {
  it('takes the status when it arrives and drops the connection after requestTimeout in all', async () => {
    // 201, then a byte every 50 ms for ever (a proxy streaming keep-alive padding): the socket is never
    // idle, so an idle timeout never fired, the batch stayed in flight and flush() never returned.
    let closed = false;
    const trickle = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(201, { 'Content-Type': 'application/json' });
        const timer = setInterval(() => res.write(' '), 50);
        res.on('close', () => {
          clearInterval(timer);
          closed = true;
        });
      });
    });
    await new Promise<void>((resolve) => trickle.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise((resolve) => {
          trickle.close(() => resolve());
          trickle.closeAllConnections();
        }),
    );
    const { port } = trickle.address() as AddressInfo;
    const { mw, call } = await appWith({ applicationId: 'a', baseUri: `http://127.0.0.1:${port}`, batchMaxTime: 60_000, requestTimeout: 300 });
    await call('/item/1');
    const started = Date.now();
    // Time is what is tested: flush() must end within requestTimeout although the answer never does.
    const flushed = await Promise.race([mw.flush().then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
    expect(flushed).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(mw.stats()).toMatchObject({ queued: 0, sent: 1, failedRequests: 0 });
    await waitFor(() => closed, 2000);
  });
});

describe('profile updates', () => {
  it('updateUser and updateCompany POST snake_case profiles, camelCase accepted as in moesif-nodejs', async () => {
    const collector = await recorder();
    const { mw } = await appWith({ applicationId: 'a', baseUri: collector.url });
    const cbArgs: unknown[] = [];
    const user = await mw.updateUser(
      { userId: 'u1', companyId: 'c1', campaign: { utmSource: 'google' }, metadata: { firstName: 'Ada' } },
      (error) => cbArgs.push(error),
    );
    const company = await mw.updateCompany({ companyId: 'c1', companyDomain: 'acme.test', metadata: { planName: 'Free' } });
    expect(user).toEqual({ status: 201, kind: 'users', count: 1 });
    expect(company).toEqual({ status: 201, kind: 'companies', count: 1 });
    expect(cbArgs).toEqual([null]);
    expect(collector.requests.map((r) => [r.path, r.body])).toEqual([
      ['/v1/users', { user_id: 'u1', company_id: 'c1', campaign: { utm_source: 'google' }, metadata: { firstName: 'Ada' } }],
      ['/v1/companies', { company_id: 'c1', company_domain: 'acme.test', metadata: { planName: 'Free' } }],
    ]);
    await mw.updateUsersBatch([{ userId: 'u2' }, { user_id: 'u3' }]);
    await mw.updateCompaniesBatch([{ companyId: 'c2' }]);
    expect(collector.requests.slice(2).map((r) => [r.path, r.body])).toEqual([
      ['/v1/users/batch', [{ user_id: 'u2' }, { user_id: 'u3' }]],
      ['/v1/companies/batch', [{ company_id: 'c2' }]],
    ]);
  });

  it('reports failures as values, never as rejections', async () => {
    const port = await freePort();
    const { mw } = await appWith({ applicationId: 'a', baseUri: `http://127.0.0.1:${port}` });
    const missing = await mw.updateUser({ metadata: {} });
    expect(missing).toMatchObject({ status: 0, error: 'user_id is required' });
    let cbError: Error | null = null;
    const down = await mw.updateCompany({ companyId: 'c' }, (error) => {
      cbError = error;
    });
    expect(down).toMatchObject({ status: 0, error: 'ECONNREFUSED' });
    expect(cbError).toBeInstanceOf(Error);
  });

  it('takes ids given as a MongoDB ObjectId or a BigInt, as the middleware does for calls', async () => {
    const collector = await recorder();
    const { mw } = await appWith({ applicationId: 'a', baseUri: collector.url });
    // As bson's ObjectId: an object whose toString() (and toJSON()) is the id's hex.
    const objectId = { toString: () => '65a1f0c2e4b0a1b2c3d4e5f6', toJSON: () => '65a1f0c2e4b0a1b2c3d4e5f6' };
    // The casts: a JavaScript app passes what its database gave it.
    expect(await mw.updateUser({ userId: objectId as unknown as string, companyId: 42n as unknown as string })).toEqual({ status: 201, kind: 'users', count: 1 });
    expect(await mw.updateCompany({ companyId: 9007199254740993n as unknown as string })).toEqual({ status: 201, kind: 'companies', count: 1 });
    expect(collector.requests.map((r) => r.body)).toEqual([
      { user_id: '65a1f0c2e4b0a1b2c3d4e5f6', company_id: '42' },
      { company_id: '9007199254740993' },
    ]);
  });

  it('reports a batch with a hole in it (null, a getter that throws) as a value, not a rejection', async () => {
    const collector = await recorder();
    const { mw } = await appWith({ applicationId: 'a', baseUri: collector.url });
    // A list built from a lookup that missed one row; an app calls these without awaiting, as moesif's docs do.
    const users = [{ userId: 'u1' }, null] as unknown as Parameters<MoesifMiddleware['updateUsersBatch']>[0];
    const company = Object.defineProperty({ companyId: 'c1' }, 'metadata', {
      enumerable: true,
      get() {
        throw new Error('lazy relation not loaded');
      },
    });
    const cbErrors: Array<Error | null> = [];
    await expect(mw.updateUsersBatch(users, (error) => cbErrors.push(error))).resolves.toMatchObject({ status: 0, kind: 'users', count: 2 });
    await expect(mw.updateCompany(company)).resolves.toMatchObject({ status: 0, kind: 'companies', count: 1 });
    expect(cbErrors).toEqual([expect.any(Error)]);
    expect(collector.requests).toEqual([]);
  });
});
