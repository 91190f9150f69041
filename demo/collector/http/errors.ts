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
  /** zlib's, when a compressed body does not decompress (Z_DATA_ERROR, ERR__ERROR_FORMAT_PADDING_1, ...). */
  code?: string;
  errno?: number;
}

/**
 * A path nothing answers, in JSON like every other error: an SDK whose host option carries a path
 * (or lacks /v1) posts there, and its developer reads the answer in the network panel.
 */
export const notFound: express.RequestHandler = (req, res) => void res.status(404).json({ error: `no such endpoint: ${req.method} ${req.originalUrl.split('?')[0]}` });

/**
 * For a path that exists, asked with another method (GET on an ingest endpoint, POST on the query
 * API): 405 with `Allow`, so the developer learns the endpoint is right and the method is not.
 */
export const methodNotAllowed =
  (allow: 'GET' | 'POST'): express.RequestHandler =>
  (req, res) =>
    void res.status(405).set('Allow', allow).json({ error: `${req.method} is not allowed on ${req.path}; use ${allow}` });

export function createErrorHandler({ config }: { config: Pick<CollectorConfig, 'log' | 'maxBodyBytes'> }): express.ErrorRequestHandler {
  return (thrown: unknown, req, res, _next) => {
    if (res.headersSent) return;
    if (thrown instanceof BadQuery || thrown instanceof CursorError) return void res.status(400).json({ error: thrown.message });
    const err = (thrown ?? {}) as HttpError;
    // The router could not decode a path parameter (a lone `%`, a cut multi-byte sequence); it marks
    // its URIError 400, which a URIError of the collector's own code would not be.
    if (thrown instanceof URIError && err.status === 400) return void res.status(400).json({ error: 'the path is not valid percent-encoding' });
    if (err.type === 'entity.too.large') {
      config.log(`${req.method} ${req.path} 413`);
      return void res.status(413).json({ error: `body is larger than ${config.maxBodyBytes} bytes` });
    }
    // body-parser passes zlib's own error on (400), whose words alone ("incorrect header check") do not
    // say that the body's Content-Encoding was the trouble.
    if (typeof err.errno === 'number' && req.get('Content-Encoding')) {
      const encoding = String(req.get('Content-Encoding')).toLowerCase();
      return void res.status(400).json({ error: `body is not valid ${encoding} (Content-Encoding: ${encoding}): ${err.message}` });
    }
    // Other body-reading failures (aborted upload, bad Content-Encoding) are the client's too.
    const status = Number(err.status ?? err.statusCode);
    if (status >= 400 && status < 500) return void res.status(status).json({ error: String(err.expose ? err.message : 'bad request') });
    config.log(`${req.method} ${req.path} 500 ${err.stack ?? String(thrown)}`);
    res.status(500).json({ error: 'internal error' });
  };
}
