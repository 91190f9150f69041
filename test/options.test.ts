import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import type { Log } from '../src/log';
import { baseUrlFor, resolveOptions } from '../src/options';
import { messages, spyConsole, useSdk } from './support/page';

const fakeLog = () => ({ warn: vi.fn(), error: vi.fn(), debug: vi.fn() }) satisfies Log;

describe('resolveOptions', () => {
  it('fills in moesif-browser-js defaults for every option not given', () => {
    const log = fakeLog();
    const options = resolveOptions({ applicationId: 'app' }, 'https:', log)!;
    // Every option, as the @default of its documentation (src/options.ts) says: the options without one are absent.
    expect(options).toEqual({
      applicationId: 'app',
      baseUrl: 'https://api.moesif.net',
      persistence: 'localStorage',
      persistenceKeyPrefix: 'moesif_',
      crossSubdomainCookie: true,
      cookieExpiration: 365,
      secureCookie: false,
      crossSiteCookie: false,
      disableUtm: false,
      disableReferrer: false,
      disableGclid: false,
      debug: false,
      batchEnabled: true,
      batchSize: 25,
      batchMaxTime: 2500,
      maxOutboxBytes: 1_000_000,
      maxOutboxAge: 86_400_000,
      batchTimeout: 90_000,
      useBeacon: false,
      disableFetch: false,
      eagerBodyLogging: false,
      sampleRate: 1,
      maxBodyBytes: 65_536,
      requirePublishingConsent: false,
      maxQueueSize: 1000,
      respectDoNotTrack: false,
      trackPageViews: false,
      enableCrossDomainTracking: false,
      crossDomainTargets: [],
      crossDomainTrackingParameterName: '__mt',
    });
    expect(log.error).not.toHaveBeenCalled();
  });

  it('keeps a user-given false or 0 instead of replacing it with the default (?? semantics)', () => {
    const log = fakeLog();
    const options = resolveOptions(
      { applicationId: 'app', crossSubdomainCookie: false, batchEnabled: false, sampleRate: 0, disableUtm: false, debug: false },
      'https:',
      log,
    )!;
    expect(options.crossSubdomainCookie).toBe(false);
    expect(options.batchEnabled).toBe(false);
    expect(options.sampleRate).toBe(0);
    expect(options.disableUtm).toBe(false);
    expect(log.error).not.toHaveBeenCalled();
  });

  it('checks a user-given 0 rather than skipping it: cookieExpiration 0 is reported and replaced by 365', () => {
    const log = fakeLog();
    const options = resolveOptions({ applicationId: 'app', cookieExpiration: 0 }, 'https:', log)!;
    expect(options.cookieExpiration).toBe(365);
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error.mock.calls[0][0]).toContain('cookieExpiration');
  });

  it('treats null like a missing option: the default, and no error', () => {
    const log = fakeLog();
    const options = resolveOptions({ applicationId: 'app', batchSize: null, persistence: null }, 'https:', log)!;
    expect(options.batchSize).toBe(25);
    expect(options.persistence).toBe('localStorage');
    expect(log.error).not.toHaveBeenCalled();
  });

  it('takes a sampleRate from 0 to 1, both ends included, and refuses one below 0', () => {
    for (const sampleRate of [0, 0.25, 1]) {
      const log = fakeLog();
      expect(resolveOptions({ applicationId: 'app', sampleRate }, 'https:', log)!.sampleRate).toBe(sampleRate);
      expect(log.error).not.toHaveBeenCalled();
    }
    const log = fakeLog();
    expect(resolveOptions({ applicationId: 'app', sampleRate: -0.5 }, 'https:', log)!.sampleRate).toBe(1);
    expect(log.error).toHaveBeenCalledTimes(1);
  });

  it('names each bad option in exactly one error and replaces it with its default', () => {
    const log = fakeLog();
    const bad = {
      persistence: 'disk',
      batchSize: 0,
      batchMaxTime: -1,
      cookieExpiration: '30 days',
      debug: 'yes',
      crossSubdomainCookie: 1,
      callback: 'not a function',
      host: '   ',
      cookieDomain: 42,
      sampleRate: 1.5,
      persistenceKeyPrefix: '   ',
    };
    const options = resolveOptions({ applicationId: 'app', ...bad }, 'https:', log)!;
    const errors = log.error.mock.calls.map(([message]) => String(message));
    expect(errors).toHaveLength(Object.keys(bad).length);
    for (const name of Object.keys(bad)) {
      expect(errors.filter((message) => message.includes(`"${name}"`)), name).toHaveLength(1);
    }
    expect(options).toMatchObject({
      persistence: 'localStorage',
      batchSize: 25,
      batchMaxTime: 2500,
      cookieExpiration: 365,
      debug: false,
      crossSubdomainCookie: true,
      sampleRate: 1,
      persistenceKeyPrefix: 'moesif_',
      baseUrl: 'https://api.moesif.net',
    });
    expect(options.callback).toBeUndefined();
    expect(options.cookieDomain).toBeUndefined();
  });

  it('takes a numeric option given as a string that reads as a number as that number, without an error (as moesif-browser-js does)', () => {
    const log = fakeLog();
    const options = resolveOptions(
      {
        applicationId: 'app',
        batchSize: '10',
        batchMaxTime: ' 2000 ',
        batchTimeout: '5e3',
        batchStorageExpiration: '3600000',
        cookieExpiration: '30',
        maxQueueSize: '500',
        sampleRate: '0.5',
        maxBodyBytes: '1024',
      },
      'https:',
      log,
    )!;
    expect(log.error).not.toHaveBeenCalled();
    expect(options).toMatchObject({ batchSize: 10, batchMaxTime: 2000, batchTimeout: 5000, maxOutboxAge: 3_600_000, cookieExpiration: 30, maxQueueSize: 500, sampleRate: 0.5, maxBodyBytes: 1024 });
  });

  it("reads the strings 'true' and 'false' (any case, trimmed) as the booleans they name, without an error", () => {
    const log = fakeLog();
    const options = resolveOptions(
      { applicationId: 'app', batchEnabled: 'false', debug: 'TRUE', disableUtm: ' True ', crossSubdomainCookie: 'False', trackPageViews: 'true ' },
      'https:',
      log,
    )!;
    expect(log.error).not.toHaveBeenCalled();
    expect(options).toMatchObject({ batchEnabled: false, debug: true, disableUtm: true, crossSubdomainCookie: false, trackPageViews: true });
  });

  it('refuses any other string for a boolean option, by name and without its value, and keeps the default', () => {
    const log = fakeLog();
    const bad = { batchEnabled: 'no', debug: 'yes', disableUtm: '0', crossSubdomainCookie: 'jane@example.com', trackPageViews: 'on' };
    const options = resolveOptions({ applicationId: 'app', ...bad }, 'https:', log)!;
    const errors = log.error.mock.calls.map(([message]) => String(message));
    expect(errors).toEqual(Object.keys(bad).map((name) => `init(): option "${name}" is unknown or invalid: ignored`));
    expect(errors.join(' ')).not.toContain('example.com');
    expect(options).toMatchObject({ batchEnabled: true, debug: false, disableUtm: false, crossSubdomainCookie: true, trackPageViews: false });
  });

  it('refuses text that is no number, or no valid one, for a numeric option, by name, as it refuses a bad number', () => {
    const log = fakeLog();
    const bad = { batchSize: 'many', batchMaxTime: '2s', sampleRate: '50%', cookieExpiration: 'Infinity', batchTimeout: '0', maxBodyBytes: '   ' };
    const options = resolveOptions({ applicationId: 'app', ...bad }, 'https:', log)!;
    const errors = log.error.mock.calls.map(([message]) => String(message));
    expect(errors).toEqual(Object.keys(bad).map((name) => `init(): option "${name}" is unknown or invalid: ignored`));
    expect(options).toMatchObject({ batchSize: 25, batchMaxTime: 2500, sampleRate: 1, cookieExpiration: 365, batchTimeout: 90_000, maxBodyBytes: 65_536 });
  });

  it('names an option it does not know (a typo, or a moesif option usertrail lacks) in one error, and ignores it', () => {
    const log = fakeLog();
    const options = resolveOptions({ applicationId: 'app', persistance: 'none', batchsize: 5 }, 'https:', log)!;
    expect(log.error.mock.calls.map(([message]) => String(message))).toEqual([
      'init(): option "persistance" is unknown or invalid: ignored',
      'init(): option "batchsize" is unknown or invalid: ignored',
    ]);
    expect(options).toMatchObject({ persistence: 'localStorage', batchSize: 25 });
    expect(options).not.toHaveProperty('persistance');
  });

  it.each([
    ['no options object', undefined],
    ['null', null],
    ['a string', 'app'],
    ['a missing applicationId', {}],
    ['an empty applicationId', { applicationId: '' }],
    ['a whitespace applicationId', { applicationId: '   ' }],
    ['a numeric applicationId', { applicationId: 123 }],
  ])('refuses %s with one error and no options', (_name, input) => {
    const log = fakeLog();
    expect(resolveOptions(input, 'https:', log)).toBeUndefined();
    expect(log.error).toHaveBeenCalledTimes(1);
  });
});

describe('baseUrlFor', () => {
  it('sends to https://api.moesif.net by default, even from an http page', () => {
    expect(baseUrlFor(undefined, 'http:')).toBe('https://api.moesif.net');
    expect(baseUrlFor(undefined, 'https:')).toBe('https://api.moesif.net');
  });

  it("makes moesif's host[:port] form follow the page's scheme", () => {
    expect(baseUrlFor('localhost:8787', 'http:')).toBe('http://localhost:8787');
    expect(baseUrlFor('localhost:8787', 'https:')).toBe('https://localhost:8787');
    expect(baseUrlFor('collector.acme.test', 'https:')).toBe('https://collector.acme.test');
  });

  it('uses a full base URL as given, without its trailing slashes', () => {
    expect(baseUrlFor('https://collector.acme.test/', 'http:')).toBe('https://collector.acme.test');
    expect(baseUrlFor('http://127.0.0.1:9000', 'https:')).toBe('http://127.0.0.1:9000');
    expect(baseUrlFor('https://acme.test/moesif//', 'http:')).toBe('https://acme.test/moesif');
  });

  it('the resolved options carry the base URL for the given host and page scheme', () => {
    expect(resolveOptions({ applicationId: 'a', host: 'localhost:8787' }, 'http:', fakeLog())!.baseUrl).toBe('http://localhost:8787');
    expect(resolveOptions({ applicationId: 'a', host: 'localhost:8787' }, 'https:', fakeLog())!.baseUrl).toBe('https://localhost:8787');
  });
});

describe('init() through the public API', () => {
  const sdk = useSdk();

  it("a host without a scheme follows the http page's scheme and reaches the collector", async () => {
    const { moesif, applicationId } = sdk.start({ host: `127.0.0.1:${sdk.collector.port}` });
    moesif.track('Clicked');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch').map((item) => item.action_name)).toEqual(['Clicked']);
  });

  it('reports a bad option by name on the console and keeps working with the default', async () => {
    const console = spyConsole();
    const { moesif, applicationId } = sdk.start({ batchSize: 'many' as unknown as number });
    const errors = messages(console.error);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('"batchSize"');
    moesif.track('Still works');
    await moesif.flush();
    expect(sdk.collector.items(applicationId, '/v1/actions/batch')).toHaveLength(1);
  });

  it.each([
    ['a missing', {}],
    ['an empty', { applicationId: '' }],
  ])('with %s applicationId: one error, nothing sent, later calls are quiet no-ops', async (_name, input) => {
    const console = spyConsole();
    const before = sdk.collector.requests.length;
    const moesif = sdk.fresh();
    expect(() => moesif.init({ ...input, host: sdk.collector.url, batchMaxTime: 10 } as never)).not.toThrow();
    expect(messages(console.error)).toHaveLength(1);
    expect(messages(console.error)[0]).toContain('applicationId');
    expect(() => {
      moesif.identifyUser('u1', { a: 1 });
      moesif.identifyCompany('c1');
      moesif.identifySession('s1');
      moesif.track('Clicked');
      moesif.reset();
    }).not.toThrow();
    expect(moesif.getAnonymousId()).toBeUndefined();
    expect(moesif.getUserId()).toBeUndefined();
    // No delivery exists (no stats), so nothing can be sent later either.
    expect(moesif.getStats()).toBeUndefined();
    await expect(moesif.flush()).resolves.toBeUndefined();
    expect(sdk.collector.requests.length).toBe(before);
    expect(Object.keys(localStorage)).toEqual([]);
  });
});

describe("the README's Options table", () => {
  /** Each row of the table: the option names in its first cell, and its default cell. */
  const rows = (() => {
    const readme = readFileSync(`${process.cwd()}/README.md`, 'utf8');
    const table = readme.split('\n## Options\n')[1]!.split('\n## ')[0]!;
    return table
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => {
        const [names, defaults] = line.split('|').slice(1).map((cell) => cell.trim());
        return { names: Array.from(names!.matchAll(/`(\w+)`/g), (match) => match[1]!), defaults: defaults!, split: names!.includes(' / ') };
      });
  })();
  /** A default as the table writes it: a literal in backticks (a unit after it), 1 MB, 24 h, or nothing. */
  const valueOf = (text: string): unknown => {
    const literal = /^`(.*)`(?: ms)?$/.exec(text)?.[1];
    if (literal != undefined) return literal.startsWith("'") ? literal.slice(1, -1) : (JSON.parse(literal) as unknown);
    const words: Record<string, number | undefined> = { '1 MB': 1_000_000, '24 h': 86_400_000, '': undefined };
    return text in words ? words[text] : 'not compared';
  };
  const resolved = resolveOptions({ applicationId: 'app' }, 'https:', fakeLog())! as unknown as Record<string, unknown>;

  it('names every option that has a default', () => {
    const named = rows.flatMap((row) => row.names);
    expect(Object.keys(resolved).filter((name) => name != 'baseUrl' && !named.includes(name))).toEqual([]);
  });

  it('gives each default as init() fills it in', () => {
    const stated: Record<string, unknown> = {};
    for (const { names, defaults, split } of rows) {
      // `batchSize` / `batchMaxTime` | `25` / `2500` ms: one default per name; a list (`a`, `b`), or one default, is shared.
      const values = split && defaults.includes(' / ') ? defaults.split(' / ').map((part, n, all) => valueOf(n < all.length - 1 && / ms$/.test(defaults) ? `${part} ms` : part)) : names.map(() => valueOf(defaults));
      names.forEach((name, n) => {
        if (values[n] != 'not compared') stated[name] = values[n];
      });
    }
    // Every option with a default but cookieDomain (found by probing) is compared, and those without one.
    expect(Object.keys(stated).length).toBeGreaterThan(Object.keys(resolved).length);
    expect(stated).toEqual(Object.fromEntries(Object.keys(stated).map((name) => [name, resolved[name]])));
    // The two defaults the table words: no application id, and the host.
    expect(rows.find((row) => row.names[0] == 'applicationId')!.defaults).toBe('(required)');
    expect(rows.find((row) => row.names[0] == 'host')!.defaults).toBe('`api.moesif.net` (https)');
    expect(resolved.baseUrl).toBe('https://api.moesif.net');
  });
});
