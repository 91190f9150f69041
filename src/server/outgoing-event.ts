/**
 * The event of an outgoing call, however the app made it (node:http(s) in outgoing.ts, global fetch
 * in outgoing-fetch.ts): the hooks get moesif-nodejs's mocked request and response, and the event
 * goes on through the middleware's masking and outbox.
 */
import { randomUUID } from 'node:crypto';
import type { EncodedBody } from './body.js';
import { flattenHeaders, type RawHeaders } from './headers.js';
import { applyAnswers, askHooks, hookCaller, maskEvent } from './hooks.js';
import { handOn, type Recording } from './recording.js';
import type { MockedRequest, MockedResponse, MoesifEvent } from './types.js';

/** moesif-nodejs's status for an outgoing call that got no answer. */
export const NO_ANSWER = 599;

/** One outgoing call as it ended, its bodies decoded. */
export interface OutgoingExchange {
  readonly startedAt: number;
  readonly endedAt: number;
  /** The URL called, credentials masked. */
  readonly url: string;
  readonly method: string;
  readonly requestHeaders: RawHeaders;
  readonly requestBody: EncodedBody;
  /** NO_ANSWER when none came (refused, timed out, aborted). */
  readonly status: number;
  readonly responseHeaders: MockedResponse['headers'];
  readonly responseBody: EncodedBody;
}

/** Builds the call's event once its bodies are decoded (the hooks may be async too) and hands it on to the outbox. */
export function logOutgoing(recording: Recording, exchange: Promise<OutgoingExchange>): void {
  handOn(
    recording,
    exchange.then((ended) => buildEvent(recording, ended)),
  );
}

/**
 * The collector's requests (ours and moesif-nodejs's, told by the headers they carry), calls to
 * Moesif (by their host, as moesif-nodejs tells them) and dd-trace's to its agent, which are never
 * logged. `host` is the call's host and port, the port left out when it is the scheme's default.
 */
export function isCollectorCall(hasHeader: (name: string) => boolean, host: string): boolean {
  if (hasHeader('x-moesif-application-id') || hasHeader('x-moesif-sdk')) return true;
  return /(^|\.)moesif\.net(:\d+)?$/i.test(host) || isDatadogAgent(host);
}

/**
 * The Datadog agent, where dd-trace sends its traces (every 2 s), telemetry and remote-configuration
 * polls (every 5 s): logged, they were a stream of events of nothing the app did. Told by its address
 * as dd-trace reads it from the environment (DD_TRACE_AGENT_URL; else DD_TRACE_AGENT_PORT, 8126 by
 * default, on whatever host DD_AGENT_HOST names), as its requests carry nothing that says whose they
 * are. An agent given to dd-trace in code (`init({ url })`) on another port is not known here.
 */
function isDatadogAgent(host: string): boolean {
  const { DD_TRACE_AGENT_URL: url, DD_TRACE_AGENT_PORT: port } = process.env;
  if (host.endsWith(`:${port || 8126}`)) return true;
  if (!url) return false;
  try {
    return new URL(url).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** A header's value as one string, repeated values joined by ", " (as MockedHeaderReader promises). */
export const headerString = (value: unknown): string =>
  Array.isArray(value) ? value.map(String).join(', ') : value === undefined || value === null ? '' : String(value);

/** getHeader and get of the mocked objects: any case of the name. */
function headerReader(headers: RawHeaders): (name: string) => string | undefined {
  return (name) => {
    if (typeof name !== 'string') return undefined;
    const value = headers[name] ?? headers[name.toLowerCase()];
    return value === undefined ? undefined : headerString(value);
  };
}

async function buildEvent(recording: Recording, exchange: OutgoingExchange): Promise<MoesifEvent | undefined> {
  const { url, method, status, requestHeaders, responseHeaders, requestBody, responseBody } = exchange;
  const { options, log } = recording;
  const deadline = Date.now() + options.hookTimeout;
  const mockedRequest: MockedRequest = {
    mo_mocked: true,
    _mo_mocked: true,
    headers: requestHeaders,
    url,
    method,
    getHeader: headerReader(requestHeaders),
    get: headerReader(requestHeaders),
    body: requestBody.body,
  };
  const mockedResponse: MockedResponse = {
    mo_mocked: true,
    _mo_mocked: true,
    headers: responseHeaders,
    statusCode: status,
    getHeader: headerReader(responseHeaders),
    get: headerReader(responseHeaders),
    body: responseBody.body,
  };
  // The hooks are typed for incoming requests (as moesif-nodejs's README documents them); here they get the mocked pair.
  type Hook = ((req: MockedRequest, res: MockedResponse) => unknown) | undefined;
  const askHook = hookCaller({ req: mockedRequest, res: mockedResponse, log, deadline, hookTimeout: options.hookTimeout });
  const answers = await askHooks((name, hook) => askHook(name, hook as Hook), options);
  if (!answers) return undefined;

  const event: MoesifEvent = {
    request: { time: new Date(exchange.startedAt).toISOString(), uri: url, verb: method, headers: flattenHeaders(requestHeaders) },
    response: { time: new Date(exchange.endedAt).toISOString(), status, headers: flattenHeaders(responseHeaders) },
    direction: 'Outgoing',
    transaction_id: randomUUID(),
  };
  const truncated: Array<'request' | 'response'> = [];
  for (const [side, { cut, ...body }] of [
    ['request', requestBody],
    ['response', responseBody],
  ] as const) {
    Object.assign(event[side], body);
    if (cut) truncated.push(side);
  }
  applyAnswers(event, answers, truncated);
  return maskEvent(event, options, log, deadline);
}
