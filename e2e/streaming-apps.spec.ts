import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { createSecureServer, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Page } from '@playwright/test';
import { expect, test as testWithCollector, type PageAndCollector } from './support/fixtures';
import { selfSignedCertificate } from './support/https';
import { listenLocally } from './support/listen';
import { umdPage, type Recorder } from './support/recorder';

/**
 * Streaming apps as users write them, a chat UI over a language model in Chromium: a streamed answer
 * read as it comes (a text stream piped through a TextDecoderStream, `for await`, a BYOB reader), the
 * user's "stop" (AbortController), NDJSON and server-sent events over fetch, EventSource, WebSocket and
 * a streamed upload (refused over HTTP/1.1, sent over HTTP/2). Each case runs without capture, then
 * with it, on the same page: the app must see the same thing, the server must see its connections
 * closed as without capture, and each call must be recorded once, as capture's code says
 * (src/capture/fetch.ts, body.ts). The API is a real server on 127.0.0.1, on an origin of its own (so,
 * as for a model's API, CORS).
 */

/** How many chunks an answer has, 50 ms apart after the first (about 2 s, as a model's answer streams). */
const CHUNKS = 40;
const token = (n: number) => `token ${n} `;
const FULL_ANSWER = Array.from({ length: CHUNKS }, (_, n) => token(n)).join('');

/** The model's API. Each counter is the server's own view: what it sent, what connections the browser closed. */
async function startChatApi() {
  /** Chunks written of the answer under way. */
  let sent = 0;
  /** Answers whose connection closed, ended or not. */
  let closed = 0;
  /** Called to write an answer's last chunk (see /answer). */
  let writeLast: (() => void) | undefined;
  let lastAllowed = false;
  /** Writes the rest of a ?gated answer, once the app says it has the first chunk (see /ack). */
  let gate: (() => void) | undefined;
  /** Each EventSource connection, by the Last-Event-ID it came back with. */
  const eventSourceConnections: Array<string | undefined> = [];
  let uploads = 0;
  let webSockets = 0;

  const server = createServer((req, res) => {
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': '*', 'Access-Control-Allow-Methods': '*', 'Cache-Control': 'no-store' };
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const stream = (type: string) => {
      // Chunked, no Content-Length, as a model's API answers.
      res.writeHead(200, { ...cors, 'Content-Type': type });
      res.on('close', () => closed++);
    };
    /** Writes `lines` 50 ms apart, then calls `then`; `wrote` counts them. */
    const every50ms = (lines: string[], then = () => void res.end(), wrote = () => {}) => {
      let n = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(lines[n++]);
        wrote();
        if (n === lines.length) {
          clearInterval(timer);
          then();
        }
      }, 50);
      res.on('close', () => clearInterval(timer));
    };
    switch (url.pathname) {
      case '/answer': {
        // Vercel AI SDK's text stream protocol: the answer's text as it is generated, text/plain.
        stream('text/plain; charset=utf-8');
        res.write(token(0));
        sent = 1;
        const rest = () =>
          every50ms(
            Array.from({ length: CHUNKS - 2 }, (_, n) => token(n + 1)),
            () => {
              // The last chunk waits for the test (see `allowLast`): a captured answer must still be streaming when capture gives up reading its copy.
              writeLast = () => {
                writeLast = undefined;
                if (!res.destroyed) res.end(token(CHUNKS - 1));
              };
              if (lastAllowed) writeLast();
            },
            () => sent++,
          );
        // ?gated: the second chunk waits until the app said it has the first (/ack). A capture that held
        // the first chunk back would stall the answer.
        if (url.searchParams.has('gated')) gate = rest;
        else rest();
        return;
      }
      case '/ack':
        res.writeHead(200, { ...cors, 'Content-Type': 'text/plain' }).end(String(sent));
        gate?.();
        gate = undefined;
        return;
      case '/ndjson':
        stream('application/x-ndjson');
        return every50ms(Array.from({ length: 10 }, (_, n) => JSON.stringify({ delta: token(n) }) + '\n'));
      case '/sse':
        stream('text/event-stream');
        return every50ms([...Array.from({ length: 10 }, (_, n) => `data: ${JSON.stringify({ delta: token(n) })}\n\n`), 'data: [DONE]\n\n']);
      case '/events': {
        // An EventSource's: three events, then the connection ends; the browser comes back after `retry`
        // with the last id, and the server goes on from there.
        const from = Number(req.headers['last-event-id'] ?? 0);
        eventSourceConnections.push(req.headers['last-event-id'] as string | undefined);
        res.writeHead(200, { ...cors, 'Content-Type': 'text/event-stream' });
        res.write('retry: 50\n\n');
        return every50ms([1, 2, 3].map((n) => `id: ${from + n}\ndata: event ${from + n}\n\n`));
      }
      case '/upload': {
        uploads++;
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => res.writeHead(200, { ...cors, 'Content-Type': 'text/plain' }).end('got ' + Buffer.concat(chunks).toString()));
        return;
      }
      case '/quick':
        return void res.writeHead(200, { ...cors, 'Content-Type': 'text/plain' }).end('quick answer');
      default:
        res.writeHead(404, cors).end();
    }
  });
  // A WebSocket echo at /ws (RFC 6455, enough of it for short text messages).
  server.on('upgrade', (req, socket) => {
    webSockets++;
    const accept = createHash('sha1')
      .update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
      .digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('data', (frame: Buffer) => {
      // One frame per message, under 126 bytes, masked as a browser's are.
      const opcode = frame[0] & 0x0f;
      if (opcode === 8) return void socket.end(Buffer.from([0x88, 0]));
      const length = frame[1] & 0x7f;
      const mask = frame.subarray(2, 6);
      const text = Buffer.from(frame.subarray(6, 6 + length).map((byte, i) => byte ^ mask[i % 4])).toString();
      const reply = Buffer.from('echo: ' + text);
      socket.write(Buffer.concat([Buffer.from([0x81, reply.length]), reply]));
    });
    socket.on('error', () => {});
  });

  const { url, close } = await listenLocally(server);
  return {
    url,
    closed: () => closed,
    eventSourceConnections,
    uploads: () => uploads,
    webSockets: () => webSockets,
    /** Lets answers write their last chunk: the one waiting now, and those to come. */
    allowLast(allowed = true) {
      lastAllowed = allowed;
      if (allowed) writeLast?.();
    },
    close,
  };
}

type ChatApi = Awaited<ReturnType<typeof startChatApi>>;
const test = testWithCollector.extend<{ api: ChatApi }>({
  api: async ({}, use) => {
    const api = await startChatApi();
    await use(api);
    await api.close();
  },
});

type Event = { request: { uri: string; body?: unknown }; response: { status: number; body?: unknown }; metadata?: Record<string, unknown> };
const eventsTo = (collector: Recorder, path: string) => (collector.items('events') as unknown as Event[]).filter((e) => new URL(e.request.uri).pathname === path);

/**
 * The chat app. `readAnswer(base, how)` reads a streamed answer as a chat UI does, telling the server
 * (/ack) once it has the first chunk, and gives back each read's text, in order, and how many chunks the
 * server had sent when the first arrived. `stopAnswer` is the stop button: abort() once the first chunk
 * is shown; `readUntilStopped` reads until `pressStop()`. Errors are given back as "name: message", as the app would show them.
 */
const APP = `
  const describe = (e) => e.name + ': ' + e.message;
  window.readAnswer = async (base, how) => {
    const res = await fetch(base + '/answer?gated');
    const reads = [];
    let sentAtFirst;
    const show = async (text) => {
      reads.push(text);
      if (reads.length == 1) sentAtFirst = Number(await (await fetch(base + '/ack')).text());
    };
    const decoder = new TextDecoder();
    if (how == 'TextDecoderStream') {
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (let r; !(r = await reader.read()).done; ) await show(r.value);
    } else if (how == 'for await') {
      for await (const chunk of res.body) await show(decoder.decode(chunk, { stream: true }));
    } else {
      const reader = res.body.getReader({ mode: 'byob' });
      let buffer = new ArrayBuffer(4096);
      for (let r; !(r = await reader.read(new Uint8Array(buffer))).done; ) {
        buffer = r.value.buffer;
        await show(decoder.decode(r.value, { stream: true }));
      }
    }
    return { reads, sentAtFirst };
  };
  window.stopAnswer = async (base) => {
    const controller = new AbortController();
    const res = await fetch(base + '/answer', { signal: controller.signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const first = (await reader.read()).value;
    controller.abort();
    const next = await reader.read().then((r) => 'read: ' + JSON.stringify(r), describe);
    const closed = await reader.closed.then(() => 'closed', describe);
    return { first, next, closed, signal: controller.signal.aborted };
  };
  window.readUntilStopped = async (base) => {
    const controller = new AbortController();
    window.pressStop = () => controller.abort();
    window.shown = '';
    const res = await fetch(base + '/answer', { signal: controller.signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (let r; !(r = await reader.read()).done; ) window.shown += r.value;
      return { shown: window.shown, error: 'none' };
    } catch (e) {
      return { shown: window.shown, error: describe(e) };
    }
  };
  window.readLocked = async (url) => {
    const locked = async () => {
      const res = await fetch(url);
      return [res, res.body.getReader()];
    };
    const [res1] = await locked();
    const text = await res1.text().then((v) => 'text: ' + v, describe);
    const [res2] = await locked();
    let clone = 'cloned';
    try {
      res2.clone();
    } catch (e) {
      clone = describe(e);
    }
    const [res3] = await locked();
    const arrayBuffer = await res3.arrayBuffer().then((v) => v.byteLength + ' bytes', describe);
    // The reader the app holds still reads the whole answer.
    const [res4, reader] = await locked();
    await res4.text().catch(() => {});
    let got = '';
    for (let r; !(r = await reader.read()).done; ) got += new TextDecoder().decode(r.value);
    return { text, clone, arrayBuffer, got };
  };
  window.readStream = async (url) => {
    const res = await fetch(url);
    let text = '';
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (let r; !(r = await reader.read()).done; ) text += r.value;
    return { type: res.headers.get('content-type'), text };
  };
  window.listen = (url, count) => new Promise((resolve) => {
    const source = new EventSource(url);
    const got = [];
    source.onmessage = (e) => {
      got.push(e.lastEventId + ': ' + e.data);
      if (got.length == count) {
        source.close();
        resolve(got);
      }
    };
  });
  window.echo = (url) => new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => socket.send('hello');
    socket.onmessage = (e) => {
      socket.close();
      resolve(e.data);
    };
  });
  window.upload = async (url) => {
    const encoder = new TextEncoder();
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(encoder.encode('part 1, '));
        controller.enqueue(encoder.encode('part 2'));
        controller.close();
      },
    });
    try {
      const res = await fetch(url, { method: 'POST', body, duplex: 'half' });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      return { error: describe(e) };
    }
  };
`;

async function openPage({ page, collector }: PageAndCollector) {
  collector.page('/chat', umdPage(`moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 100 }); ${APP}`));
  await page.goto(collector.url + '/chat');
}

const startCapture = (page: Page) => page.evaluate(() => (window as unknown as { moesif: { start(): void } }).moesif.start());
/** Calls one of APP's functions in the page. */
const run = <T>(page: Page, name: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(([name, args]) => (window as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name as string](...(args as unknown[])), [name, args] as const) as Promise<T>;

/**
 * A call made last: its event is recorded once the events of the calls before it, whose bodies were
 * read by then, had their turn, so a second event of one of them would be at the collector too.
 */
async function quickCallRecorded(page: Page, collector: Recorder, api: ChatApi) {
  await page.evaluate(async (base) => (await fetch(base + '/quick')).text(), api.url);
  await expect.poll(() => eventsTo(collector, '/quick').length).toBe(1);
}

for (const how of ['TextDecoderStream', 'for await', 'BYOB reader'] as const) {
  test(`a streamed answer read with ${how} reaches the app chunk by chunk, as without capture, and is recorded as far as capture read it in BODY_WAIT_MS, as truncated`, async ({ page, collector, api }) => {
    await openPage({ page, collector });
    type Read = { reads: string[]; sentAtFirst: number };
    const check = ({ reads, sentAtFirst }: Read) => {
      // The first chunk reached the app before the server wrote its second (which waits for /ack), alone.
      expect(sentAtFirst).toBe(1);
      expect(reads[0]).toBe(token(0));
      // Every chunk, in order, once: reads are whole chunks, as they came.
      expect(reads.join('')).toBe(FULL_ANSWER);
      for (const text of reads) expect(text).toMatch(/^(token \d+ )+$/);
    };

    api.allowLast();
    const without = await run<Read>(page, 'readAnswer', api.url, how);
    check(without);
    await expect.poll(api.closed).toBe(1);

    // With capture, the last chunk waits until the event is recorded: capture stops reading its copy
    // after BODY_WAIT_MS (body.ts), and the answer is then still streaming, as a long answer is.
    api.allowLast(false);
    await startCapture(page);
    const captured = run<Read>(page, 'readAnswer', api.url, how);
    await expect.poll(() => eventsTo(collector, '/answer').length, { timeout: 15_000 }).toBe(1);
    // Recorded while the answer still streams: capture let its copy go, the app's branch holds the connection.
    expect(api.closed()).toBe(1);
    api.allowLast();
    check(await captured);
    await expect.poll(api.closed).toBe(2);

    const [event] = eventsTo(collector, '/answer');
    expect(event.response.status).toBe(200);
    // What capture's copy had read when it let go: a beginning of the answer, as text (not JSON), cut.
    expect(event.metadata).toEqual({ truncated: ['response'] });
    expect(typeof event.response.body).toBe('string');
    const body = event.response.body as string;
    expect(body.startsWith(token(0))).toBe(true);
    expect(FULL_ANSWER.startsWith(body)).toBe(true);
    expect(body.length).toBeLessThan(FULL_ANSWER.length);
    // Recorded once, the /ack calls and the last call too.
    await quickCallRecorded(page, collector, api);
    expect(eventsTo(collector, '/answer')).toHaveLength(1);
    expect(eventsTo(collector, '/ack')).toHaveLength(1);
  });
}

test('the user stops an answer (abort()): the app gets the same AbortError as without capture, the connection closes, and the event is recorded once, cut', async ({ page, collector, api }) => {
  await openPage({ page, collector });
  api.allowLast();
  const without = await run<Record<string, unknown>>(page, 'stopAnswer', api.url);
  expect(without).toEqual({ first: token(0), next: 'AbortError: signal is aborted without reason', closed: 'AbortError: signal is aborted without reason', signal: true });
  await expect.poll(api.closed).toBe(1);

  await startCapture(page);
  expect(await run(page, 'stopAnswer', api.url)).toEqual(without);
  await expect.poll(api.closed, { message: 'the browser closed the stopped answer' }).toBe(2);

  await expect.poll(() => eventsTo(collector, '/answer').length, { timeout: 10_000 }).toBe(1);
  await quickCallRecorded(page, collector, api);
  const events = eventsTo(collector, '/answer');
  expect(events).toHaveLength(1);
  // The answer had begun (200) when it was stopped: no error. The abort errored capture's copy before
  // capture's deferred read began (GATHER_MS after the headers), and an errored stream drops what it
  // held, so the body is left out, and the event says it was cut (readCopy's catch).
  expect(events[0].response.status).toBe(200);
  expect(events[0].response.body).toBeUndefined();
  expect(events[0].metadata).toEqual({ truncated: ['response'] });
});

test('the user stops a long answer after capture recorded it: the app gets the same AbortError as without capture, the connection closes, and no second event comes', async ({ page, collector, api }) => {
  await openPage({ page, collector });
  const shown = () => page.evaluate(() => (window as unknown as { shown?: string }).shown ?? '');
  const pressStop = () => page.evaluate(() => (window as unknown as { pressStop(): void }).pressStop());
  // Every chunk but the last, which the server holds: the answer is still streaming when the user stops it.
  const allButLast = FULL_ANSWER.slice(0, -token(CHUNKS - 1).length);

  const withoutRun = run(page, 'readUntilStopped', api.url);
  await expect.poll(shown, { timeout: 10_000 }).toBe(allButLast);
  await pressStop();
  const without = await withoutRun;
  expect(without).toEqual({ shown: allButLast, error: 'AbortError: signal is aborted without reason' });
  await expect.poll(api.closed).toBe(1);

  await startCapture(page);
  const capturedRun = run(page, 'readUntilStopped', api.url);
  await expect.poll(() => eventsTo(collector, '/answer').length, { timeout: 15_000 }).toBe(1);
  await expect.poll(shown, { timeout: 10_000 }).toBe(allButLast);
  await pressStop();
  expect(await capturedRun).toEqual(without);
  await expect.poll(api.closed, { message: 'the browser closed the stopped answer' }).toBe(2);

  await quickCallRecorded(page, collector, api);
  const events = eventsTo(collector, '/answer');
  expect(events).toHaveLength(1);
  expect(events[0].response.status).toBe(200);
  expect(events[0].metadata).toEqual({ truncated: ['response'] });
  expect(allButLast.startsWith(events[0].response.body as string)).toBe(true);
  expect(events[0].response.body).toMatch(/^token 0 /);
});

test("an app that holds a reader of an answer's body and then reads it otherwise gets the browser's errors as without capture", async ({ page, collector, api }) => {
  await openPage({ page, collector });
  api.allowLast();
  const without = await run(page, 'readLocked', api.url + '/answer');
  expect(without).toEqual({
    text: "TypeError: Failed to execute 'text' on 'Response': body stream is locked",
    clone: "TypeError: Failed to execute 'clone' on 'Response': Response body is already used",
    arrayBuffer: "TypeError: Failed to execute 'arrayBuffer' on 'Response': body stream is locked",
    got: FULL_ANSWER,
  });
  await startCapture(page);
  // Before the fix, the browser's body was unlocked behind the one capture shows the app: text() read it
  // (and took it from the app's reader), clone() cloned it.
  expect(await run(page, 'readLocked', api.url + '/answer')).toEqual(without);
  await expect.poll(api.closed).toBe(8);
  // Each recorded once, from capture's copy: all four of them.
  await expect.poll(() => eventsTo(collector, '/answer').length, { timeout: 15_000 }).toBe(4);
});

test('NDJSON and server-sent events read with fetch reach the app as without capture and are recorded without their bodies', async ({ page, collector, api }) => {
  await openPage({ page, collector });
  const read = () => Promise.all([run(page, 'readStream', api.url + '/ndjson'), run(page, 'readStream', api.url + '/sse')]);
  const without = await read();
  expect(without).toEqual([
    { type: 'application/x-ndjson', text: Array.from({ length: 10 }, (_, n) => JSON.stringify({ delta: token(n) }) + '\n').join('') },
    { type: 'text/event-stream', text: Array.from({ length: 10 }, (_, n) => `data: ${JSON.stringify({ delta: token(n) })}\n\n`).join('') + 'data: [DONE]\n\n' },
  ]);
  await startCapture(page);
  expect(await read()).toEqual(without);
  await expect.poll(api.closed).toBe(4);

  await quickCallRecorded(page, collector, api);
  for (const path of ['/ndjson', '/sse']) {
    const events = eventsTo(collector, path);
    expect(events).toHaveLength(1);
    expect(events[0].response.status).toBe(200);
    // Not copied: nothing read, nothing cut.
    expect(events[0].response.body).toBeUndefined();
    expect(events[0].metadata).toBeUndefined();
  }
});

test('EventSource (and its reconnection) and WebSocket work as without capture, and are not recorded', async ({ page, collector, api }) => {
  await openPage({ page, collector });
  const ws = api.url.replace('http:', 'ws:') + '/ws';
  const talk = async () => ({ events: await run<string[]>(page, 'listen', api.url + '/events', 6), echo: await run<string>(page, 'echo', ws) });
  const without = await talk();
  expect(without).toEqual({ events: ['1: event 1', '2: event 2', '3: event 3', '4: event 4', '5: event 5', '6: event 6'], echo: 'echo: hello' });
  await startCapture(page);
  expect(await talk()).toEqual(without);
  // Each run connected twice, the second time with the id of the last event it had.
  expect(api.eventSourceConnections).toEqual([undefined, '3', undefined, '3']);
  expect(api.webSockets()).toBe(2);

  await quickCallRecorded(page, collector, api);
  expect(collector.items('events')).toHaveLength(1);
});

test('a streamed upload (a ReadableStream body, duplex: half), which Chromium refuses over HTTP/1.1, fails for the app as without capture, and is recorded as failed', async ({ page, collector, api }) => {
  await openPage({ page, collector });
  // Chromium streams request bodies over HTTP/2 or QUIC only: over HTTP/1.1 the fetch fails before a byte is sent.
  const without = await run(page, 'upload', api.url + '/upload');
  expect(without).toEqual({ error: 'TypeError: Failed to fetch' });
  await startCapture(page);
  expect(await run(page, 'upload', api.url + '/upload')).toEqual(without);
  expect(api.uploads()).toBe(0);

  await quickCallRecorded(page, collector, api);
  const events = eventsTo(collector, '/upload');
  expect(events).toHaveLength(1);
  expect(events[0].response.status).toBe(0);
  expect(events[0].metadata).toEqual({ error: 'TypeError: Failed to fetch' });
  // The stream is the app's, handed to fetch: capture never reads it (readBody).
  expect(events[0].request.body).toBeUndefined();
});

/** An upload API over HTTP/2 (TLS, as browsers speak it) at https://api.example.test (see browser.ts); each body it got, in order. */
async function startHttp2Uploads() {
  const got: string[] = [];
  const sessions = new Set<ServerHttp2Session>();
  const server = createSecureServer(selfSignedCertificate(), (req, res) => {
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': '*', 'Access-Control-Allow-Methods': '*' };
    // A stream body makes the request not simple: preflighted.
    if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      got.push(Buffer.concat(chunks).toString());
      res.writeHead(200, { ...cors, 'Content-Type': 'text/plain' }).end('got ' + got.at(-1));
    });
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://api.example.test:${(server.address() as AddressInfo).port}`,
    got,
    close: () => {
      for (const session of sessions) session.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test.describe('over HTTP/2', () => {
  test.use({ ignoreHTTPSErrors: true });

  test('a streamed upload reaches the server whole, as without capture, and is recorded without its request body', async ({ page, collector, api }) => {
    const uploads = await startHttp2Uploads();
    try {
      await openPage({ page, collector });
      const without = await run(page, 'upload', uploads.url + '/upload');
      expect(without).toEqual({ status: 200, text: 'got part 1, part 2' });
      await startCapture(page);
      expect(await run(page, 'upload', uploads.url + '/upload')).toEqual(without);
      expect(uploads.got).toEqual(['part 1, part 2', 'part 1, part 2']);

      await expect.poll(() => eventsTo(collector, '/upload').length).toBe(1);
      await quickCallRecorded(page, collector, api);
      const events = eventsTo(collector, '/upload');
      expect(events).toHaveLength(1);
      // The stream is the app's, handed to fetch: capture never reads it (readBody). The answer the app read is kept.
      expect(events[0].request.body).toBeUndefined();
      expect(events[0].response).toMatchObject({ status: 200, body: 'got part 1, part 2' });
      expect(events[0].metadata).toBeUndefined();
    } finally {
      await uploads.close();
    }
  });
});
