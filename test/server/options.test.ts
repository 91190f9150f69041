// @vitest-environment node
/** Where events go: the forms of baseUri that moesif-nodejs users write. */
import { describe, expect, it } from 'vitest';
import { defaultIdentifyUser, normalizeBaseUri, type MoesifOptions, type MoesifRequest } from '../../src/server/index';
import { resolveOptions } from '../../src/server/options';

describe('normalizeBaseUri', () => {
  it('accepts full URLs, keeps a path prefix and drops trailing slashes', () => {
    expect(normalizeBaseUri('https://api.moesif.net')).toBe('https://api.moesif.net');
    expect(normalizeBaseUri('http://127.0.0.1:8787/')).toBe('http://127.0.0.1:8787');
    expect(normalizeBaseUri('https://proxy.example.com/moesif/')).toBe('https://proxy.example.com/moesif');
  });

  it('reads a bare host[:port] as https, or http for loopback', () => {
    expect(normalizeBaseUri('collector.example.com:8443')).toBe('https://collector.example.com:8443');
    expect(normalizeBaseUri('127.0.0.1:8787')).toBe('http://127.0.0.1:8787');
    expect(normalizeBaseUri('localhost:8787')).toBe('http://localhost:8787');
  });

  it('refuses what is not an http(s) address rather than guess', () => {
    expect(normalizeBaseUri('')).toBeUndefined();
    expect(normalizeBaseUri('ftp://x')).toBeUndefined();
    expect(normalizeBaseUri('http://')).toBeUndefined();
  });
});

describe('defaultIdentifyUser', () => {
  const req = (fields: Record<string, unknown>) => fields as unknown as MoesifRequest;
  it('prefers req.user.id, then req.auth.id and req.auth.sub (express-jwt 7+), then req.user.sub', () => {
    expect(defaultIdentifyUser(req({ user: { id: 'a', sub: 'c' }, auth: { id: 'd', sub: 'b' } }))).toBe('a');
    expect(defaultIdentifyUser(req({ user: { sub: 'c' }, auth: { id: 'd', sub: 'b' } }))).toBe('d');
    expect(defaultIdentifyUser(req({ user: { sub: 'c' }, auth: { sub: 'b' } }))).toBe('b');
    expect(defaultIdentifyUser(req({ user: { sub: 'c' } }))).toBe('c');
    expect(defaultIdentifyUser(req({}))).toBeUndefined();
  });
});

describe('resolveOptions', () => {
  it("takes the README's defaults (Delivery, What is logged): batches of 200 (as moesif-nodejs) or 2 s, a queue of 10,000, 10 s per request, bodies up to 100 KB, gzip, no debug output", () => {
    expect(resolveOptions({ applicationId: 'a' })).toMatchObject({
      batchSize: 200,
      batchMaxTime: 2000,
      maxQueueSize: 10_000,
      requestTimeout: 10_000,
      logBody: true,
      requestMaxBodySize: 100_000,
      responseMaxBodySize: 100_000,
      gzip: true,
      debug: false,
    });
  });

  it('takes each number down to its least value, and gives a value it cannot use its default, with one warning each', () => {
    const warnings: string[] = [];
    // As read from environment variables and config files: not what the types ask for.
    const given: Record<string, unknown> = { applicationId: 'a', batchSize: 1, hookTimeout: 1, requestMaxBodySize: 0, responseMaxBodySize: -1, logBody: 'yes', gzip: 'maybe' };
    expect(resolveOptions(given as MoesifOptions, (message) => warnings.push(message))).toMatchObject({
      batchSize: 1,
      hookTimeout: 1,
      requestMaxBodySize: 0,
      responseMaxBodySize: 100_000,
      logBody: true,
      gzip: true,
    });
    expect(warnings.map((message) => message.split(' ')[0])).toEqual(['logBody', 'responseMaxBodySize', 'gzip']);
  });

  it("reads an empty baseUri as not given, as its doc and moesif-nodejs do: Moesif's collector (an empty variable in the environment disabled the middleware)", () => {
    for (const baseUri of ['', null]) {
      expect(resolveOptions({ applicationId: 'a', baseUri } as unknown as MoesifOptions)).toMatchObject({ baseUri: 'https://api.moesif.net' });
    }
    expect(resolveOptions({ applicationId: 'a', baseUri: '', BaseUri: 'http://127.0.0.1:8787' })).toMatchObject({ baseUri: 'http://127.0.0.1:8787' });
  });

  it('takes a baseUri given as a URL object as its address, and refuses one of another type by name (it threw a TypeError)', () => {
    expect(resolveOptions({ applicationId: 'a', baseUri: new URL('http://127.0.0.1:8787/moesif/') } as unknown as MoesifOptions)).toMatchObject({
      baseUri: 'http://127.0.0.1:8787/moesif',
    });
    expect(resolveOptions({ applicationId: 'a', baseUri: 8787 } as unknown as MoesifOptions)).toEqual({
      error: 'baseUri is not an http(s) URL or host:port; API calls will not be logged',
    });
  });

  it("gives an event's hooks 5 s together by default, as the README says, and takes another limit (hookTimeout, ms)", () => {
    expect(resolveOptions({ applicationId: 'a' })).toMatchObject({ hookTimeout: 5000 });
    expect(resolveOptions({ applicationId: 'a', hookTimeout: 250 })).toMatchObject({ hookTimeout: 250 });
  });
});
