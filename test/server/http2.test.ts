// @vitest-environment node
/**
 * The middleware in a node:http2 server through Node's compatibility API (req, res as in node:http),
 * with Node's own HTTP/2 client, logging to a recording collector on 127.0.0.1.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { connect, constants, createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import moesif, { type MoesifMiddleware } from '../../src/server/index';
import { startRecorder, waitFor, type Recorder } from './helpers';

let collector: Recorder;
let server: Http2Server | undefined;
let mw: MoesifMiddleware | undefined;

beforeEach(async () => {
  collector = await startRecorder();
});
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  mw = undefined;
  await collector.close();
});

/** The middleware in front of `app` on a fresh HTTP/2 server; resolves with its port. */
async function serve(app: (req: Http2ServerRequest, res: Http2ServerResponse) => void): Promise<number> {
  mw = moesif({ applicationId: 'app-1', baseUri: collector.url, batchMaxTime: 10 });
  const middleware = mw;
  // The casts: the types promise node:http's objects; the compatibility API's lack only fields the
  // middleware does not read (headersDistinct, trailersDistinct).
  server = createServer((req, res) => middleware(req as unknown as IncomingMessage, res as unknown as ServerResponse, () => app(req, res)));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A promise and the function that settles it, for a moment the test waits for. */
function signal(): { reached: Promise<void>; reach(): void } {
  let reach = (): void => undefined;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  return { reached, reach };
}

/** One POST over a fresh HTTP/2 (h2c) connection; resolves with the answer's body. */
function post(port: number, path: string, body: string): Promise<string> {
  const client = connect(`http://127.0.0.1:${port}`);
  return new Promise<string>((resolve, reject) => {
    const stream = client.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' });
    let answer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (answer += chunk));
    stream.on('end', () => resolve(answer));
    stream.on('error', reject);
    stream.end(body);
  }).finally(() => client.close());
}

it('logs an HTTP/2 call once, its body once, its :authority as host and its :path masked', async () => {
  const port = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ received: JSON.parse(Buffer.concat(chunks).toString()).name }));
    });
  });

  expect(await post(port, '/items?api_key=k-secret', '{"name":"a","password":"hunter2"}')).toBe('{"received":"a"}');
  await mw?.flush();
  const [event] = await waitFor(() => collector.events().length === 1 && collector.events());
  // The compatibility API's end() writes its chunk through write(): it was recorded twice, and the
  // doubled JSON was kept as text.
  expect(event?.response.body).toEqual({ received: 'a' });
  expect(event?.request.body).toEqual({ name: 'a', password: '*****' });
  expect(event?.request.uri).toBe(`http://127.0.0.1:${port}/items?api_key=*****`);
  // The request line of HTTP/2 travels as headers: its query went out unmasked in :path.
  expect(event?.request.headers[':path']).toBe('/items?api_key=*****');
  expect(JSON.stringify(event)).not.toContain('k-secret');
  // The compatibility API lists the ':status' it sent among getHeaders(); the event's status is its own field.
  expect(event?.response.headers).toEqual({ 'content-type': 'application/json', 'x-moesif-transaction-id': expect.any(String), date: expect.any(String) });
});

// How an app answers once its client has gone: node:http2 ignores writeHead() on a closed stream,
// and only the status and headers set on the response are kept there.
const lateAnswers: Array<[string, (res: Http2ServerResponse) => void]> = [
  [
    'writeHead(), write() and end()',
    (res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-answer': 'late' });
      res.write('{"id":');
      res.end('7}');
    },
  ],
  [
    'statusCode, setHeader() and end(), as Express answers',
    (res) => {
      res.statusCode = 201;
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-answer', 'late');
      res.end('{"id":7}');
    },
  ],
];

it.each(lateAnswers)('logs an HTTP/2 call its client cancelled before the answer with what the app then answered: %s', async (_style, answer) => {
  // node:http2 emits 'finish' with 'close' for a cancelled stream too: such a call was logged at
  // once as a 200 with no body (the status Node starts with), whatever the app answered afterwards.
  const arrival = signal();
  const port = await serve((_req, res) => {
    arrival.reach();
    res.once('close', () => answer(res)); // the slow call its client gave up on answers after all
  });
  const client = connect(`http://127.0.0.1:${port}`);
  try {
    const call = client.request({ ':path': '/slow' });
    call.on('error', () => undefined); // the cancel it asks for
    await arrival.reached;
    call.close(constants.NGHTTP2_CANCEL); // RST_STREAM: the client gives up on this call
    const [event] = await waitFor(() => collector.events().length === 1 && collector.events());
    expect(event?.response.status).toBe(201);
    expect(event?.response.headers['x-answer']).toBe('late');
    expect(event?.response.body).toEqual({ id: 7 });
    expect(event?.metadata).toBeUndefined();
  } finally {
    client.destroy();
  }
});

it('logs an HTTP/2 call whose client left and that the app never answers as 499 after 30 s', async () => {
  const arrival = signal();
  const closed = signal();
  const port = await serve((_req, res) => {
    arrival.reach();
    res.once('close', () => closed.reach());
  });
  const client = connect(`http://127.0.0.1:${port}`);
  client.request({ ':path': '/hangs' }).on('error', () => undefined);
  await arrival.reached;
  // The 30 s the middleware waits for an answer pass on a fake clock; the network stays real
  // (node:http2 keeps the timer functions it was loaded with).
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  try {
    client.destroy(); // the whole connection goes
    await closed.reached;
    vi.advanceTimersByTime(30_000);
  } finally {
    vi.useRealTimers();
  }
  await mw?.flush();
  const [event] = await waitFor(() => collector.events().length === 1 && collector.events());
  expect(event?.response.status).toBe(499);
  expect(event?.response.body).toBeUndefined();
  expect(Date.parse(event?.response.time) - Date.parse(event?.request.time)).toBeGreaterThanOrEqual(30_000);
});

it('logs an HTTP/2 call cancelled after its answer started at once, with the status sent and the body cut', async () => {
  const port = await serve((_req, res) => {
    res.writeHead(202, { 'content-type': 'text/plain' });
    res.write('first part'); // and never more
  });
  const client = connect(`http://127.0.0.1:${port}`);
  try {
    const call = client.request({ ':path': '/stream' });
    call.on('error', () => undefined);
    // The client gives up once the head is there (its status is known to the server already).
    call.on('response', () => call.close(constants.NGHTTP2_CANCEL));
    const [event] = await waitFor(() => collector.events().length === 1 && collector.events());
    expect(event?.response.status).toBe(202);
    expect(event?.response.body).toBe('first part');
    expect(event?.metadata).toEqual({ truncated: ['response'] });
  } finally {
    client.destroy();
  }
});

it('logs an HTTP/2 upload its client cancelled mid-body as cut, not as the whole body', async () => {
  // node:http2 pushes the end of the request body (push(null)) when the stream closes, an aborted one
  // too: the first half of a JSON body was logged as whole.
  const firstChunk = signal();
  const port = await serve((req, res) => {
    req.once('data', () => firstChunk.reach());
    req.resume();
    res.once('close', () => res.end('too late'));
  });
  const client = connect(`http://127.0.0.1:${port}`);
  try {
    const upload = client.request({ ':method': 'POST', ':path': '/upload', 'content-type': 'application/json' });
    upload.on('error', () => undefined); // the cancel it asks for
    upload.write('{"name":"a","items":[1,2,');
    await firstChunk.reached;
    // Not close(), which ends the body (END_STREAM) before it resets the stream: the client goes mid-body.
    upload.destroy();
    const [event] = await waitFor(() => collector.events().length === 1 && collector.events());
    expect(event?.metadata?.truncated).toEqual(['request']);
    expect(event?.request.body).toBe('{"name":"a","items":[1,2,');
  } finally {
    client.destroy();
  }
});

it('logs an HTTP/2 upload whose body arrived whole (END_STREAM) as whole, also when its client then cancels before the answer', async () => {
  const bodyEnded = signal();
  const port = await serve((req, res) => {
    req.on('end', () => bodyEnded.reach());
    req.resume();
    res.once('close', () => res.end('too late'));
  });
  const client = connect(`http://127.0.0.1:${port}`);
  try {
    const upload = client.request({ ':method': 'POST', ':path': '/upload', 'content-type': 'application/json' });
    upload.on('error', () => undefined);
    upload.end('{"name":"a","items":[1,2,3]}');
    await bodyEnded.reached;
    upload.close(constants.NGHTTP2_CANCEL);
    const [event] = await waitFor(() => collector.events().length === 1 && collector.events());
    expect(event?.metadata).toBeUndefined();
    expect(event?.request.body).toEqual({ name: 'a', items: [1, 2, 3] });
  } finally {
    client.destroy();
  }
});
