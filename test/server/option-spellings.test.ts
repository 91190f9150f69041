// @vitest-environment node
/**
 * `BaseUri` and `ApplicationId`, the capitalised names moesif-nodejs 3.11's code reads besides
 * `baseUri` and `applicationId` (`options.baseUri || options.BaseUri`, lib/index.js), side by side
 * with the real moesif-nodejs: each SDK in an Express app of its own on 127.0.0.1, logging to the
 * recording collector its options name.
 */
import express from 'express';
import moesifNodejs from 'moesif-nodejs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import usertrail, { type MoesifOptions } from '../../src/server/index';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { startApp, startRecorder, waitFor, type Recorder } from './helpers';

type Sdk = 'moesif-nodejs' | 'usertrail';
// any: moesif-nodejs is JavaScript; both are called as the apps call them.
type Factory = (options: Record<string, unknown>) => express.RequestHandler & { flush?(): Promise<void> };
const FACTORY: Record<Sdk, Factory> = {
  'moesif-nodejs': moesifNodejs as unknown as Factory,
  usertrail: usertrail as unknown as Factory,
};
const SDKS: Sdk[] = ['moesif-nodejs', 'usertrail'];

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const resource of opened.splice(0).reverse()) await resource.close();
});

async function collector(sdk: Sdk): Promise<Recorder> {
  const recorder = await startRecorder(0, { contract: sdk === 'usertrail' });
  opened.push(recorder);
  return recorder;
}

/** One call through an app with `sdk`'s middleware made from `options`; resolves once it is sent. */
async function oneCall(sdk: Sdk, options: Record<string, unknown>): Promise<void> {
  // usertrail/server's batches leave at once here; moesif-nodejs's after its shortest batchMaxTime (it refuses 500 or less).
  const middleware = FACTORY[sdk]({ batchMaxTime: sdk === 'usertrail' ? 10 : 501, ...options });
  const api = await startApp((app) => {
    app.use(middleware);
    app.get('/items', (_req, res) => void res.json({ ok: true }));
  });
  opened.push(api);
  expect(await (await fetch(`${api.url}/items`)).json()).toEqual({ ok: true });
  await middleware.flush?.();
}

const eventsAt = (recorder: Recorder) =>
  waitFor(() => recorder.requests.find((request) => request.path === '/v1/events/batch'), 10_000);

describe('BaseUri and ApplicationId are read as moesif-nodejs reads them', () => {
  it('sends the events to the collector named by BaseUri alone, under ApplicationId', async () => {
    for (const sdk of SDKS) {
      const proxy = await collector(sdk);
      // moesif-nodejs checks only applicationId at start-up (it throws without it), so it gets both there.
      const id = sdk === 'usertrail' ? { ApplicationId: DEFAULT_APP_ID } : { applicationId: DEFAULT_APP_ID, ApplicationId: DEFAULT_APP_ID };
      await oneCall(sdk, { ...id, BaseUri: proxy.url });
      const batch = await eventsAt(proxy);
      expect({ sdk, appId: batch.headers['x-moesif-application-id'] }).toEqual({ sdk, appId: DEFAULT_APP_ID });
    }
  }, 30_000);

  it('takes baseUri over BaseUri when both are given, and says so once', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (const sdk of SDKS) {
      const named = await collector(sdk);
      const other = await collector(sdk);
      await oneCall(sdk, { applicationId: DEFAULT_APP_ID, baseUri: named.url, BaseUri: other.url });
      await eventsAt(named);
      expect({ sdk, toOther: other.requests.length }).toEqual({ sdk, toOther: 0 });
    }
    const said = warn.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('BaseUri'));
    expect(said).toEqual([expect.stringContaining('option "BaseUri" ignored: "baseUri" is given too')]);
  }, 30_000);

  it('takes applicationId over ApplicationId when both are given', async () => {
    const named = await collector('usertrail');
    await oneCall('usertrail', { applicationId: DEFAULT_APP_ID, ApplicationId: 'other-app-id', baseUri: named.url });
    expect((await eventsAt(named)).headers['x-moesif-application-id']).toBe(DEFAULT_APP_ID);
  });

  it('where moesif-nodejs throws at start-up for an ApplicationId without applicationId, logs under it', async () => {
    const named = await collector('usertrail');
    expect(() => moesifNodejs({ ApplicationId: DEFAULT_APP_ID, BaseUri: named.url } as unknown as Parameters<typeof moesifNodejs>[0])).toThrow(
      /application id is required/,
    );
    // Typed: a TypeScript app written so compiles too (the names are typed, as deprecated spellings).
    const options: MoesifOptions = { ApplicationId: DEFAULT_APP_ID, BaseUri: named.url };
    await oneCall('usertrail', { ...options });
    expect((await eventsAt(named)).headers['x-moesif-application-id']).toBe(DEFAULT_APP_ID);
  });
});

describe('baseUri as a URL object', () => {
  it('sends the events to a baseUri given as a URL object, as moesif-nodejs joins it to its paths', async () => {
    // A config module that builds the address with new URL(); usertrail/server threw a TypeError while
    // reading it and logged nothing ("options could not be read").
    for (const sdk of SDKS) {
      const proxy = await collector(sdk);
      await oneCall(sdk, { applicationId: DEFAULT_APP_ID, baseUri: new URL(proxy.url) });
      const batch = await eventsAt(proxy);
      expect({ sdk, appId: batch.headers['x-moesif-application-id'] }).toEqual({ sdk, appId: DEFAULT_APP_ID });
    }
  }, 30_000);
});
