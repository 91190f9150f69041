import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BODY_WAIT_MS, copyBody, decode, readBody } from '../src/capture/body';
import { headerRecord, maskCredentials, parseHeaders } from '../src/capture/headers';
import { createCapture } from '../src/capture';
import { patch } from '../src/patch';
import { createLog } from '../src/log';
import { resolveOptions, type Options } from '../src/options';
import { MASK, type CapturedEvent } from '../src/wire';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('bodies', () => {
  /** What readBody puts in the event's part, and whether it was cut. */
  const read = async (source: unknown, max: number) => {
    const part = {};
    const cut = await readBody(source, max, part);
    return { ...part, cut };
  };

  it('parses JSON, keeps other text as text and encodes binary as base64', () => {
    expect(decode(bytes('{"a":[1,2]}'), false)).toEqual({ body: { a: [1, 2] } });
    expect(decode(bytes('héllo'), false)).toEqual({ body: 'héllo' });
    expect(decode(new Uint8Array([0, 1, 2, 255]), false)).toEqual({ body: 'AAEC/w==', transfer_encoding: 'base64' });
    // Valid UTF-8 full of control characters is binary too.
    expect(decode(new Uint8Array([0, 0, 0, 7]), false)).toMatchObject({ transfer_encoding: 'base64' });
  });

  it('keeps a body cut in the middle of a character as text, without the broken character', () => {
    const cut = bytes('ab€').slice(0, 4); // '€' is 3 bytes: 2 of them are kept
    expect(decode(cut, true)).toEqual({ body: 'ab' });
  });

  it('reads at most maxBodyBytes and says so', async () => {
    // A cut body is never half-parsed JSON, even where the prefix would parse.
    expect(await read('1234567', 4)).toEqual({ body: '1234', cut: true });
    expect(await read('abcdefghij', 4)).toEqual({ body: 'abcd', cut: true });
    expect(await read('abcd', 4)).toEqual({ body: 'abcd', cut: false });
    expect(await read(JSON.stringify({ ok: true }), 65_536)).toEqual({ body: { ok: true }, cut: false });
    expect(await read(new URLSearchParams({ q: 'x y' }), 100)).toEqual({ body: 'q=x+y', cut: false });
    expect(await read(new Uint8Array([1, 2, 3]).buffer, 100)).toEqual({ body: 'AQID', transfer_encoding: 'base64', cut: false });
  });

  it('keeps a short text as it is, binary characters as base64 of its UTF-8, as the bytes would be', async () => {
    // At most max / 3 characters: never over max bytes, so kept without encoding.
    expect(await read('héllo', 15)).toEqual({ body: 'héllo', cut: false });
    expect(await read('{"a":"é"}', 27)).toEqual({ body: { a: 'é' }, cut: false });
    expect(await read('\0\u0001é', 9)).toEqual({ body: btoa('\0\u0001\u00c3\u00a9'), transfer_encoding: 'base64', cut: false });
    // One character more, and it is counted and cut as bytes.
    expect(await read('ééé', 5)).toEqual({ body: 'éé', cut: true });
  });

  it("reads the app's own read of a response's text when it ends, and goes without it after BODY_WAIT_MS, as cut", async () => {
    expect(await read(Promise.resolve('{"ok":true}'), 100)).toEqual({ body: { ok: true }, cut: false });
    expect(await read(Promise.reject(new TypeError('network error')), 100)).toEqual({ cut: false });
    vi.useFakeTimers();
    try {
      const never = read(new Promise<string>(() => {}), 100);
      await vi.advanceTimersByTimeAsync(BODY_WAIT_MS);
      expect(await never).toEqual({ cut: true });
    } finally {
      vi.useRealTimers();
    }
  });

  it('has no body for nothing or an empty body', async () => {
    expect(await read(undefined, 10)).toEqual({ cut: false });
    expect(await read(null, 10)).toEqual({ cut: false });
    expect(await read('', 10)).toEqual({ cut: false });
  });

  it('keeps a body that fails as it streams (an aborted fetch) as far as it came, as cut', async () => {
    const failing = new Response(new ReadableStream({ pull: (c) => c.error(new Error('aborted')) }));
    expect(await read(copyBody(failing), 10)).toEqual({ cut: true });
    let pulls = 0;
    const failingLater = new Response(new ReadableStream({ pull: (c) => (pulls++ === 0 ? c.enqueue(bytes('{"a":')) : c.error(new Error('aborted'))) }));
    expect(await read(copyBody(failingLater), 10)).toEqual({ body: '{"a":', cut: true });
  });

  it('records an object the browser does not take as a body (a Response given as a request body) as the text the browser sends for it', async () => {
    // fetch(url, { method: 'POST', body: response }) sends "[object Response]", as this Response of it reads.
    const sent = await new Response(new Response('inner') as unknown as BodyInit).text();
    expect(sent).toBe('[object Response]');
    expect(await read(new Response('inner'), 100)).toEqual({ body: sent, cut: false });
  });

  it("never touches the app's own ReadableStream", async () => {
    const stream = new ReadableStream({ start: (c) => (c.enqueue(bytes('mine')), c.close()) });
    expect(await read(stream, 10)).toEqual({ cut: false });
    expect(stream.locked).toBe(false);
  });
});

describe('headers', () => {
  it('masks the credentials of URLs, and nothing else that has an @', () => {
    expect(maskCredentials('https://user:pa%40ss@api.test/users/@me?at=a@b')).toBe(`https://${MASK}@api.test/users/@me?at=a@b`);
    expect(maskCredentials("TypeError: Failed to execute 'fetch': ... credentials: http://sk_live_1@api.test/x")).toBe(`TypeError: Failed to execute 'fetch': ... credentials: http://${MASK}@api.test/x`);
    expect(maskCredentials('https://api.test/x')).toBe('https://api.test/x');
  });

  // Capture hands headerRecord a Headers (the request's, made from what the app passed; the response's)
  // or XMLHttpRequest's parsed header block.
  it('masks credentials whatever their case, before anything else sees them', () => {
    const record = headerRecord(new Headers([
      ['Authorization', 'Bearer a'],
      ['PROXY-AUTHORIZATION', 'Basic b'],
      ['cookie', 'sid=1'],
      ['Set-Cookie', 'sid=2'],
      ['X-Api-Key', 'k'],
      ['x-auth-token', 't'],
      ['X-CSRF-Token', 'c'],
      ['Content-Type', 'application/json'],
    ]));
    expect(record).toEqual({
      authorization: MASK,
      'proxy-authorization': MASK,
      cookie: MASK,
      'set-cookie': MASK,
      'x-api-key': MASK,
      'x-auth-token': MASK,
      'x-csrf-token': MASK,
      'content-type': 'application/json',
    });
  });

  it('joins repeated headers and keeps odd names as plain entries', () => {
    const record = headerRecord(new Headers([
      ['Accept', 'a'],
      ['accept', 'b'],
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]));
    expect(record.accept).toBe('a, b');
    // Names come out in Headers' order (sorted).
    expect(Object.getOwnPropertyNames(record)).toEqual(['__proto__', 'accept', 'constructor']);
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
  });

  it("reads XMLHttpRequest's raw header block, masking as for fetch", () => {
    expect(headerRecord(parseHeaders('content-type: text/plain\r\nx-a: 1: 2\r\nx-empty: \r\nx-api-key: k\r\n'))).toEqual({
      'content-type': 'text/plain',
      'x-a': '1: 2',
      'x-empty': '',
      'x-api-key': MASK,
    });
    // A browser that keeps the server's case still masks.
    expect(headerRecord(parseHeaders('Set-Cookie: a=1\r\n'))).toEqual({ 'Set-Cookie': MASK });
    expect(headerRecord(parseHeaders(''))).toEqual({});
  });
});

describe('patching', () => {
  it('restores the original when nobody wrapped after us, and starting twice does not stack', () => {
    const original = () => 'original';
    const target: Record<string, unknown> = { fn: original };
    const toggle = patch(target, 'fn', (inner) => () => `ours(${inner()})`);
    toggle(true);
    toggle(true);
    expect((target.fn as () => string)()).toBe('ours(original)');
    toggle(false);
    toggle(false);
    expect(target.fn).toBe(original);
  });

  it('leaves a later wrapper in place, and reuses our wrapper inside it on the next start', () => {
    const target: Record<string, unknown> = { fn: () => 'original' };
    let wraps = 0;
    const toggle = patch(target, 'fn', (inner) => {
      wraps++;
      return () => `ours(${inner()})`;
    });
    toggle(true);
    const ours = target.fn as () => string;
    const theirs = () => `theirs(${ours()})`;
    target.fn = theirs;
    toggle(false);
    expect(target.fn).toBe(theirs);
    toggle(true);
    expect(target.fn).toBe(theirs);
    expect(wraps).toBe(1);
  });

  it('does nothing where there is nothing to wrap', () => {
    const target: Record<string, unknown> = {};
    patch(target, 'fetch', () => () => 'x')(true);
    expect(target).toEqual({});
  });
});

describe('the capture pipeline', () => {
  const realFetch = window.fetch;
  let recorded: CapturedEvent[];
  let warnings: unknown[][];

  beforeEach(() => {
    recorded = [];
    warnings = [];
    vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void warnings.push(args));
    window.fetch = async () => new Response('{"secret":"s","ok":true}', { status: 201, headers: { 'Content-Type': 'application/json', 'X-Api-Key': 'k' } });
  });
  afterEach(() => {
    window.fetch = realFetch;
    vi.restoreAllMocks();
  });

  const started = (options: Partial<Options>) => {
    const log = createLog(() => false);
    const resolved = resolveOptions({ applicationId: 'app', host: 'collector.test', ...options }, 'https:', log)!;
    const capture = createCapture({ options: resolved, log, who: () => ({ anonymous_id: 'anonymous-1' }), record: (event) => recorded.push(event) });
    capture.start();
    return capture;
  };
  const settled = () => vi.waitFor(() => expect(recorded.length).toBeGreaterThan(0));

  it('runs skip, maskContent, getMetadata, getTags and the api version in that order, each seeing the last', async () => {
    const order: string[] = [];
    const capture = started({
      skip: (event) => (order.push('skip'), event.request.uri.endsWith('/skipped')),
      maskContent: (event) => (order.push('maskContent'), { ...event, response: { ...event.response, body: { ok: true } } }),
      getMetadata: (event) => (order.push('getMetadata'), { sawMasked: !('secret' in (event.response.body as object)) }),
      getTags: (event) => (order.push('getTags'), event.metadata?.sawMasked ? 'masked' : 'raw'),
      getApiVersion: (event) => (order.push('getApiVersion'), `v-${event.tags}`),
      apiVersion: 'unused',
    });
    await fetch('https://api.test/skipped');
    await fetch('https://api.test/kept', { method: 'post', headers: { Authorization: 'Bearer t' }, body: 'hi' });
    await settled();
    capture.stop();
    expect(order).toEqual(['skip', 'skip', 'maskContent', 'getMetadata', 'getTags', 'getApiVersion']);
    expect(recorded).toHaveLength(1);
    const [event] = recorded;
    expect(event.request).toMatchObject({ uri: 'https://api.test/kept', verb: 'POST', headers: { authorization: MASK }, body: 'hi', api_version: 'v-masked' });
    expect(event.response).toMatchObject({ status: 201, body: { ok: true }, headers: { 'x-api-key': MASK } });
    expect(event.metadata).toEqual({ sawMasked: true });
    expect(event.tags).toBe('masked');
  });

  it('keeps the event with defaults when a hook throws, and warns once per hook', async () => {
    const capture = started({
      skip: () => {
        throw new Error('skip');
      },
      maskContent: () => {
        throw new Error('mask');
      },
      getApiVersion: () => {
        throw new Error('version');
      },
      apiVersion: '1.0',
    });
    await fetch('https://api.test/a');
    await fetch('https://api.test/b');
    await vi.waitFor(() => expect(recorded).toHaveLength(2));
    capture.stop();
    expect(recorded[0].response.body).toEqual({ secret: 's', ok: true });
    expect(recorded[0].request.api_version).toBe('1.0');
    expect(warnings.map((args) => String(args[1]))).toEqual(['skip() threw; ignored.', 'maskContent() threw; ignored.', 'getApiVersion() threw; ignored.']);
  });

  it('records a rejected call with status 0 and the error, and the app gets the same rejection', async () => {
    const failure = new TypeError('Failed to fetch');
    window.fetch = () => Promise.reject(failure);
    const capture = started({});
    await expect(fetch('https://api.test/down')).rejects.toBe(failure);
    await settled();
    capture.stop();
    expect(recorded[0].response).toEqual({ time: expect.any(String), status: 0, headers: {} });
    expect(recorded[0].metadata).toEqual({ error: 'TypeError: Failed to fetch' });
  });

  it('records an XMLHttpRequest once, with its error, even when the app calls send() twice', async () => {
    const capture = started({});
    const xhr = new XMLHttpRequest();
    const calls: string[] = [];
    xhr.onerror = () => calls.push('onerror');
    const done = new Promise((resolve) => xhr.addEventListener('loadend', resolve));
    xhr.open('get', 'http://127.0.0.1:1/down');
    xhr.setRequestHeader('X-Api-Key', 'k');
    xhr.send();
    // The second send() throws (already sent) to the app as it would without us, and is not a second call.
    expect(() => xhr.send()).toThrow();
    await done;
    // A call after it: once that one is recorded, a second event for the first would have been too.
    await fetch('https://api.test/after');
    await vi.waitFor(() => expect(recorded.map((event) => event.request.uri)).toContain('https://api.test/after'));
    capture.stop();
    expect(calls).toEqual(['onerror']);
    expect(recorded).toHaveLength(2);
    // Named as the app set it (setRequestHeader), as moesif sends it; the browser's User-Agent added.
    expect(recorded[0].request).toMatchObject({ uri: 'http://127.0.0.1:1/down', verb: 'GET', headers: { 'X-Api-Key': MASK, 'User-Agent': navigator.userAgent } });
    expect(recorded[0].response).toMatchObject({ status: 0, headers: {} });
    expect(recorded[0].metadata).toEqual({ error: 'error' });
  });

  it('leaves headers given as a one-shot iterator for fetch to read, and still reads reusable ones', async () => {
    const received: Array<Array<[string, string]>> = [];
    window.fetch = async (_input, init) => (received.push([...new Headers(init?.headers)]), new Response('ok'));
    const capture = started({});
    function* once(): Generator<[string, string]> {
      yield ['X-Trace', 'generator'];
    }
    await fetch('https://api.test/generator', { headers: once() as unknown as HeadersInit });
    await fetch('https://api.test/map', { headers: new Map([['X-Trace', 'map']]) as unknown as HeadersInit });
    await vi.waitFor(() => expect(recorded).toHaveLength(2));
    capture.stop();
    expect(received).toEqual([[['x-trace', 'generator']], [['x-trace', 'map']]]);
    const { userAgent } = navigator;
    expect(recorded.map((event) => event.request.headers)).toEqual([{ 'User-Agent': userAgent }, { 'x-trace': 'map', 'User-Agent': userAgent }]);
  });

  it('never captures the collector, nor anything when stopped or sampled out', async () => {
    const capture = started({ sampleRate: 0 });
    await fetch('https://api.test/sampled-out');
    capture.stop();
    const again = started({});
    await fetch('https://collector.test/v1/events/batch', { method: 'POST', body: '[]' });
    await fetch('https://elsewhere.test/x', { headers: { 'X-Moesif-Application-Id': 'other' } });
    // A call that is captured, after those: once it is recorded, they would have been too.
    await fetch('https://api.test/captured');
    await settled();
    again.stop();
    await fetch('https://api.test/after-stop');
    expect(recorded.map((event) => event.request.uri)).toEqual(['https://api.test/captured']);
  });
});
