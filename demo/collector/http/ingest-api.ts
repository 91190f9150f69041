/**
 * The ingest API under /v1, Moesif's collection API: `POST /v1/{kind}` (one object) and
 * `POST /v1/{kind}/batch` (an array), checked by validate.ts and kept by ingest.ts; and the
 * sampling configuration and governance rules Moesif's server SDKs ask for.
 */
import express from 'express';
import { APPLICATION_ID_HEADER as APP_ID_HEADER } from '../../../src/wire.js';
import type { CollectorConfig } from '../config.js';
import type { Ingest } from '../ingest.js';
import { methodNotAllowed } from './errors.js';
import { checkItem, isKind, parseJsonBody, type CheckedByKind, type Kind } from '../validate.js';

/**
 * What Moesif answers `GET /v1/config` with for an application with no sampling rules and no
 * governance, and `GET /v1/rules`. moesif-nodejs 3.x asks for both at start-up, then asks for the
 * config again on each API call while the `X-Moesif-Config-Etag` of the config answer differs from
 * the last one seen on an events answer (moesifConfigManager.js: `_lastSeenHash !== _configHash`),
 * and otherwise once a minute. Moesif sends the tag on both, so until the first events batch is
 * answered (2 s by default) every API call asks again. This config never changes, so the collector
 * sends the tag on neither: both sides are then undefined and equal, and moesif-nodejs asks once.
 */
const APP_CONFIG = {
  sample_rate: 100,
  block_bot_traffic: false,
  user_sample_rate: {},
  company_sample_rate: {},
  user_rules: {},
  company_rules: {},
  ip_addresses_blocked_by_name: {},
  regex_config: [],
  billing_config_jsons: {},
};
const GOVERNANCE_RULES: unknown[] = [];

type Config = Pick<CollectorConfig, 'applicationId' | 'corsMaxAge' | 'maxBodyBytes' | 'log'>;

/**
 * CORS for SDKs on any origin, on the ingest API only. No cookies are involved, so `*` is enough
 * and safe there. Preflights are answered here and cached by the browser for corsMaxAge seconds.
 * Never on the query API nor the dashboard: they show captured request headers (Authorization
 * included), bodies and session tokens, which any page the developer visits could otherwise read.
 */
function ingestCors(config: Config): express.RequestHandler {
  return (req, res, next) => {
    res.set('Access-Control-Allow-Origin', '*');
    // A cross-origin page can read only the response headers named here: the SDK honours Retry-After.
    res.set('Access-Control-Expose-Headers', 'Retry-After');
    if (req.method !== 'OPTIONS') return next();
    res.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.set('Access-Control-Allow-Headers', `Content-Type, ${APP_ID_HEADER}, X-Moesif-SDK`);
    res.set('Access-Control-Max-Age', String(config.corsMaxAge));
    // Chromium's Private Network Access: a public page may send to this collector on loopback.
    if (req.get('Access-Control-Request-Private-Network') === 'true') res.set('Access-Control-Allow-Private-Network', 'true');
    res.status(204).end();
  };
}

function requireApplicationId(config: Config): express.RequestHandler {
  return (req, res, next) => {
    // Beacons cannot set headers, so the id may come as a query parameter of the same name.
    const fromQuery = Object.entries(req.query).find(([name]) => name.toLowerCase() === APP_ID_HEADER.toLowerCase())?.[1];
    const fromHeader = req.get(APP_ID_HEADER);
    // Given twice, the query parser makes a list: say so, rather than that it is missing.
    if (fromHeader === undefined && Array.isArray(fromQuery)) return void res.status(400).json({ error: `the ${APP_ID_HEADER} query parameter must be given once` });
    const appId = fromHeader ?? (typeof fromQuery === 'string' ? fromQuery : undefined);
    if (!appId) return void res.status(401).json({ error: `missing application id: send the ${APP_ID_HEADER} header or query parameter` });
    if (appId !== config.applicationId) return void res.status(401).json({ error: 'unknown application id' });
    next();
  };
}

/** Lets only the four kinds through; any other path goes on to the next routes (405, else 404). */
const knownKind: express.RequestHandler = (req, _res, next) => next(isKind(String(req.params.kind)) ? undefined : 'route');

/** The ingest routes' handlers: one item, or a batch. */
function createIngestHandlers({ config, ingest }: { config: Config; ingest: Ingest }) {
  /** Checks every item, stores the good ones, and answers which were refused. */
  function checkAndIngest<K extends Kind>(kind: K, items: unknown[]) {
    const good: CheckedByKind[K][] = [];
    const rejected: { index: number; error: string }[] = [];
    items.forEach((item, index) => {
      const checked = checkItem(kind, item);
      if (checked.ok) good.push(checked.value);
      else rejected.push({ index, error: checked.error });
    });
    return { accepted: good.length, result: ingest.ingest(kind, good), rejected };
  }

  // knownKind ran first, so the kind is one of validate.ts's.
  const kindOf = (req: express.Request): Kind => String(req.params.kind) as Kind;

  const one: express.RequestHandler = (req, res) => {
    const kind = kindOf(req);
    const parsed = parseJsonBody(req.body);
    if (!parsed.ok) return void res.status(400).json({ error: parsed.error });
    if (Array.isArray(parsed.value)) return void res.status(400).json({ error: `body must be a JSON object; send arrays to /v1/${kind}/batch` });
    const { result, rejected } = checkAndIngest(kind, [parsed.value]);
    if (rejected[0]) {
      config.log(`POST /v1/${kind} 400 rejected`);
      return void res.status(400).json({ error: rejected[0].error });
    }
    config.log(`POST /v1/${kind} 201 stored=${result.stored} duplicates=${result.duplicates}`);
    res.status(201).json({ accepted: 1, ...result, rejected: [] });
  };

  const batch: express.RequestHandler = (req, res) => {
    const kind = kindOf(req);
    const parsed = parseJsonBody(req.body);
    if (!parsed.ok) return void res.status(400).json({ error: parsed.error });
    if (!Array.isArray(parsed.value)) return void res.status(400).json({ error: 'body must be a JSON array' });
    const { accepted, result, rejected } = checkAndIngest(kind, parsed.value);
    // 201: all stored; 207: the good ones stored, the others listed; 400: nothing was usable.
    const status = rejected[0] === undefined ? 201 : accepted > 0 ? 207 : 400;
    config.log(`POST /v1/${kind}/batch ${status} stored=${result.stored} duplicates=${result.duplicates} rejected=${rejected.length}`);
    res.status(status).json({
      ...(status === 400 && rejected[0] ? { error: `every item was rejected; first: [${rejected[0].index}] ${rejected[0].error}` } : {}),
      accepted,
      ...result,
      rejected,
    });
  };

  return { one, batch };
}

export function mountIngestApi(app: express.Express, { config, ingest }: { config: Config; ingest: Ingest }): void {
  const appId = requireApplicationId(config);
  // Any content type is read as bytes and parsed as JSON: beacons arrive as text/plain.
  const rawBody = express.raw({ type: () => true, limit: config.maxBodyBytes });
  const handlers = createIngestHandlers({ config, ingest });

  app.use('/v1', ingestCors(config));
  const answerWith = (body: unknown): express.RequestHandler => (req, res) => {
    config.log(`GET ${req.path} 200`);
    res.json(body);
  };
  // Each endpoint with its method, then 405 for any other (OPTIONS was answered by ingestCors).
  app.route('/v1/config').get(appId, answerWith(APP_CONFIG)).all(methodNotAllowed('GET'));
  app.route('/v1/rules').get(appId, answerWith(GOVERNANCE_RULES)).all(methodNotAllowed('GET'));
  app.route('/v1/:kind').all(knownKind).post(appId, rawBody, handlers.one).all(methodNotAllowed('POST'));
  app.route('/v1/:kind/batch').all(knownKind).post(appId, rawBody, handlers.batch).all(methodNotAllowed('POST'));
}
