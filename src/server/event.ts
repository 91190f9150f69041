/**
 * The Moesif event of an incoming call, built once its response has finished (exchange.ts observed
 * it), and the lighter form of an event that the outbox keeps when it is full.
 */
import { randomUUID } from 'node:crypto';
import { encodeParsed, type BodyRecorder, type EncodedBody } from './body.js';
import type { Exchange } from './exchange.js';
import { flattenHeaders, type RawHeaders } from './headers.js';
import { applyAnswers, askHooks, hookCaller, maskEvent } from './hooks.js';
import type { Hook } from './options.js';
import { clientIp, firstHeaderValue, fullUrl } from './request-origin.js';
import { MAX_TRANSACTION_ID_LENGTH, TRANSACTION_ID_HEADER } from './transaction-id.js';
import type { MoesifEvent } from './types.js';

/**
 * Whether the request body recorded is all of it: its end was pushed, or as many bytes came as its
 * Content-Length says. Node pushes the end of a body only when its parser next runs, after the
 * response has finished if the app answered without reading the body: a Fastify route's 401 from an
 * auth hook or its 415, Hapi's 401 before the payload is read. Such a body came whole all the same,
 * and was logged as cut (as text, not parsed JSON, and marked truncated).
 */
function wholeRequestBody(exchange: Exchange, body: BodyRecorder): boolean {
  if (exchange.requestEnded) return true;
  const declared = firstHeaderValue(exchange.req.headers['content-length']);
  return /^\d+$/.test(declared) && Number(declared) === body.total();
}

/**
 * An event without its bodies, which are most of a large one, and marked truncated as a cut body is.
 * The outbox queues it in place of the whole event when its character bound is reached: 500 event
 * streams whose clients left together made 55 M characters of events, and a third of the calls were
 * dropped whole though the collector was up. Undefined when the event has no body to leave out.
 */
export function withoutBodies(json: string): string | undefined {
  let event: MoesifEvent;
  try {
    event = JSON.parse(json) as MoesifEvent;
  } catch {
    return undefined;
  }
  const truncated: Array<'request' | 'response'> = [];
  for (const side of ['request', 'response'] as const) {
    if (event[side]?.body === undefined) continue;
    delete event[side].body;
    delete event[side].transfer_encoding;
    truncated.push(side);
  }
  if (truncated.length === 0) return undefined;
  event.metadata = { ...event.metadata, truncated };
  return JSON.stringify(event);
}

export async function buildEvent(
  exchange: Exchange,
  response: { status: number; headers: RawHeaders; bodyEnded: boolean },
): Promise<MoesifEvent | undefined> {
  const { req, res, requestBody, responseBody } = exchange;
  const { options, log } = exchange.recording;
  const responseTime = new Date();
  // The hooks of one event together: one awaiting something that never answers (a database lookup)
  // would otherwise keep the event, and the request and response it holds, in memory for good, and
  // make flush() on shutdown wait forever (the hookTimeout option).
  const deadline = Date.now() + options.hookTimeout;
  // req.url as the app received it while the hook is called, put back as soon as the call returns:
  // nothing else runs in between, so the app never sees the change.
  const asReceived = (hook: Hook): Hook => (q, r) => {
    const routed = q.url;
    q.url = exchange.url;
    try {
      return hook(q, r);
    } finally {
      q.url = routed;
    }
  };
  const askHook = hookCaller({ req, res, log, deadline, hookTimeout: options.hookTimeout });
  const answers = await askHooks((name, hook) => askHook(name, hook && asReceived(hook)), options);
  if (!answers) return undefined;

  const event: MoesifEvent = {
    request: {
      time: new Date(exchange.startedAt).toISOString(),
      uri: fullUrl(req),
      verb: req.method ?? 'GET',
      headers: flattenHeaders(req.headers),
    },
    response: {
      time: responseTime.toISOString(),
      status: response.status,
      headers: flattenHeaders(response.headers),
    },
    direction: 'Incoming',
    transaction_id: exchange.transactionId ?? randomUUID(),
  };
  const sentId = exchange.transactionId === undefined ? '' : firstHeaderValue(response.headers[TRANSACTION_ID_HEADER]);
  if (sentId) {
    // The id the client got (the app's own, if it set one): moesif-nodejs copies the response's
    // header into the request's, and so the event is the one the client can name.
    event.request.headers[TRANSACTION_ID_HEADER] = event.response.headers[TRANSACTION_ID_HEADER] ?? sentId;
    if (sentId.length <= MAX_TRANSACTION_ID_LENGTH) event.transaction_id = sentId;
  }
  // The socket's address as it was when the request came: a socket that has closed since (a client that
  // hung up while an async hook ran) no longer has one, and Express's req.ip is then undefined too.
  const ip = clientIp(req.headers, (typeof req.ip === 'string' ? req.ip : undefined) || exchange.socketAddress);
  if (ip) event.request.ip_address = ip;

  // Bodies logged only in part (over the cap, or a stream that never ended), named as the browser
  // SDK names them; a metadata field, since Moesif's event has no other place for it.
  const truncated: Array<'request' | 'response'> = [];
  const setBody = (side: 'request' | 'response', { cut, ...body }: EncodedBody) => {
    Object.assign(event[side], body);
    if (cut) truncated.push(side);
  };
  if (options.logBody) {
    const contentType = firstHeaderValue(req.headers['content-type']);
    if (req.body !== undefined) setBody('request', encodeParsed(req.body, options.requestMaxBodySize, contentType));
    else if (requestBody) {
      const encoded = await requestBody.decode({
        ended: wholeRequestBody(exchange, requestBody),
        contentType,
        contentEncoding: firstHeaderValue(req.headers['content-encoding']),
      });
      setBody('request', encoded);
    }
  }
  // Node sends no body for HEAD, 1xx, 204 and 304 and drops what the app writes (RFC 9110 §6.4.1);
  // the event must not show one the client never got.
  const { status } = response;
  const bodiless = req.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
  if (responseBody && !bodiless) {
    const encoded = await responseBody.decode({
      ended: response.bodyEnded,
      contentType: firstHeaderValue(response.headers['content-type']),
      contentEncoding: firstHeaderValue(response.headers['content-encoding']),
    });
    setBody('response', encoded);
  }

  applyAnswers(event, answers, truncated);
  return maskEvent(event, options, log, deadline);
}
