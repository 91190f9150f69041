// @vitest-environment node
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * The built ESM, as a server-rendered app imports it (npm test builds first). Typed by the source's
 * index, which the build's .d.ts files are made from.
 */
const importBuilt = async (): Promise<typeof import('../src/index')> => import(`${process.cwd()}/dist/usertrail.mjs`);

const rejections: unknown[] = [];
const onRejection = (reason: unknown): void => void rejections.push(reason);
/** One turn of the event loop: Node reports a promise rejected and left unhandled at the end of the turn. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => {
  rejections.length = 0;
  process.on('unhandledRejection', onRejection);
});
afterEach(() => {
  process.off('unhandledRejection', onRejection);
});

describe('on a server (Node, no window or document)', () => {
  it('the environment really has no DOM', () => {
    expect(typeof window).toBe('undefined');
    expect(typeof document).toBe('undefined');
  });

  it('the <script> build loads under CommonJS as module.exports, without a DOM', async () => {
    const { createRequire } = await import('node:module');
    const { copyFileSync, mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    // .cjs: the package is "type": "module", so a .js file next to it would load as ESM.
    const file = join(mkdtempSync(join(tmpdir(), 'usertrail-')), 'moesif.min.cjs');
    copyFileSync('dist/moesif.min.js', file);
    const moesif = createRequire(import.meta.url)(file);
    expect(typeof moesif.init).toBe('function');
    expect(() => moesif.track('Rendered')).not.toThrow();
  });

  it('importing the package does nothing and throws nothing', async () => {
    const sdk = await importBuilt();
    expect(typeof sdk.default.init).toBe('function');
    expect(typeof sdk.createMoesif).toBe('function');
  });

  it('every named export is a quiet no-op: nothing thrown, nothing rejected', async () => {
    const sdk = await importBuilt();
    expect(() => {
      sdk.init({ applicationId: 'ssr-app', host: 'http://127.0.0.1:9', batchMaxTime: 1, trackPageViews: true });
      sdk.identifyUser('u1', { plan: 'pro' });
      sdk.identifyCompany('c1', { size: 3 }, 'acme.test');
      sdk.identifySession('s1');
      sdk.track('Rendered', { page: '/' });
      sdk.trackPageView({ section: 'docs' });
      sdk.start();
      sdk.stop();
      sdk.grantPublishingConsent();
      sdk.revokePublishingConsent();
      sdk.reset();
      sdk.clearCookies();
      sdk.clearStorage();
      sdk.useWeb3({});
    }).not.toThrow();
    expect(sdk.resetAnonymousId()).toBeUndefined();
    expect(sdk.getAnonymousId()).toBeUndefined();
    expect(sdk.getUserId()).toBeUndefined();
    expect(sdk.getCompanyId()).toBeUndefined();
    expect(sdk.getSessionToken()).toBeUndefined();
    expect(sdk.isPublishingConsentGranted()).toBe(false);
    expect(() => sdk.getStats()).not.toThrow();
    await expect(sdk.flush()).resolves.toBeUndefined();
    await settle();
    expect(rejections).toEqual([]);
  });

  it('the default export, a created instance and moesif.new() are no-ops too, with bad input as well', async () => {
    const { default: moesif, createMoesif } = await importBuilt();
    for (const instance of [moesif, createMoesif(), moesif.new()]) {
      expect(() => {
        instance.init({ applicationId: 'ssr-app' });
        instance.init(null as never);
        instance.track(undefined as never, 'x' as never);
        instance.identifyUser({} as never);
        instance.identifyCompany(null as never);
        instance.identifySession(42 as never);
        instance.reset();
        instance.getAnonymousId();
        instance.getStats();
      }).not.toThrow();
      await expect(instance.flush()).resolves.toBeUndefined();
    }
    await settle();
    expect(rejections).toEqual([]);
  });

  it('calls made on the server are not kept for later (they could never be replayed)', async () => {
    const { createMoesif } = await importBuilt();
    const warn = vi.spyOn(console, 'warn');
    const instance = createMoesif();
    // Kept, the 1,001st would hit the limit on calls before init() and warn.
    for (let index = 0; index < 1001; index++) instance.track(`SSR ${index}`);
    instance.init({ applicationId: 'ssr-app' });
    expect(warn).not.toHaveBeenCalled();
    expect(instance.getStats()).toBeUndefined();
    await settle();
    expect(rejections).toEqual([]);
    warn.mockRestore();
  });
});
