// @vitest-environment node
/**
 * Clients that break HTTP itself, over raw sockets to the real collector on 127.0.0.1: a body that
 * never ends (slowloris), headers that never end, a request line that is not HTTP, headers too large.
 * Each gets a JSON error in time and its connection closed, while other clients are served.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_APP_ID, startCollector, type RunningCollector } from '../../demo/collector/server.js';
import { action } from './support';

let collector: RunningCollector;
beforeAll(async () => {
  // A short limit, so that the test does not wait for the default one.
  collector = await startCollector({ port: 0, requestTimeoutMs: 500 });
});
afterAll(async () => {
  await collector.close();
});

interface RawExchange {
  /** Resolves with everything the collector sent once it has closed the connection. */
  answer: Promise<string>;
  write(text: string): void;
}

/** Opens a socket to the collector and writes `text`; the answer is whatever comes back until the collector closes. */
function rawRequest(text: string): RawExchange {
  const socket = connect(collector.port, '127.0.0.1');
  socket.write(text);
  const answer = new Promise<string>((resolve, reject) => {
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
  return { answer, write: (more) => socket.write(more) };
}

/** Status and JSON body of a raw HTTP answer. */
function parse(raw: string): { status: number; contentType: string | undefined; body: { error?: unknown } } {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const contentType = /^content-type: (.*)$/im.exec(head)?.[1];
  return { status, contentType, body: JSON.parse(body) };
}

const postAction = (anonymousId: string) =>
  fetch(`${collector.url}/v1/actions`, { method: 'POST', headers: { 'X-Moesif-Application-Id': DEFAULT_APP_ID }, body: JSON.stringify(action({ anonymous_id: anonymousId })) });

it('answers 408 in JSON to a body that never ends, closes its connection, and serves other clients meanwhile', async () => {
  const slow = rawRequest(
    `POST /v1/actions/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Moesif-Application-Id: ${DEFAULT_APP_ID}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[`,
  );
  slow.write('{"action_name":');
  expect((await postAction('anon-beside-slowloris')).status).toBe(201);
  const answer = parse(await slow.answer);
  expect(answer).toMatchObject({ status: 408, body: { error: expect.stringMatching(/took too long/) } });
  expect(answer.contentType).toMatch(/^application\/json/);
  expect((await postAction('anon-after-slowloris')).status).toBe(201);
  expect(collector.reports.listEvents({}, { limit: 10, offset: 0 }).total).toBe(2);
});

it('answers 408 in JSON to headers that never end', async () => {
  const slow = rawRequest(`POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
  slow.write('X-Moesif-Application-Id: ');
  expect(parse(await slow.answer)).toMatchObject({ status: 408, body: { error: expect.stringMatching(/took too long/) } });
});

it.each([
  ['a method HTTP does not know', 'FOO /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400, /not a valid HTTP request/],
  ['a request line that is not HTTP', 'hello collector\r\n\r\n', 400, /not a valid HTTP request/],
  ['headers over 16 KB', `GET /api/users/${'x'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 431, /headers are too large/],
])('answers %s in JSON, and keeps serving', async (_name, request, status, error) => {
  const answer = parse(await rawRequest(request).answer);
  expect(answer).toMatchObject({ status, body: { error: expect.stringMatching(error) } });
  expect(answer.contentType).toMatch(/^application\/json/);
  expect((await postAction('anon-after-bad-http')).status).toBe(201);
});
