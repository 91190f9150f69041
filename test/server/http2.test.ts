// @vitest-environment node
/**
 * The middleware in a node:http2 server through Node's compatibility API (req, res as in node:http),
 * with Node's own HTTP/2 client, logging to a recording collector on 127.0.0.1.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { connect, createServer, type Http2Server } from 'node:http2';
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
  mw = moesif({ applicationId: 'app-1', baseUri: collector.url, batchMaxTime: 10 });
  const middleware = mw;
  // The casts: the types promise node:http's objects; the compatibility API's lack only fields the
  // middleware does not read (headersDistinct, trailersDistinct).
  server = createServer((req, res) =>
    middleware(req as unknown as IncomingMessage, res as unknown as ServerResponse, () => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ received: JSON.parse(Buffer.concat(chunks).toString()).name }));
      });
    }),
  );
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  expect(await post(port, '/items?api_key=k-secret', '{"name":"a","password":"hunter2"}')).toBe('{"received":"a"}');
  await mw.flush();
  const [event] = await waitFor(() => collector.events().length === 1 && collector.events());
  // The compatibility API's end() writes its chunk through write(): it was recorded twice, and the
  // doubled JSON was kept as text.
  expect(event?.response.body).toEqual({ received: 'a' });
  expect(event?.request.body).toEqual({ name: 'a', password: '*****' });
  expect(event?.request.uri).toBe(`http://127.0.0.1:${port}/items?api_key=*****`);
  // The request line of HTTP/2 travels as headers: its query went out unmasked in :path.
  expect(event?.request.headers[':path']).toBe('/items?api_key=*****');
  expect(JSON.stringify(event)).not.toContain('k-secret');
});
