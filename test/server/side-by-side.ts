/**
 * Apps of other frameworks run side by side (frameworks.test.ts, nestjs.test.ts): the same calls
 * without a middleware, with the real moesif-nodejs and with usertrail/server, each logging to a
 * recording collector of its own on 127.0.0.1, and the two SDKs' events read as Moesif shows them.
 */
import { gunzipSync } from 'node:zlib';
import moesifNodejs from 'moesif-nodejs';
import { expect } from 'vitest';
import usertrail from '../../src/server/index';
import { startRecorder, waitFor, type Recorder, type RunningApp } from './helpers';

export type Sdk = 'moesif-nodejs' | 'usertrail';
// any: the assertions read arbitrary fields of both SDKs' events.
export type Json = Record<string, any>;
/** A Connect middleware as both SDKs make it: (req, res, next), with flush() on usertrail's. */
export type Middleware = ((req: unknown, res: unknown, next?: () => void) => unknown) & { flush?(): Promise<void> };
type Factory = (options: Json) => Middleware;
const FACTORY: Record<Sdk, Factory> = {
  'moesif-nodejs': moesifNodejs as unknown as Factory,
  usertrail: usertrail as unknown as Factory,
};

/** An app, the collector its middleware logs to, and the middleware (none without an SDK). */
export interface Started {
  app: RunningApp;
  collector: Recorder;
  middleware: Middleware | undefined;
}

/**
 * A collector, `sdk`'s middleware given `options` and logging to it, and the app `startApp` makes with
 * that middleware; `opened` gets both, for the test file's afterEach to close.
 */
export async function startWithSdk(
  sdk: Sdk | undefined,
  options: Json,
  startApp: (middleware: Middleware | undefined) => Promise<RunningApp>,
  opened: Array<{ close(): Promise<void> }>,
): Promise<Started> {
  const collector = await startRecorder(0, { contract: sdk === 'usertrail' });
  opened.push(collector);
  // usertrail/server's batches leave at once here; moesif-nodejs's after its shortest batchMaxTime (it refuses 500 or less).
  const middleware = sdk && FACTORY[sdk]({ ...options, baseUri: collector.url, batchMaxTime: sdk === 'usertrail' ? 10 : 501 });
  const app = await startApp(middleware);
  opened.push(app);
  return { app, collector, middleware };
}

/** One call a test makes to the app. */
export interface AppCall {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array<ArrayBuffer>;
}

/** What the client got, but for what differs by time and the middleware's own header (its transaction id). */
export interface ClientAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export async function answerOf(res: Response): Promise<ClientAnswer> {
  const headers = Object.fromEntries([...res.headers].filter(([name]) => name !== 'date' && name !== 'x-moesif-transaction-id'));
  return { status: res.status, headers, body: await res.text() };
}

/**
 * `calls` through the app in turn: what the client got, and each call's event (none without a
 * middleware). Events are matched to calls by the transaction id each answer carried (both SDKs log
 * the header they sent): the events of calls answered in turn may arrive in another order (usertrail
 * decodes a gzip body in zlib's thread pool).
 */
export async function runCalls({ app, collector, middleware }: Started, calls: readonly AppCall[], init: RequestInit = {}): Promise<{ answers: ClientAnswer[]; events: Json[] }> {
  const answers: ClientAnswer[] = [];
  const transactionIds: string[] = [];
  for (const { method, path, headers, body } of calls) {
    const res = await fetch(app.url + path, { ...init, method, headers, body });
    transactionIds.push(res.headers.get('x-moesif-transaction-id') ?? 'none sent');
    answers.push(await answerOf(res));
  }
  if (!middleware) return { answers, events: [] };
  await middleware.flush?.();
  const received = await waitFor(() => collector.events().length >= calls.length && collector.events(), 10_000);
  const events = transactionIds.map((id) => {
    const ofCall = received.filter((event) => event.response.headers['x-moesif-transaction-id'] === id);
    expect(ofCall, `the events of transaction ${id}`).toHaveLength(1);
    return ofCall[0]!;
  });
  expect(received).toHaveLength(calls.length);
  return { answers, events };
}

/** A body as the client read it: parsed when it is JSON, as Moesif logs it. */
export function asLogged(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A body of an event as Moesif shows it: moesif-nodejs sends a body that is not JSON, or was
 * compressed, as base64 of the bytes that passed (Moesif decodes base64), usertrail decoded.
 */
export function shownBody(side: Json): unknown {
  if (side.transfer_encoding !== 'base64') return side.body;
  const bytes = Buffer.from(side.body, 'base64');
  return asLogged((side.headers?.['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes).toString());
}

/** A body with its password replaced: moesif-nodejs sends a parsed one's MD5 and a text one as it came, usertrail `*****`. */
export function withoutPassword(body: unknown): unknown {
  if (typeof body === 'string') return body.replace(/(password"?\s*[:=]\s*"?)[^"&]*/, '$1(masked)');
  return body && typeof body === 'object' && 'password' in body ? { ...body, password: '(masked)' } : body;
}

/** What both SDKs' events say of any call, with the differences the README documents undone (masking, base64); test files add their own fields. */
export function comparableCall(event: Json, url: string): Json {
  const { request, response } = event;
  return {
    call: `${request.verb} ${request.uri.replace(url, '')}`,
    status: response.status,
    user_id: event.user_id,
    company_id: event.company_id,
    request_body: withoutPassword(shownBody(request)),
  };
}
