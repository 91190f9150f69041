import { describe, expect, it, vi } from 'vitest';
import { decorateUrl, isAcceptedId, isTarget, targetHostname, withParameter, type Decoration } from '../src/cross-domain';
import type { Log } from '../src/log';
import { resolveOptions } from '../src/options';
import { KEYS, cookies, messages, spyConsole, useSdk } from './support/page';

const PAGE = 'https://www.acme-docs.com/guide?x=1';
const TARGETS = ['acme-cloud.com'];
/** Decorating on PAGE, with its own base, for TARGETS. */
const on = (overrides: Partial<Decoration> = {}): Decoration => ({ base: PAGE, origin: new URL(PAGE).origin, targets: TARGETS, name: '__mt', id: ID, ...overrides });
const ID = 'c0ffee00-0000-4000-8000-000000000001';

describe('the id a link may carry (moesif-browser-js 1.10 isValidAnonymousId, kept exactly)', () => {
  it.each([
    ['a UUID (usertrail, and moesif-browser-js before 1.9)', ID],
    ["moesif-browser-js's own id, hex groups of other lengths", '18f3b5c1a2e-0d4c1b2e3a4f5-4c1d2e3f-1fa400-18f3b5c1a2e'],
    ['upper-case hex', 'ABCDEF01-2345'],
    ['dashes only', '-'],
    ['exactly 200 characters', 'a-'.repeat(100)],
  ])('accepts %s', (_name, value) => {
    expect(isAcceptedId(value)).toBe(true);
  });

  it.each([
    ['no dash', 'abcdef0123456789'],
    ['a letter past f', 'abcdeg-0123'],
    ['a space', 'abc-def 012'],
    ['an encoded script', '<script>-1'],
    ['201 characters', 'a-'.repeat(100) + 'a'],
    ['an empty string', ''],
    ['a number', 12345],
    ['null', null],
  ])('refuses %s', (_name, value) => {
    expect(isAcceptedId(value)).toBe(false);
  });
});

describe('which hosts are targets', () => {
  it('a target domain and its subdomains; not a host that only ends with its letters', () => {
    expect(isTarget('acme-cloud.com', TARGETS)).toBe(true);
    expect(isTarget('app.acme-cloud.com', TARGETS)).toBe(true);
    expect(isTarget('a.b.acme-cloud.com', TARGETS)).toBe(true);
    expect(isTarget('notacme-cloud.com', TARGETS)).toBe(false);
    expect(isTarget('acme-cloud.com.evil.test', TARGETS)).toBe(false);
    expect(isTarget('cloud.com', TARGETS)).toBe(false);
  });

  it('a target is written as a URL writes its host: lower case, an international name in ASCII, a leading dot dropped', () => {
    expect(targetHostname('ACME-Cloud.COM')).toBe('acme-cloud.com');
    expect(targetHostname('Bücher.example')).toBe('xn--bcher-kva.example');
    expect(targetHostname('.acme-cloud.com')).toBe('acme-cloud.com');
    expect(isTarget(new URL('https://shop.bücher.example/').hostname, [targetHostname('bücher.example')])).toBe(true);
    // No URL can hold it: it matches nothing, and decorating goes on for the other targets.
    expect(targetHostname('acme%cloud.com')).toBe('acme%cloud.com');
  });

  it('null targets every host, an empty list none', () => {
    expect(isTarget('anything.test', null)).toBe(true);
    expect(isTarget('acme-cloud.com', [])).toBe(false);
  });
});

describe('setting and removing the parameter in a query', () => {
  it('adds it at the end, keeping the other parameters exactly as written', () => {
    expect(withParameter({ search: '?next=/app/settings&q=a%20b+c&empty=&flag', name: '__mt', value: ID })).toBe(`?next=/app/settings&q=a%20b+c&empty=&flag&__mt=${ID}`);
    expect(withParameter({ search: '', name: '__mt', value: ID })).toBe(`?__mt=${ID}`);
  });

  it('replaces every existing value, also one written percent-encoded', () => {
    expect(withParameter({ search: '?__mt=old&a=1&%5F%5Fmt=older', name: '__mt', value: ID })).toBe(`?a=1&__mt=${ID}`);
  });

  it('without a value, takes the parameter out and leaves nothing behind when it was alone', () => {
    expect(withParameter({ search: `?a=1&__mt=${ID}&b=%2F`, name: '__mt' })).toBe('?a=1&b=%2F');
    expect(withParameter({ search: `?__mt=${ID}`, name: '__mt' })).toBe('');
    expect(withParameter({ search: '?__mt', name: '__mt' })).toBe('');
    expect(withParameter({ search: '?a=1', name: '__mt' })).toBe('?a=1');
  });

  it('encodes a parameter name that needs it, as URLSearchParams does', () => {
    expect(withParameter({ search: '?a=1', name: 'my id', value: ID })).toBe(`?a=1&my+id=${ID}`);
    expect(withParameter({ search: `?a=1&my+id=${ID}`, name: 'my id' })).toBe('?a=1');
  });
});

describe('decorating a URL', () => {
  it('adds the id to a link to a target on another origin, keeping its path, parameters and hash', () => {
    expect(decorateUrl('https://app.acme-cloud.com:8443/sign-up?plan=pro#top', on())).toBe(
      `https://app.acme-cloud.com:8443/sign-up?plan=pro&__mt=${ID}#top`,
    );
  });

  it('whatever the scheme, and resolving a protocol-relative link', () => {
    expect(decorateUrl('http://acme-cloud.com/', on())).toBe(`http://acme-cloud.com/?__mt=${ID}`);
    expect(decorateUrl('//acme-cloud.com/x', on())).toBe(`https://acme-cloud.com/x?__mt=${ID}`);
  });

  it('replaces the id a link carried already (another visitor, or before a reset)', () => {
    expect(decorateUrl(`https://acme-cloud.com/?__mt=0ld-1d&a=1`, on())).toBe(`https://acme-cloud.com/?a=1&__mt=${ID}`);
  });

  it("puts the id in the query, where the other site reads it, and leaves a hash router's own query alone", () => {
    expect(decorateUrl('https://acme-cloud.com/#/pricing?__mt=0ld-1d', on())).toBe(`https://acme-cloud.com/?__mt=${ID}#/pricing?__mt=0ld-1d`);
  });

  it('without an id (no consent), takes out an id the link carried', () => {
    expect(decorateUrl(`https://acme-cloud.com/?a=1&__mt=${ID}`, on({ id: undefined }))).toBe('https://acme-cloud.com/?a=1');
  });

  it.each([
    ['a same-origin link', 'https://www.acme-docs.com/other'],
    ['a relative link', '/pricing'],
    ['a link to a host that is not a target', 'https://elsewhere.test/'],
    ['a look-alike host', 'https://notacme-cloud.com/'],
  ])('leaves alone %s', (_name, url) => {
    expect(decorateUrl(url, on())).toBeUndefined();
  });

  it.each([
    ['mailto:', 'mailto:sales@acme-cloud.com'],
    ['tel:', 'tel:+15555550100'],
    ['javascript:', 'javascript:void(0)'],
    ['ftp:', 'ftp://acme-cloud.com/file'],
    ['data:', 'data:text/html,hi'],
  ])('never touches a %s URL, even when every origin is a target', (_name, url) => {
    expect(decorateUrl(url, on({ targets: null }))).toBeUndefined();
  });

  it('decorates any other origin over http(s) when every origin is a target, never the page own', () => {
    expect(decorateUrl('https://example.org/', on({ targets: null }))).toBe(`https://example.org/?__mt=${ID}`);
    expect(decorateUrl('https://www.acme-docs.com:444/', on({ targets: null }))).toBe(`https://www.acme-docs.com:444/?__mt=${ID}`);
    expect(decorateUrl('https://www.acme-docs.com/', on({ targets: null }))).toBeUndefined();
  });

  it('resolves a relative URL against the base, and leaves alone only the page own origin (a <base href> may be elsewhere)', () => {
    const elsewhere = on({ base: 'https://app.acme-cloud.com/docs/' });
    expect(decorateUrl('pricing', elsewhere)).toBe(`https://app.acme-cloud.com/docs/pricing?__mt=${ID}`);
    expect(decorateUrl('https://www.acme-docs.com/next', on({ base: 'https://app.acme-cloud.com/', targets: null }))).toBeUndefined();
  });

  it('throws on what is no URL, for its caller to give it back unchanged', () => {
    expect(() => decorateUrl('https://[not-a-host/', on())).toThrow();
  });
});

const fakeLog = () => ({ warn: vi.fn(), error: vi.fn(), debug: vi.fn() }) satisfies Log;

describe('the cross-domain options', () => {
  it("default to moesif's: off, no targets, parameter __mt", () => {
    const options = resolveOptions({ applicationId: 'app' }, 'https:', fakeLog())!;
    expect(options).toMatchObject({ enableCrossDomainTracking: false, crossDomainTargets: [], crossDomainTrackingParameterName: '__mt' });
  });

  it('take null targets as "every origin", not as "not given"', () => {
    const log = fakeLog();
    expect(resolveOptions({ applicationId: 'app', crossDomainTargets: null }, 'https:', log)!.crossDomainTargets).toBeNull();
    expect(log.error).not.toHaveBeenCalled();
  });

  it('take a list of domains and another parameter name', () => {
    const log = fakeLog();
    const options = resolveOptions(
      { applicationId: 'app', enableCrossDomainTracking: true, crossDomainTargets: ['acme-cloud.com', 'Acme.io'], crossDomainTrackingParameterName: 'vid' },
      'https:',
      log,
    )!;
    expect(options).toMatchObject({ enableCrossDomainTracking: true, crossDomainTargets: ['acme-cloud.com', 'Acme.io'], crossDomainTrackingParameterName: 'vid' });
    expect(log.error).not.toHaveBeenCalled();
  });

  it.each([
    ['enableCrossDomainTracking', 'yes'],
    ['crossDomainTargets', 'acme-cloud.com'],
    ['crossDomainTrackingParameterName', '  '],
    ['crossDomainTrackingParameterName', 7],
  ])('report %s = %j by name, once, and use the default', (name, value) => {
    const log = fakeLog();
    const options = resolveOptions({ applicationId: 'app', [name]: value }, 'https:', log)! as unknown as Record<string, unknown>;
    expect(messages(log.error)).toEqual([`init(): option "${name}" is unknown or invalid: ignored`]);
    expect(options[name]).toEqual({ enableCrossDomainTracking: false, crossDomainTargets: [], crossDomainTrackingParameterName: '__mt' }[name]);
  });

  it.each([
    ['https://acme-docs.com', '"https://acme-docs.com"'],
    ['acme-docs.com:8443', '"acme-docs.com:8443"'],
    ['*.acme-docs.com', '"*.acme-docs.com"'],
    ['acme docs.com', '"acme docs.com"'],
    ['', '""'],
    [42, '42'],
    [null, 'null'],
  ])('leave out the target %j, reported by its value once, and keep the others', (bad, shown) => {
    const log = fakeLog();
    const options = resolveOptions({ applicationId: 'app', crossDomainTargets: ['acme-cloud.com', bad, 'acme.io'] }, 'https:', log)!;
    expect(messages(log.error)).toEqual([`init(): crossDomainTargets entry ${shown} is not a host name like 'acme.com': ignored`]);
    expect(options.crossDomainTargets).toEqual(['acme-cloud.com', 'acme.io']);
  });
});

const sdk = useSdk();

describe('cdtUrlDecorator() in the SDK', () => {
  const target = `https://acme-cloud.com/pricing`;

  it('gives the URL back as given before init(), and queues nothing', () => {
    const moesif = sdk.fresh();
    expect(moesif.cdtUrlDecorator(target)).toBe(target);
    moesif.init({ applicationId: 'app', host: sdk.collector.url, enableCrossDomainTracking: true, crossDomainTargets: ['acme-cloud.com'] });
    expect(moesif.cdtUrlDecorator(target)).toBe(`${target}?__mt=${moesif.getAnonymousId()}`);
  });

  it('decorates any other origin with overrideCDTTargets, and never its own', () => {
    const { moesif } = sdk.start({ enableCrossDomainTracking: true });
    const id = moesif.getAnonymousId();
    expect(moesif.cdtUrlDecorator(target)).toBe(target);
    expect(moesif.cdtUrlDecorator(target, true)).toBe(`${target}?__mt=${id}`);
    expect(moesif.cdtUrlDecorator(`${location.origin}/next`, true)).toBe(`${location.origin}/next`);
  });

  it('follows the current anonymous id, after reset() too', () => {
    const { moesif } = sdk.start({ enableCrossDomainTracking: true, crossDomainTargets: ['acme-cloud.com'] });
    moesif.reset();
    expect(moesif.cdtUrlDecorator(target)).toBe(`${target}?__mt=${moesif.getAnonymousId()}`);
  });

  it('takes a URL object, as moesif-browser-js does (window.open takes one too), and gives back the decorated address', () => {
    const { moesif } = sdk.start({ enableCrossDomainTracking: true, crossDomainTargets: ['acme-cloud.com'] });
    expect(moesif.cdtUrlDecorator(new URL(target) as unknown as string)).toBe(`${target}?__mt=${moesif.getAnonymousId()}`);
    const sameOrigin = new URL('/next', location.href);
    expect(moesif.cdtUrlDecorator(sameOrigin as unknown as string)).toBe(sameOrigin);
  });

  it('gives back what is no URL unchanged, and never throws', () => {
    const { moesif } = sdk.start({ enableCrossDomainTracking: true, crossDomainTargets: null });
    for (const input of ['https://[broken', '', undefined, null, 42, { href: target }]) {
      expect(moesif.cdtUrlDecorator(input as string, true)).toBe(input);
    }
  });

  it('decorates nothing while consent is pending, and decorates after the grant', () => {
    const { moesif } = sdk.start({ enableCrossDomainTracking: true, crossDomainTargets: ['acme-cloud.com'], requirePublishingConsent: true });
    expect(moesif.cdtUrlDecorator(target)).toBe(target);
    moesif.grantPublishingConsent();
    expect(moesif.cdtUrlDecorator(target)).toBe(`${target}?__mt=${moesif.getAnonymousId()}`);
    moesif.revokePublishingConsent();
    expect(moesif.cdtUrlDecorator(target)).toBe(target);
  });

  it('with the option off, gives the URL back and warns once', () => {
    const console = spyConsole();
    const { moesif } = sdk.start({ crossDomainTargets: ['acme-cloud.com'] });
    expect(moesif.cdtUrlDecorator(target)).toBe(target);
    expect(moesif.cdtUrlDecorator(target, true)).toBe(target);
    expect(messages(console.warn)).toEqual(['[usertrail] cdtUrlDecorator(): enableCrossDomainTracking is off']);
  });
});

describe('an id arriving in the address', () => {
  const arrive = (search: string, state: unknown = { route: 'guide', scroll: 120 }): void => history.replaceState(state, '', `/guide${search}#part-2`);

  it('becomes the anonymous id and leaves the address bar, with path, other parameters, hash and history.state kept', () => {
    arrive(`?b=%2Fx&__mt=${ID}&a=1+2`);
    const { moesif } = sdk.start({ enableCrossDomainTracking: true });
    expect(moesif.getAnonymousId()).toBe(ID);
    expect(cookies()[KEYS.anonymousId]).toBe(ID);
    expect(location.pathname + location.search + location.hash).toBe('/guide?b=%2Fx&a=1+2#part-2');
    expect(history.state).toEqual({ route: 'guide', scroll: 120 });
  });

  it.each([
    ['invalid', '?__mt=not%20an%20id&a=1'],
    ['given twice', `?__mt=${ID}&a=1&__mt=${ID.replace('1', '2')}`],
  ])('is ignored when %s, and still leaves the address bar', (_name, search) => {
    const { moesif: earlier } = sdk.start({});
    const before = earlier.getAnonymousId();
    arrive(search);
    const { moesif } = sdk.start({ enableCrossDomainTracking: true });
    expect(moesif.getAnonymousId()).toBe(before);
    expect(location.search).toBe('?a=1');
  });

  it("is read from the query only: an __mt in the hash (a hash router's own query) is neither adopted nor taken out", () => {
    history.replaceState(null, '', `/guide#/pricing?__mt=${ID}`);
    const { moesif } = sdk.start({ enableCrossDomainTracking: true });
    expect(moesif.getAnonymousId()).not.toBe(ID);
    expect(location.hash).toBe(`#/pricing?__mt=${ID}`);
  });

  it('is left alone, in the address too, when the option is off', () => {
    arrive(`?__mt=${ID}`);
    const { moesif } = sdk.start({});
    expect(moesif.getAnonymousId()).not.toBe(ID);
    expect(location.search).toBe(`?__mt=${ID}`);
  });

  it('is held in memory while consent is pending, and stored only on grant', () => {
    arrive(`?__mt=${ID}`);
    const { moesif } = sdk.start({ enableCrossDomainTracking: true, requirePublishingConsent: true });
    expect(moesif.getAnonymousId()).toBe(ID);
    expect(location.search).toBe('');
    expect(cookies()[KEYS.anonymousId]).toBeUndefined();
    expect(localStorage.getItem(KEYS.anonymousId)).toBeNull();
    moesif.grantPublishingConsent();
    expect(cookies()[KEYS.anonymousId]).toBe(ID);
    expect(localStorage.getItem(KEYS.anonymousId)).toBe(ID);
  });

  it('while consent is pending, wins on grant over the anonymous id an earlier visit stored, as it replaces it with consent', () => {
    localStorage.setItem(KEYS.anonymousId, 'earlier-visit-anon');
    arrive(`?__mt=${ID}`);
    const { moesif } = sdk.start({ enableCrossDomainTracking: true, requirePublishingConsent: true });
    moesif.track('Arrived from the other site');
    moesif.grantPublishingConsent();
    expect(moesif.getAnonymousId()).toBe(ID);
    expect(cookies()[KEYS.anonymousId]).toBe(ID);
  });

  it("for a signed-in visitor, links a new id to the user with one users call; the visitor's own id coming back (a round trip through the other site) sends none", async () => {
    const { moesif: first, applicationId } = sdk.start({});
    first.identifyUser('kate');
    await first.flush();
    const own = first.getAnonymousId();
    const usersSent = () => sdk.collector.items(applicationId, '/v1/users/batch').length;
    const before = usersSent();

    arrive(`?__mt=${own}`);
    const back = sdk.fresh();
    back.init({ applicationId, host: sdk.collector.url, batchMaxTime: 10, enableCrossDomainTracking: true });
    await back.flush();
    expect(usersSent()).toBe(before);

    arrive(`?__mt=${ID}`);
    const fromOtherSite = sdk.fresh();
    fromOtherSite.init({ applicationId, host: sdk.collector.url, batchMaxTime: 10, enableCrossDomainTracking: true });
    await fromOtherSite.flush();
    expect(sdk.collector.items(applicationId, '/v1/users/batch').slice(before)).toMatchObject([{ user_id: 'kate', anonymous_id: ID }]);
  });

  it('reaches the first action, whose URI no longer carries it', async () => {
    arrive(`?__mt=${ID}`);
    const { moesif, applicationId } = sdk.start({ enableCrossDomainTracking: true });
    moesif.track('Arrived');
    await moesif.flush();
    const [action] = sdk.collector.items(applicationId, '/v1/actions/batch');
    expect(action).toMatchObject({ action_name: 'Arrived', anonymous_id: ID, request: { uri: 'http://app.example.test/guide#part-2' } });
  });
});
