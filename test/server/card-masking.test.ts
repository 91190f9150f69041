// @vitest-environment node
/**
 * What moesif-nodejs 3.11 hides by default (noAutoHideSensitive unset: lib/dataUtils.js hashSensitive,
 * applied to the request's and response's headers and bodies), side by side with usertrail/server:
 * each SDK in an Express app of its own on 127.0.0.1, logging to a recording collector of its own.
 * moesif-nodejs replaces a value with its MD5; usertrail/server with "*****" (see the README: an MD5
 * of a card number gives the number back in seconds). Where moesif-nodejs sends no readable body (a
 * body over the cap), or base64 of one (forms, event streams), usertrail/server sends the text, so
 * it hides card numbers there too.
 */
import { createHash } from 'node:crypto';
import express from 'express';
import moesifNodejs from 'moesif-nodejs';
import { afterEach, describe, expect, it } from 'vitest';
import usertrail from '../../src/server/index';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { MASK } from '../../src/wire';
import { startApp, startRecorder, waitFor } from './helpers';

type Sdk = 'moesif-nodejs' | 'usertrail';
// any: the assertions read arbitrary fields of both SDKs' events.
type Json = Record<string, any>;
type Factory = (options: Json) => express.RequestHandler & { flush?(): Promise<void> };
const FACTORY: Record<Sdk, Factory> = {
  'moesif-nodejs': moesifNodejs as unknown as Factory,
  usertrail: usertrail as unknown as Factory,
};

/** Test numbers of the card networks (Luhn-valid). */
const VISA = '4111111111111111';
const MASTERCARD = '5555 5555 5555 4444';
const AMEX = '378282246310005';
const md5 = (text: string) => createHash('md5').update(text).digest('hex');

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close();
});

/** The calls below, through an app with `sdk`'s middleware; the events, by path. */
async function run(sdk: Sdk): Promise<Record<string, Json>> {
  const collector = await startRecorder(0, { contract: sdk === 'usertrail' });
  opened.push(collector);
  // usertrail/server's batches leave at once here; moesif-nodejs's after its shortest batchMaxTime (it refuses 500 or less).
  const timing = { batchMaxTime: sdk === 'usertrail' ? 10 : 501 };
  const middleware = FACTORY[sdk]({ applicationId: DEFAULT_APP_ID, baseUri: collector.url, requestMaxBodySize: 300, responseMaxBodySize: 300, ...timing });
  const api = await startApp((app) => {
    app.use(middleware);
    app.post('/signup', express.json(), (_req, res) => void res.json({ ok: true }));
    app.get('/card-header', (_req, res) => void res.set('X-Card-Number', MASTERCARD).json({ ok: true }));
    // Over the 300-byte cap: moesif-nodejs logs no body, usertrail/server the first 300 bytes as text.
    app.post('/big', (req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => void res.json({ card: AMEX, number: Number(VISA), padding: 'x'.repeat(400) }));
    });
    // No parser: the raw text is logged (base64 by moesif-nodejs, which records what a 'data' listener reads).
    app.post('/form', (req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => void res.send('ok'));
    });
    app.get('/events', (_req, res) => {
      res.setHeader('Content-Type', 'text/event-stream');
      res.end(`data: {"last4":"1111","pan":"${VISA}"}\n\n`);
    });
  });
  opened.push(api);
  const post = (path: string, type: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${api.url}${path}`, { method: 'POST', headers: { 'Content-Type': type, ...headers }, body }).then((res) => res.text());
  await post('/signup', 'application/json', JSON.stringify({ email: 'a@example.com', password_confirmation: 'hunter2', card: VISA }), {
    'X-Card': AMEX,
  });
  await fetch(`${api.url}/card-header`).then((res) => res.text());
  await post('/big', 'application/json', JSON.stringify({ cards: [VISA, MASTERCARD], note: 'y'.repeat(400) }));
  await post('/form', 'application/x-www-form-urlencoded', `name=Ann&cc=${VISA}&exp=12%2F30`);
  await fetch(`${api.url}/events?pan=${VISA}`).then((res) => res.text());
  await middleware.flush?.();
  const events = await waitFor(() => collector.events().length >= 5 && collector.events(), 10_000);
  return Object.fromEntries(events.map((event) => [new URL(event.request.uri).pathname, event]));
}

const decoded = (body: Json) => (body.transfer_encoding === 'base64' ? Buffer.from(body.body, 'base64').toString() : JSON.stringify(body.body));

describe('card numbers and password fields, as moesif-nodejs hides them and where it sends them readable', () => {
  it('hides what moesif-nodejs hides (JSON fields, password_confirmation, header values), with ***** where it puts an MD5', async () => {
    const theirs = await run('moesif-nodejs');
    const ours = await run('usertrail');

    // moesif-nodejs: an unsalted MD5 of the value as sent.
    expect(theirs['/signup']?.request.body).toEqual({ email: 'a@example.com', password_confirmation: md5('hunter2'), card: md5(VISA) });
    expect(theirs['/signup']?.request.headers['x-card']).toBe(md5(AMEX));
    expect(theirs['/card-header']?.response.headers['x-card-number']).toBe(md5(MASTERCARD));

    expect(ours['/signup']?.request.body).toEqual({ email: 'a@example.com', password_confirmation: MASK, card: MASK });
    expect(ours['/signup']?.request.headers['x-card']).toBe(MASK);
    expect(ours['/card-header']?.response.headers['x-card-number']).toBe(MASK);
  }, 30_000);

  it('hides card numbers in the text it sends where moesif-nodejs sends none or base64: cut JSON, raw forms, query strings, event streams', async () => {
    const theirs = await run('moesif-nodejs');
    const ours = await run('usertrail');

    // moesif-nodejs: no body over the cap; base64 (which Moesif shows decoded) of forms and streams; the URL as sent.
    expect(theirs['/big']?.response.body).toEqual({ msg: expect.stringContaining('exceeded') });
    expect(decoded(theirs['/form']!.request)).toContain(VISA);
    expect(decoded(theirs['/events']!.response)).toContain(VISA);
    expect(theirs['/events']?.request.uri).toContain(VISA);

    for (const [path, event] of Object.entries(ours)) {
      const sent = JSON.stringify(event);
      for (const card of [VISA, MASTERCARD, AMEX]) expect({ path, card, sent: sent.includes(card) }).toEqual({ path, card, sent: false });
    }
    expect(ours['/big']?.metadata.truncated).toEqual(['request', 'response']);
    expect(ours['/big']?.request.body).toMatch(/^\{"cards":\["\*\*\*\*\*","\*\*\*\*\*"\],"note":"y+$/);
    expect(ours['/big']?.response.body).toMatch(/^\{"card":"\*\*\*\*\*","number":"\*\*\*\*\*","padding":"x+$/);
    expect(ours['/form']?.request.body).toBe(`name=Ann&cc=${MASK}&exp=12%2F30`);
    expect(ours['/events']?.request.uri).toMatch(/\/events\?pan=\*{5}$/);
    expect(ours['/events']?.response.body).toBe(`data: {"last4":"1111","pan":"${MASK}"}\n\n`);
  }, 30_000);
});

describe('a card number that the body cap cuts short', () => {
  /** The request body as usertrail/server logs it, when the 300-byte cap falls `digitsKept` digits into a card number. */
  async function loggedCut(card: string, digitsKept: number): Promise<Json> {
    const collector = await startRecorder(0, { contract: true });
    opened.push(collector);
    const middleware = FACTORY.usertrail({ applicationId: DEFAULT_APP_ID, baseUri: collector.url, requestMaxBodySize: 300, batchMaxTime: 10 });
    const api = await startApp((app) => {
      app.use(middleware);
      app.post('/pay', (req, res) => {
        req.on('data', () => undefined);
        req.on('end', () => void res.json({ ok: true }));
      });
    });
    opened.push(api);
    const start = '{"note":"';
    const before = '","card":"';
    const padding = 'n'.repeat(300 - start.length - before.length - digitsKept);
    const body = `${start}${padding}${before}${card}"}`;
    await fetch(`${api.url}/pay`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }).then((res) => res.text());
    await middleware.flush?.();
    const [event] = await waitFor(() => collector.events().length >= 1 && collector.events(), 10_000);
    expect(event?.metadata.truncated).toEqual(['request']);
    return event!.request;
  }

  it('is masked when more than its first six digits (the issuer number PCI DSS lets show) were kept', async () => {
    for (const digitsKept of [7, 10, 15]) {
      const request = await loggedCut(VISA, digitsKept);
      expect({ digitsKept, body: request.body }).toEqual({ digitsKept, body: expect.stringMatching(/","card":"\*\*\*\*\*"$/) });
    }
    const spaced = await loggedCut(MASTERCARD, 12);
    expect(spaced.body).toMatch(/","card":"\*\*\*\*\*"$/);
  }, 30_000);

  it('is kept when no more than six digits were, and so is other cut text', async () => {
    expect((await loggedCut(VISA, 6)).body).toMatch(/","card":"411111$/);
    expect((await loggedCut('hello world, this is a note', 10)).body).toMatch(/","card":"hello worl$/);
  }, 30_000);
});

describe("Datadog's trace ids", () => {
  it('are logged as sent, though one in forty is a Luhn-valid number as long as a card number', async () => {
    const collector = await startRecorder(0, { contract: true });
    opened.push(collector);
    const middleware = FACTORY.usertrail({ applicationId: DEFAULT_APP_ID, baseUri: collector.url, batchMaxTime: 10 });
    const api = await startApp((app) => {
      app.use(middleware);
      app.get('/traced', (_req, res) => void res.json({ ok: true }));
    });
    opened.push(api);
    // A span id dd-trace 5 sent in one of this suite's runs, and Visa's test number as a trace id.
    const trace = { 'x-datadog-trace-id': VISA, 'x-datadog-parent-id': '4089189298919199259', 'x-card': AMEX };
    await fetch(`${api.url}/traced`, { headers: trace }).then((res) => res.text());
    await middleware.flush?.();
    const [event] = await waitFor(() => collector.events().length >= 1 && collector.events(), 10_000);
    expect(event!.request.headers).toMatchObject({ ...trace, 'x-card': MASK });
  });
});
