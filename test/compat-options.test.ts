import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';
import { describe, expect, it, vi } from 'vitest';
import type { Log } from '../src/log';
import { resolveOptions } from '../src/options';
import { createMoesif } from '../src/moesif';
import { messages, spyConsole, useSdk } from './support/page';

/**
 * Migration audit: a site moving from moesif-browser-js 1.8.13 keeps its init() options as they are.
 * Every option name moesif reads (`options['X']` in its src/moesif.js, read from node_modules here so
 * that the list is moesif's, not ours) must be taken without the console error usertrail prints for
 * unknown options, and so must moesif's documented default values.
 */

const fakeLog = () => ({ warn: vi.fn(), error: vi.fn(), debug: vi.fn() }) satisfies Log;

const MOESIF_SOURCE = readFileSync(`${process.cwd()}/node_modules/moesif-browser-js/src/moesif.js`, 'utf8');
const moesifOptionNames = [...new Set(Array.from(MOESIF_SOURCE.matchAll(/options\['(\w+)'\]/g), (match) => match[1]))].sort();

/** A value of the kind moesif's README and source give each option (its default where it has one). */
const hook = () => undefined;
const SAMPLE: Record<string, unknown> = {
  applicationId: 'app',
  apiVersion: '1.0.0',
  batchEnabled: true,
  batchMaxTime: 2500,
  batchSize: 25,
  // ms: moesif's request timeout for batches (default 90000) and the age at which a queued batch item expires (default 6 h).
  batchStorageExpiration: 6 * 60 * 60 * 1000,
  batchTimeout: 90_000,
  callback: hook,
  cookieDomain: '.example.test',
  cookieExpiration: 365,
  crossSiteCookie: false,
  crossSubdomainCookie: true,
  debug: false,
  disableFetch: false,
  disableGclid: false,
  disableReferrer: false,
  disableUtm: false,
  // README: "If you are an Angular user or find that the response is not being captured, turn this option on".
  eagerBodyLogging: true,
  getApiVersion: hook,
  getMetadata: hook,
  getTags: hook,
  host: 'api.moesif.net',
  maskContent: (event: unknown) => event,
  persistence: 'localStorage',
  persistenceKeyPrefix: 'moesif_',
  secureCookie: false,
  skip: () => false,
};

describe("moesif-browser-js's options", () => {
  it('the list read from moesif-browser-js is the one this test has values for', () => {
    expect(moesifOptionNames).toEqual(Object.keys(SAMPLE).sort());
  });

  it.each(moesifOptionNames.filter((name) => name != 'applicationId'))('%s is accepted without an error', (name) => {
    const log = fakeLog();
    resolveOptions({ applicationId: 'app', [name]: SAMPLE[name] }, 'https:', log);
    expect(log.error.mock.calls.map(([message]) => String(message))).toEqual([]);
  });

  // moesif-browser-js 1.9 and 1.10 exist only in its source repository (tag v1.10.2), so the names its
  // src/moesif.js reads beyond 1.8.13's (`options['X']` and `Object.hasOwn(options, 'X')`) are listed here.
  it.each([
    ['enableCrossDomainTracking', true],
    ['crossDomainTargets', ['acme-cloud.com']],
    ['crossDomainTrackingParameterName', '__mt'],
    ['requirePublishingConsent', true],
    // "Max pending requests before consent", default 1000.
    ['maxQueueSize', 1000],
  ])('moesif-browser-js 1.10 option %s is accepted without an error', (name, value) => {
    const log = fakeLog();
    resolveOptions({ applicationId: 'app', [name]: value }, 'https:', log);
    expect(log.error.mock.calls.map(([message]) => String(message))).toEqual([]);
  });

  it("cookieDomain: '' (moesif's documented default) is accepted without an error", () => {
    const log = fakeLog();
    const options = resolveOptions({ applicationId: 'app', cookieDomain: '' }, 'https:', log)!;
    expect(log.error.mock.calls.map(([message]) => String(message))).toEqual([]);
    expect(options.cookieDomain ?? '').toBe('');
  });

  it('a typical Angular migration, init() with eagerBodyLogging, prints nothing on the console', () => {
    const console = spyConsole();
    createMoesif().init({ applicationId: 'app', host: 'http://127.0.0.1:9', eagerBodyLogging: true } as never);
    expect(messages(console.error)).toEqual([]);
  });
});

describe('numeric and boolean options given as strings', () => {
  const sdk = useSdk();
  const MOESIF_JS = readFileSync(`${process.cwd()}/node_modules/moesif-browser-js/moesif.min.js`, 'utf8');
  /** The number of items in each batch of actions the collector received for `applicationId`, in order. */
  const actionBatches = (applicationId: string) =>
    sdk.collector
      .from(applicationId)
      .filter((request) => request.path == '/v1/actions/batch')
      .map((request) => (request.body as unknown[]).length);

  it("moesif-browser-js 1.8.13 uses them as numbers: batchSize: '2' sends three actions as batches of 2 and 1", async () => {
    const applicationId = `moesif-strings-${process.pid}`;
    const dom = new JSDOM('<!doctype html>', { url: 'http://app.example.test/', runScripts: 'outside-only' });
    // jsdom has no blob URLs, from which moesif's uuid4() (its transaction ids) reads a UUID.
    Object.assign(dom.window.URL, { createObjectURL: () => `blob:http://app.example.test/${crypto.randomUUID()}`, revokeObjectURL: () => {} });
    try {
      dom.window.eval(MOESIF_JS);
      const moesif = (dom.window as unknown as { moesif: { init(options: object): void; track(name: string): void } }).moesif;
      moesif.init({ applicationId, host: `127.0.0.1:${sdk.collector.port}`, batchEnabled: true, batchSize: '2', batchMaxTime: '50' });
      for (const n of [1, 2, 3]) moesif.track(`Action ${n}`);
      await vi.waitFor(() => expect(actionBatches(applicationId)).toEqual([2, 1]), { timeout: 5_000 });
    } finally {
      dom.window.close();
    }
  });

  it("moesif-browser-js 1.8.13 takes any non-empty string as true, so batchEnabled: 'false' still batches; usertrail reads it as false", async () => {
    const applicationId = `moesif-false-${process.pid}`;
    const dom = new JSDOM('<!doctype html>', { url: 'http://app.example.test/', runScripts: 'outside-only' });
    Object.assign(dom.window.URL, { createObjectURL: () => `blob:http://app.example.test/${crypto.randomUUID()}`, revokeObjectURL: () => {} });
    try {
      dom.window.eval(MOESIF_JS);
      const moesif = (dom.window as unknown as { moesif: { init(options: object): void; track(name: string): void } }).moesif;
      moesif.init({ applicationId, host: `127.0.0.1:${sdk.collector.port}`, batchEnabled: 'false', batchSize: 2, batchMaxTime: 50 });
      for (const n of [1, 2, 3]) moesif.track(`Action ${n}`);
      await vi.waitFor(() => expect(actionBatches(applicationId)).toEqual([2, 1]), { timeout: 5_000 });
    } finally {
      dom.window.close();
    }
    const console = spyConsole();
    const usertrail = sdk.start({ batchEnabled: 'false', batchSize: 2, batchMaxTime: 50 } as never);
    for (const n of [1, 2, 3]) usertrail.moesif.track(`Action ${n}`);
    await vi.waitFor(() => expect(actionBatches(usertrail.applicationId)).toEqual([1, 1, 1]), { timeout: 5_000 });
    expect(messages(console.error)).toEqual([]);
  });

  it('usertrail takes them as their numbers too, with no console error', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start({ batchSize: '2', batchMaxTime: '50', cookieExpiration: '30' } as never);
    moesif.track('With string options');
    await moesif.flush();
    expect(messages(console.error)).toEqual([]);
    expect(actionBatches(applicationId)).toEqual([1]);
  });
});
