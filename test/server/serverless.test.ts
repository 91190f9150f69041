// @vitest-environment node
/**
 * Express apps on AWS Lambda, through serverless-http and @codegenie/serverless-express, run as
 * Lambda runs them (lambda.ts: a fake Runtime API and a child runtime that is frozen with SIGSTOP once
 * it is idle, and recycled with SIGKILL), with usertrail/server and with the real moesif-nodejs 3.11,
 * each logging to a recording collector on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { DEFAULT_APP_ID } from '../../demo/collector/config.js';
import moesif from '../../src/server/index';
import { startRecorder, type Recorder } from './helpers';
import { startLambda, startNat, type LambdaEnvironment } from './lambda';
import { functionUrlEvent, httpApiEvent, ORDER_CALL, restApiEvent, SOURCE_IP } from './fixtures/lambda/events';

const EXPRESS_APP = fileURLToPath(new URL('./fixtures/lambda/express-app.mjs', import.meta.url));

type Sdk = 'usertrail' | 'moesif-nodejs';
type Adapter = 'serverless-http' | '@codegenie/serverless-express';

const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

async function deploy(
  sdk: Sdk,
  adapter: Adapter,
  pattern: 'plain' | 'flush',
  env: Record<string, string> = {},
  freeze = true,
): Promise<{ lambda: LambdaEnvironment; collector: Recorder }> {
  const collector = await startRecorder(0, { contract: sdk === 'usertrail' });
  opened.push(() => collector.close());
  const lambda = await startLambda(EXPRESS_APP, { SDK: sdk, ADAPTER: adapter, PATTERN: pattern, COLLECTOR: collector.url, APP_ID: DEFAULT_APP_ID, ...env }, { freeze });
  opened.push(() => lambda.recycle());
  return { lambda, collector };
}

/**
 * What the collector has once anything already written to it has been read: a stopped or killed
 * process writes nothing more, and a request of the test's own, answered, comes after what the
 * collector had already received on loopback.
 */
async function eventsNow(collector: Recorder) {
  await (await fetch(`${collector.url}/health`)).arrayBuffer();
  return collector.events().map((event) => `${event.request.verb} ${new URL(event.request.uri).pathname}`);
}

describe('measured: an adapter\'s handler as it is, no flush', () => {
  for (const sdk of ['moesif-nodejs', 'usertrail'] as const) {
    it(`${sdk}: a call waits frozen for the next invocation, and is lost when the environment is recycled`, async () => {
      const { lambda, collector } = await deploy(sdk, 'serverless-http', 'plain');
      const answer = await lambda.invoke(restApiEvent(ORDER_CALL));
      expect(answer.statusCode).toBe(201);
      expect(lambda.frozen).toBe(true);
      expect(await eventsNow(collector)).toEqual([]);
      await lambda.recycle();
      expect(await eventsNow(collector)).toEqual([]);
    });

    it(`${sdk}: a frozen call goes out only while a later invocation runs`, async () => {
      // The shortest batch wait each SDK takes (moesif-nodejs refuses 500 or less), and as long an idle
      // time between two calls: the batch timer runs out while the environment is frozen.
      const batchMaxTime = sdk === 'usertrail' ? 50 : 501;
      const { lambda, collector } = await deploy(sdk, 'serverless-http', 'plain', { MOESIF_OPTIONS: JSON.stringify({ batchMaxTime }) });
      await lambda.invoke(restApiEvent(ORDER_CALL));
      await new Promise((r) => setTimeout(r, batchMaxTime)); // the idle time between two calls, frozen
      expect(await eventsNow(collector)).toEqual([]);
      // Thawed, the overdue timer fires, but its POST leaves only if the invocation lasts long enough.
      let later = 0;
      while ((await eventsNow(collector)).length === 0 && later < 20) {
        later += 1;
        await lambda.invoke(restApiEvent({ method: 'GET', path: '/orders', query: `page=${later}` }, `rest-${later + 1}`));
      }
      expect((await eventsNow(collector))[0]).toBe('POST /orders/42');
    });
  }
});

const SHAPES = [
  ['API Gateway REST API (payload 1.0)', restApiEvent, 'abc123.execute-api.us-east-1.amazonaws.com'],
  ['HTTP API (payload 2.0)', httpApiEvent, 'def456.execute-api.us-east-1.amazonaws.com'],
  ['function URL', functionUrlEvent, 'ghi789jkl.lambda-url.us-east-1.on.aws'],
] as const;

describe('README: the handler that awaits flush() before it returns', () => {
  for (const adapter of ['serverless-http', '@codegenie/serverless-express'] as const) {
    it(`${adapter}: each call is delivered before the environment is frozen`, async () => {
      // @codegenie/serverless-express's responses never emit 'close': none of its calls was logged.
      const { lambda, collector } = await deploy('usertrail', adapter, 'flush');
      for (const [index, [, eventOf, host]] of SHAPES.entries()) {
        const answer = await lambda.invoke(eventOf(ORDER_CALL, `shape-${index}`));
        expect(answer.statusCode).toBe(201);
        expect(lambda.frozen).toBe(true);
        expect(collector.events()[index]).toMatchObject({
          request: { uri: `https://${host}/orders/42?expand=items&tag=a&tag=b`, verb: 'POST', ip_address: SOURCE_IP, body: { qty: 2, password: '*****' } },
          response: { status: 201, body: { id: '42' } },
          user_id: 'user-7',
        });
        // The whole body, not one cut short: the adapter's stub socket ends it before writableEnded says so.
        expect(collector.events()[index]?.metadata).toBeUndefined();
      }
      await lambda.recycle();
      expect(await eventsNow(collector)).toHaveLength(SHAPES.length);
    });
  }
});

describe('what the flush costs', () => {
  it('each invocation waits for the collector\'s answer, and no longer than requestTimeout when it stalls', async () => {
    const { lambda, collector } = await deploy('usertrail', 'serverless-http', 'flush', { MOESIF_OPTIONS: JSON.stringify({ requestTimeout: 300 }) });
    const pathsLogged = () => collector.events().map((event) => `${event.request.verb} ${new URL(event.request.uri).pathname}${new URL(event.request.uri).search}`);
    // A collector 100 ms away (time is the scenario): the answer leaves Lambda after it.
    collector.answer = () => ({ status: 201, delayMs: 100 });
    let started = Date.now();
    await lambda.invoke(restApiEvent(ORDER_CALL));
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(pathsLogged()).toEqual(['POST /orders/42?expand=items&tag=a&tag=b']);

    // A collector that takes the request and never answers: flush() gives up after requestTimeout
    // (10 s by default, longer than many functions may run) and the event stays queued.
    let release = () => {};
    const hold = new Promise<void>((resolve) => (release = resolve));
    collector.answer = () => ({ status: 201, hold });
    started = Date.now();
    expect((await lambda.invoke(restApiEvent({ method: 'GET', path: '/orders', query: 'page=2' }, 'rest-2'))).statusCode).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    release();
    collector.answer = () => ({ status: 201 });
    await lambda.invoke(restApiEvent({ method: 'GET', path: '/orders', query: 'page=3' }, 'rest-3'));
    // Sent again with the next invocation's flush: received twice, as a retry after a lost answer is.
    expect(pathsLogged().slice(1)).toEqual(['GET /orders?page=2', 'GET /orders?page=2', 'GET /orders?page=3']);
  });
});

describe('a connection the network forgot while the environment was frozen', () => {
  it('is replaced at once: the next call is still delivered before the environment is frozen again', async () => {
    const collector = await startRecorder();
    opened.push(() => collector.close());
    const nat = await startNat(collector.port);
    opened.push(() => nat.close());
    const lambda = await startLambda(EXPRESS_APP, { SDK: 'usertrail', ADAPTER: 'serverless-http', PATTERN: 'flush', COLLECTOR: nat.url, APP_ID: DEFAULT_APP_ID });
    opened.push(() => lambda.recycle());
    await lambda.invoke(restApiEvent(ORDER_CALL));
    expect(await eventsNow(collector)).toEqual(['POST /orders/42']);
    // Frozen longer than the NAT's idle timeout: the kept-alive connection to the collector is gone.
    nat.forgetIdle();
    await lambda.invoke(restApiEvent({ method: 'GET', path: '/orders', query: 'page=2' }, 'rest-2'));
    expect(await eventsNow(collector)).toEqual(['POST /orders/42', 'GET /orders']);
  });
});

describe('what is logged, beside moesif-nodejs', () => {
  const calls = [
    ...SHAPES.map(([, eventOf], index) => eventOf(ORDER_CALL, `shape-${index}`)),
    // A binary upload, which API Gateway hands on base64-encoded, and a binary answer the adapter base64-encodes.
    httpApiEvent({ method: 'PUT', path: '/upload', headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.from([0, 1, 2, 0xff, 0xfe]) }, 'upload'),
    restApiEvent({ method: 'GET', path: '/image' }, 'image'),
  ];

  /** What an event says of its call, but for what both SDKs hide differently (moesif-nodejs: an MD5 of a password). */
  async function loggedBy(sdk: Sdk, adapter: Adapter) {
    // Not frozen, and moesif-nodejs's shortest batch wait, so that it sends at all.
    const { lambda, collector } = await deploy(sdk, adapter, 'plain', { MOESIF_OPTIONS: JSON.stringify({ batchMaxTime: sdk === 'usertrail' ? 10 : 501 }) }, false);
    const answers = [];
    for (const call of calls) answers.push(await lambda.invoke(call));
    await collector.waitFor(() => collector.events().length >= calls.length || undefined, 10_000);
    const hidden = (body: unknown) => (typeof body === 'object' && body !== null && 'password' in body ? { ...body, password: 'hidden' } : body);
    const events = collector.events().map(({ request, response, user_id }) => ({
      uri: request.uri,
      verb: request.verb,
      // But for the transaction id, and Authorization, which the SDKs hide differently; as strings:
      // serverless-http sets Content-Length as a number, which moesif-nodejs sends as one.
      headers: Object.fromEntries(
        Object.entries({ ...request.headers, authorization: request.headers.authorization && 'hidden', 'x-moesif-transaction-id': 'id' }).map(([name, value]) => [name, String(value)]),
      ),
      responseHeaders: { ...response.headers, 'x-moesif-transaction-id': 'id' },
      ip: request.ip_address,
      // moesif-nodejs logs serverless-http's empty Buffer of a GET as an empty base64 body.
      ...(request.body === '' || request.body === undefined ? {} : { body: hidden(request.body), encoding: request.transfer_encoding }),
      status: response.status,
      responseBody: typeof response.body === 'object' ? { ...response.body, body: hidden(response.body.body) } : response.body,
      responseEncoding: response.transfer_encoding,
      user: user_id,
    }));
    return { answers, events };
  }

  for (const adapter of ['serverless-http', '@codegenie/serverless-express'] as const) {
    it(`${adapter}: URL, method, headers, client IP, bodies and status as moesif-nodejs logs them, for every event shape`, async () => {
      const usertrail = await loggedBy('usertrail', adapter);
      const moesif = await loggedBy('moesif-nodejs', adapter);
      expect(usertrail.events).toEqual(moesif.events);
      expect(usertrail.events[0]).toMatchObject({
        uri: 'https://abc123.execute-api.us-east-1.amazonaws.com/orders/42?expand=items&tag=a&tag=b',
        verb: 'POST',
        ip: SOURCE_IP,
        body: { qty: 2, password: 'hidden' },
        status: 201,
        user: 'user-7',
      });
      expect(usertrail.events.map((event) => new URL(event.uri).host)).toEqual([...SHAPES.map(([, , host]) => host), SHAPES[1][2], SHAPES[0][2]]);
      expect(usertrail.events[3]).toMatchObject({ body: Buffer.from([0, 1, 2, 0xff, 0xfe]).toString('base64'), encoding: 'base64', responseBody: { bytes: 5 } });
      expect(usertrail.events[4]).toMatchObject({ responseBody: usertrail.answers[4]?.body, responseEncoding: 'base64' });
      // The client gets the same answers, but for the transaction id.
      const withoutId = ({ headers, multiValueHeaders, ...answer }: Record<string, unknown>) => answer;
      expect(usertrail.answers.map(withoutId)).toEqual(moesif.answers.map(withoutId));
    });
  }
});

describe('Web handlers (Netlify Functions 2 and the like): withMoesif(handler) in a plain Node runner', () => {
  /** A runner as such platforms are: a Request in, the Response's body read to the client; `waitUntil` if the platform has one. */
  async function serve(handler: (request: Request, context: Record<string, unknown>) => Promise<Response>, withWaitUntil: boolean) {
    const waited: Array<Promise<unknown>> = [];
    const context = { ip: SOURCE_IP, ...(withWaitUntil ? { waitUntil: (promise: Promise<unknown>) => void waited.push(promise) } : {}) };
    const request = new Request('https://shop.netlify.app/api/orders?page=2', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': SOURCE_IP },
      body: '{"item":"book"}',
    });
    const response = await handler(request, context);
    return { response, waited, body: await response.text() };
  }

  async function collectorAndMiddleware() {
    const collector = await startRecorder();
    opened.push(() => collector.close());
    // The default batch wait (2 s): what leaves before it is what waitUntil or flush() sent.
    return { collector, withMoesif: moesif({ applicationId: DEFAULT_APP_ID, baseUri: collector.url }) };
  }

  it('hands the platform\'s waitUntil() the delivery of the call, which settles once the collector has it', async () => {
    const { collector, withMoesif } = await collectorAndMiddleware();
    const fn = withMoesif(async (request: Request) => Response.json({ id: 'ord_1', item: ((await request.json()) as { item: string }).item }, { status: 201 }));
    const { response, waited, body } = await serve(fn, true);
    expect(response.status).toBe(201);
    expect(JSON.parse(body)).toEqual({ id: 'ord_1', item: 'book' });
    expect(waited).toHaveLength(1);
    await Promise.all(waited);
    expect(collector.events()).toMatchObject([
      { request: { uri: 'https://shop.netlify.app/api/orders?page=2', verb: 'POST', ip_address: SOURCE_IP, body: { item: 'book' } }, response: { status: 201, body: { id: 'ord_1', item: 'book' } } },
    ]);
  });

  it('without waitUntil(), the call is queued when its body has ended, and flush() after it sends it', async () => {
    const { collector, withMoesif } = await collectorAndMiddleware();
    const fn = withMoesif(async () => Response.json({ ok: true }));
    await serve(fn, false);
    await withMoesif.flush();
    expect(collector.events()).toHaveLength(1);
  });

  it('waitUntil() settles for a handler that throws (logged as 500) and for one that gives no Response (not logged)', async () => {
    const { collector, withMoesif } = await collectorAndMiddleware();
    const waited: Array<Promise<unknown>> = [];
    const context = { waitUntil: (promise: Promise<unknown>) => void waited.push(promise) };
    const failing = withMoesif(async (): Promise<Response> => {
      throw new Error('db down');
    });
    await expect(failing(new Request('https://shop.netlify.app/api/fail'), context)).rejects.toThrow('db down');
    const odd = withMoesif((async () => 'not a Response') as unknown as () => Promise<Response>);
    await odd(new Request('https://shop.netlify.app/api/odd'), context);
    await Promise.all(waited);
    expect(collector.events().map((event) => [new URL(event.request.uri).pathname, event.response.status])).toEqual([['/api/fail', 500]]);
  });
});
