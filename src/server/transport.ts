/**
 * One way to POST JSON to the collector. node:http(s) rather than global fetch: an app that patches
 * fetch (test mocks, APM agents) must not see or break our traffic, and a keep-alive Agent unrefs idle
 * sockets, so a quiet middleware never keeps the process alive.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { parseRetryAfter } from '../delivery/backoff.js';
import { APPLICATION_ID_HEADER, SDK_HEADER } from '../wire.js';

/** Replaced by the package version at build time (rollup.config.mjs); left as is in unit tests. */
export const SDK_HEADER_VALUE = 'usertrail-node/__USERTRAIL_VERSION__';

export interface SendResult {
  /** HTTP status, or 0 when no answer came. */
  status: number;
  retryAfterMs?: number;
  /** A short reason (error code or "timeout"), never payload data. */
  error?: string;
}

/** POST `json` (already serialized, so a bad value fails where it was made, not in a batch) to `path`. */
export type Send = (path: string, json: string) => Promise<SendResult>;

export interface TransportConfig {
  baseUri: string;
  applicationId: string;
  requestTimeout: number;
}

/** Collector answers are tiny; a larger one is not read further (it only has to be drained). */
const MAX_ANSWER_BYTES = 64 * 1024;

export function createTransport(config: TransportConfig): Send {
  const secure = config.baseUri.startsWith('https:');
  // Two sockets: one batch in flight plus a profile update; more would only load a struggling collector.
  const agent = secure ? new HttpsAgent({ keepAlive: true, maxSockets: 2 }) : new HttpAgent({ keepAlive: true, maxSockets: 2 });
  const request = secure ? httpsRequest : httpRequest;

  return (path, json) =>
    new Promise<SendResult>((resolve) => {
      let settled = false;
      const done = (result: SendResult) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      // requestTimeout bounds the whole exchange, not only silences: an answer that trickles in
      // (a proxy padding a stalled upstream) never idles, and kept the batch in flight for ever.
      let deadline: ReturnType<typeof setTimeout> | undefined;
      try {
        const body = Buffer.from(json, 'utf8');
        const req = request(
          `${config.baseUri}${path}`,
          {
            method: 'POST',
            agent,
            headers: {
              'Content-Type': 'application/json',
              'Content-Length': String(body.length),
              [APPLICATION_ID_HEADER]: config.applicationId,
              [SDK_HEADER]: SDK_HEADER_VALUE,
            },
          },
          (res) => {
            // The status line is the answer: the outcome does not wait for a body nobody reads.
            const status = res.statusCode ?? 0;
            const retryAfterMs = parseRetryAfter(res.headers['retry-after'], Date.now());
            done(retryAfterMs === undefined ? { status } : { status, retryAfterMs });
            let read = 0;
            // Drain the answer so the socket returns to the agent; its content is not needed.
            res.on('data', (chunk: Buffer) => {
              read += chunk.length;
              if (read > MAX_ANSWER_BYTES) res.destroy();
            });
            res.on('error', () => {});
            res.on('close', () => clearTimeout(deadline));
          },
        );
        deadline = setTimeout(() => {
          req.destroy();
          done({ status: 0, error: 'timeout' });
        }, config.requestTimeout);
        deadline.unref?.();
        req.on('error', (error: NodeJS.ErrnoException) => {
          clearTimeout(deadline);
          done({ status: 0, error: error.code ?? error.name });
        });
        req.end(body);
      } catch (error) {
        clearTimeout(deadline);
        // An invalid header value or URL: a value, not a throw.
        done({ status: 0, error: error instanceof Error ? error.name : 'error' });
      }
    });
}
