/** The collector's HTTP errors: every one is JSON `{ error }`, and no client input can cause a 500. */
import type express from 'express';
import type { CollectorConfig } from '../config.js';
import { CursorError } from '../store.js';

/** Raised by query parameter parsing; answered as 400 naming the parameter. */
export class BadQuery extends Error {}

/** The error body-parser and express give for a request they refuse. */
interface HttpError {
  type?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
  stack?: string;
}

/**
 * A path nothing answers, in JSON like every other error: an SDK whose host option carries a path
 * (or lacks /v1) posts there, and its developer reads the answer in the network panel.
 */
export const notFound: express.RequestHandler = (req, res) => void res.status(404).json({ error: `no such endpoint: ${req.method} ${req.originalUrl.split('?')[0]}` });

export function createErrorHandler({ config }: { config: Pick<CollectorConfig, 'log' | 'maxBodyBytes'> }): express.ErrorRequestHandler {
  return (thrown: unknown, req, res, _next) => {
    if (res.headersSent) return;
    if (thrown instanceof BadQuery || thrown instanceof CursorError) return void res.status(400).json({ error: thrown.message });
    const err = (thrown ?? {}) as HttpError;
    if (err.type === 'entity.too.large') {
      config.log(`${req.method} ${req.path} 413`);
      return void res.status(413).json({ error: `body is larger than ${config.maxBodyBytes} bytes` });
    }
    // Other body-reading failures (aborted upload, bad Content-Encoding) are the client's too.
    const status = Number(err.status ?? err.statusCode);
    if (status >= 400 && status < 500) return void res.status(status).json({ error: String(err.expose ? err.message : 'bad request') });
    config.log(`${req.method} ${req.path} 500 ${err.stack ?? String(thrown)}`);
    res.status(500).json({ error: 'internal error' });
  };
}
