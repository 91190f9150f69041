import { createServer, type ServerResponse } from 'node:http';
import type { Page } from '@playwright/test';
import { expect, test as testWithCollector, type PageAndCollector } from './support/fixtures';
import { listenLocally } from './support/listen';
import { umdPage, type Recorder } from './support/recorder';

/**
 * Capture never holds a connection longer than the app does (issue 17, part 4). Chromium opens at most
 * 6 HTTP/1.1 connections per host: a response body nobody releases holds one of them, and after six
 * such bodies every later call to that host waits. These tests stream from a real server on
 * 127.0.0.1 (a host of its own, apart from the page and the collector) and count, on the server,
 * the streams whose connection the browser closed.
 */

/** An API that streams text/plain, a chunk every 20 ms, until the client goes away. */
async function startStreams() {
  let closed = 0;
  let quick = 0;
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const headers = { 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-store', 'Content-Type': 'text/plain; charset=utf-8' };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/sized') {
      // 100,000 bytes with their Content-Length: over the default maxBodyBytes (65,536) before a byte is read.
      res.writeHead(200, { ...headers, 'Content-Length': '100000' }).end('x'.repeat(100_000));
      return;
    }
    if (url.pathname === '/quick') {
      quick++;
      res.writeHead(200, headers).end('quick answer');
      return;
    }
    // No Content-Length and no streaming content type: nothing tells it from a slow JSON answer.
    res.writeHead(200, headers);
    open.add(res);
    let n = 0;
    res.write(`chunk ${n++}\n`);
    const timer = setInterval(() => res.write(`chunk ${n++}\n`), 20);
    res.on('close', () => {
      clearInterval(timer);
      open.delete(res);
      closed++;
    });
  });
  const { url, close } = await listenLocally(server);
  return {
    url,
    /** Streams whose connection the client closed. */
    closed: () => closed,
    /** Streams still being written. */
    open: () => open.size,
    /** Requests to /quick answered. */
    quick: () => quick,
    close,
  };
}

type Streams = Awaited<ReturnType<typeof startStreams>>;
/** Each test gets a streaming API of its own as well as its collector. */
const test = testWithCollector.extend<{ streams: Streams }>({
  streams: async ({}, use) => {
    const streams = await startStreams();
    await use(streams);
    await streams.close();
  },
});

type Event = { request: { uri: string }; response: { status: number; body?: unknown }; metadata?: Record<string, unknown> };
const events = (collector: Recorder) => collector.items('events') as unknown as Event[];
const streamEvents = (collector: Recorder) => events(collector).filter((e) => new URL(e.request.uri).pathname === '/stream');

/**
 * Six streams, each read a little and then dropped as apps do ("stop generating"): reader.cancel(),
 * a `for await` loop that breaks, a reader of a piped TextDecoderStream cancelled. Then a seventh
 * call to the same host. Started in the page, not awaited: the test waits on the server.
 */
const SCENARIO = `
  window.dropSix = async (base) => {
    for (let i = 0; i < 6; i++) {
      const res = await fetch(base + '/stream?i=' + i);
      if (i % 3 == 0) {
        const reader = res.body.getReader();
        await reader.read();
        await reader.cancel();
      } else if (i % 3 == 1) {
        for await (const chunk of res.body) break;
      } else {
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        await reader.read();
        await reader.cancel();
      }
    }
    const t0 = performance.now();
    const res = await fetch(base + '/quick');
    return { text: await res.text(), seventhMs: performance.now() - t0 };
  };
`;

async function openPage({ page, collector }: PageAndCollector) {
  collector.page('/p', umdPage(`moesif.init({ applicationId: 'app', host: 'http://127.0.0.1:' + location.port, batchMaxTime: 100 }); ${SCENARIO}`));
  await page.goto(collector.url + '/p');
}

/** Runs the scenario; resolves with what the seventh call gave, once the server answered it. */
async function dropSixThenCall({ page, streams }: { page: Page; streams: Streams }, round: number) {
  const result = page.evaluate((base) => (window as unknown as { dropSix(base: string): Promise<{ text: string; seventhMs: number }> }).dropSix(base), streams.url);
  // Before the fix, the seventh request never left the browser: all six connections were held.
  await expect.poll(streams.quick, { message: 'the seventh request reached the server', timeout: 30_000 }).toBe(round);
  await expect.poll(streams.closed, { message: 'each dropped stream was closed', timeout: 30_000 }).toBe(6 * round);
  return result;
}

test('after six cancelled streams to one host, a seventh call completes, as it does without the SDK, and the server sees each stream closed', async ({ page, collector, streams }) => {
  await openPage({ page, collector });
  const without = await dropSixThenCall({ page, streams }, 1);
  await page.evaluate(() => (window as unknown as { moesif: { start(): void } }).moesif.start());
  const captured = await dropSixThenCall({ page, streams }, 2);
  expect(captured.text).toBe('quick answer');
  expect(streams.open()).toBe(0);
  test.info().annotations.push({ type: 'seventh call', description: `${without.seventhMs.toFixed(1)} ms without capture, ${captured.seventhMs.toFixed(1)} ms with it` });

  // Each stream is still recorded: with what the app read before it stopped (capture's copy holds it,
  // and is let go once that is read), cut there, and said so.
  await expect.poll(() => streamEvents(collector).length).toBe(6);
  for (const event of streamEvents(collector)) {
    expect(event.response.status).toBe(200);
    expect(event.metadata).toEqual({ truncated: ['response'] });
    expect(event.response.body).toMatch(/^chunk 0\n/);
  }
  await expect.poll(() => events(collector).some((e) => e.request.uri.endsWith('/quick'))).toBe(true);
});

test('a stream the app keeps reading is recorded as truncated, and released by capture, while the app still reads it', async ({ page, collector, streams }) => {
  await openPage({ page, collector });
  await page.evaluate(() => (window as unknown as { moesif: { start(): void } }).moesif.start());
  await page.evaluate((base) => {
    const w = window as unknown as { chunks: number; stopReading?: () => void };
    w.chunks = 0;
    void (async () => {
      const reader = (await fetch(base + '/stream?kept')).body!.getReader();
      w.stopReading = () => void reader.cancel();
      while (!(await reader.read()).done) w.chunks++;
    })();
  }, streams.url);
  // The event comes while the stream still runs (it never ends on its own), with what capture read first.
  await expect.poll(() => streamEvents(collector).length, { timeout: 20_000 }).toBe(1);
  expect(streams.open()).toBe(1);
  const [event] = streamEvents(collector);
  expect(event.metadata).toEqual({ truncated: ['response'] });
  expect(event.response.body).toMatch(/^chunk 0\nchunk 1\n/);
  // The app's copy kept flowing after capture let go of its own.
  const chunks = await page.evaluate(() => (window as unknown as { chunks: number }).chunks);
  await expect.poll(() => page.evaluate(() => (window as unknown as { chunks: number }).chunks)).toBeGreaterThan(chunks + 5);
  await page.evaluate(() => (window as unknown as { stopReading(): void }).stopReading());
  await expect.poll(streams.closed).toBe(1);
});

test('a body over maxBodyBytes by its Content-Length reaches the app whole and is recorded without it, as truncated', async ({ page, collector, streams }) => {
  await openPage({ page, collector });
  await page.evaluate(() => (window as unknown as { moesif: { start(): void } }).moesif.start());
  const length = await page.evaluate(async (base) => (await (await fetch(base + '/sized')).text()).length, streams.url);
  expect(length).toBe(100_000);
  await expect.poll(() => events(collector).length).toBe(1);
  const [event] = events(collector);
  expect(event.response.status).toBe(200);
  expect(event.response.body).toBeUndefined();
  expect(event.metadata).toEqual({ truncated: ['response'] });
});
