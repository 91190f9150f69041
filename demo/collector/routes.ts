/**
 * HTTP routing: the Moesif ingest API under /v1, the query API under /api, and the dashboard at /.
 * Checking is validate.ts's job, keeping is ingest.ts's, reading is reports.ts's; this module
 * only maps requests to them and answers. Every error is JSON `{ error }`, and no client input can
 * cause a 500.
 */
import express from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { APPLICATION_ID_HEADER as APP_ID_HEADER } from '../../src/wire.js';
import type { CollectorConfig } from './config.js';
import type { Ingest } from './ingest.js';
import { CursorError, type PageRequest } from './store.js';
import { ACTIVITY_BUCKETS, DEFAULT_FUNNEL_STEPS, parseFunnelStep, type ActivityBucketName, type EventFilters, type Reports } from './reports.js';
import { checkItem, isKind, parseJsonBody, type CheckedByKind, type Kind } from './validate.js';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

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

/** Raised by query parameter parsing; answered as 400 naming the parameter. */
class BadQuery extends Error {}

/** The error body-parser and express give for a request they refuse. */
interface HttpError {
  type?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
  stack?: string;
}

export function createApp(config: CollectorConfig, { ingest, reports }: { ingest: Ingest; reports: Reports }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  // CORS for SDKs on any origin, on the ingest API only. No cookies are involved, so `*` is enough
  // and safe there. Preflights are answered here and cached by the browser for corsMaxAge seconds.
  // Never on the query API nor the dashboard: they show captured request headers (Authorization
  // included), bodies and session tokens, which any page the developer visits could otherwise read.
  app.use('/v1', (req, res, next) => {
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
  });

  // ---- Ingest: the Moesif collection API -------------------------------------------------------

  const requireApplicationId: express.RequestHandler = (req, res, next) => {
    // Beacons cannot set headers, so the id may come as a query parameter of the same name.
    const fromQuery = Object.entries(req.query).find(([name]) => name.toLowerCase() === APP_ID_HEADER.toLowerCase())?.[1];
    const appId = req.get(APP_ID_HEADER) ?? (typeof fromQuery === 'string' ? fromQuery : undefined);
    if (!appId) return void res.status(401).json({ error: `missing application id: send the ${APP_ID_HEADER} header or query parameter` });
    if (appId !== config.applicationId) return void res.status(401).json({ error: 'unknown application id' });
    next();
  };

  // Any content type is read as bytes and parsed as JSON: beacons arrive as text/plain.
  const rawBody = express.raw({ type: () => true, limit: config.maxBodyBytes });

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

  const ingestRoute = (batch: boolean): express.RequestHandler => (req, res) => {
    const kind = String(req.params.kind) as Kind; // knownKind ran first
    const label = `POST /v1/${kind}${batch ? '/batch' : ''}`;
    const parsed = parseJsonBody(req.body);
    if (!parsed.ok) return void res.status(400).json({ error: parsed.error });

    if (!batch) {
      if (Array.isArray(parsed.value)) return void res.status(400).json({ error: `body must be a JSON object; send arrays to /v1/${kind}/batch` });
      const { result, rejected } = checkAndIngest(kind, [parsed.value]);
      if (rejected[0]) {
        config.log(`${label} 400 rejected`);
        return void res.status(400).json({ error: rejected[0].error });
      }
      config.log(`${label} 201 stored=${result.stored} duplicates=${result.duplicates}`);
      return void res.status(201).json({ accepted: 1, ...result, rejected: [] });
    }

    if (!Array.isArray(parsed.value)) return void res.status(400).json({ error: 'body must be a JSON array' });
    const { accepted, result, rejected } = checkAndIngest(kind, parsed.value);
    // 201: all stored; 207: the good ones stored, the others listed; 400: nothing was usable.
    const status = rejected[0] === undefined ? 201 : accepted > 0 ? 207 : 400;
    config.log(`${label} ${status} stored=${result.stored} duplicates=${result.duplicates} rejected=${rejected.length}`);
    res.status(status).json({
      ...(status === 400 && rejected[0] ? { error: `every item was rejected; first: [${rejected[0].index}] ${rejected[0].error}` } : {}),
      accepted,
      ...result,
      rejected,
    });
  };

  const knownKind: express.RequestHandler = (req, res, next) => {
    if (!isKind(String(req.params.kind))) return void res.status(404).json({ error: `no such endpoint: ${req.path}` });
    next();
  };

  app.post('/v1/:kind', knownKind, requireApplicationId, rawBody, ingestRoute(false));
  app.post('/v1/:kind/batch', knownKind, requireApplicationId, rawBody, ingestRoute(true));

  // Moesif's server SDKs ask for their sampling configuration and governance rules: none here.
  app.get('/v1/config', requireApplicationId, (_req, res) => {
    config.log('GET /v1/config 200');
    res.json(APP_CONFIG);
  });
  app.get('/v1/rules', requireApplicationId, (_req, res) => {
    config.log('GET /v1/rules 200');
    res.json(GOVERNANCE_RULES);
  });

  // ---- Who may read: the query API and the dashboard -------------------------------------------
  // They show captured headers (Authorization included), bodies and session tokens. A page the
  // developer visits could reach them through DNS rebinding (its own name resolving to 127.0.0.1), so
  // they answer only for an expected Host; and beyond loopback only with the read token.
  const READ_COOKIE = 'usertrail_read_token';
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  const expected = config.readToken === undefined ? undefined : digest(config.readToken);
  const tokenMatches = (given: string | undefined): boolean => expected !== undefined && given !== undefined && timingSafeEqual(digest(given), expected);
  const cookieToken = (req: express.Request): string | undefined => {
    for (const part of (req.get('cookie') ?? '').split(';')) {
      const [name, ...value] = part.trim().split('=');
      if (name === READ_COOKIE) return decodeURIComponent(value.join('='));
    }
    return undefined;
  };
  const hostName = (host: string): string => (host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '')).toLowerCase();

  const guardReads: express.RequestHandler = (req, res, next) => {
    const host = req.get('host') ?? '';
    if (!config.allowedHosts.has(hostName(host))) {
      config.log(`${req.method} ${req.path} 403 host`);
      return void res.status(403).json({ error: 'this Host is not one the collector answers for; add it to USERTRAIL_ALLOWED_HOSTS' });
    }
    if (expected === undefined) return next();
    const bearer = /^Bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
    const fromQuery = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (fromQuery !== undefined && tokenMatches(fromQuery) && req.method === 'GET') {
      // The dashboard opened as /?token=...: keep the token in a cookie for its own requests, and
      // take it out of the address bar (and of the history).
      res.cookie(READ_COOKIE, fromQuery, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/' });
      const rest = new URLSearchParams(req.query as Record<string, string>);
      rest.delete('token');
      return void res.redirect(303, `${req.path}${rest.size ? `?${rest}` : ''}`);
    }
    if (tokenMatches(bearer) || tokenMatches(cookieToken(req))) return next();
    config.log(`${req.method} ${req.path} 401`);
    res.status(401).json({ error: 'the query API and the dashboard need the read token: Authorization: Bearer <token>, or open the dashboard at /?token=<token>' });
  };
  app.use((req, res, next) => (req.path === '/v1' || req.path.startsWith('/v1/') ? next() : guardReads(req, res, next)));

  // ---- Query API -------------------------------------------------------------------------------

  const stringParam = (req: express.Request, name: string): string | undefined => {
    const v = req.query[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw new BadQuery(`${name} must be given once, as a string`);
    return v;
  };
  /** limit, and where to start: `cursor` (the previous answer's next_cursor: fast at any depth) or `offset`. */
  const page = (req: express.Request): PageRequest => {
    const limit = Number(stringParam(req, 'limit') ?? 50);
    const offset = Number(stringParam(req, 'offset') ?? 0);
    const cursor = stringParam(req, 'cursor');
    if (!Number.isInteger(limit) || limit < 1 || limit > config.maxPageSize) throw new BadQuery(`limit must be an integer from 1 to ${config.maxPageSize}`);
    // Safe integers only: SQLite's OFFSET takes no larger number (1e20 was a 500).
    if (!Number.isSafeInteger(offset) || offset < 0) throw new BadQuery('offset must be a non-negative integer');
    return cursor === undefined ? { limit, offset } : { limit, offset, cursor };
  };

  // The demo application id is not a secret: the dashboard shows it so developers can copy it.
  app.get('/api/info', (_req, res) => void res.json({ application_id: config.applicationId }));

  app.get('/api/events', (req, res) => {
    const kindParam = stringParam(req, 'kind');
    const kind = kindParam === 'action' || kindParam === 'actions' ? 'action' : kindParam === 'event' || kindParam === 'events' ? 'event' : undefined;
    if (kindParam !== undefined && kind === undefined) throw new BadQuery('kind must be "action" or "event"');
    const sinceParam = stringParam(req, 'since');
    const since = sinceParam === undefined ? undefined : Date.parse(sinceParam);
    if (since !== undefined && Number.isNaN(since)) throw new BadQuery('since must be an ISO 8601 date');
    const filters: EventFilters = {};
    for (const name of ['user_id', 'anonymous_id', 'company_id'] as const) {
      const value = stringParam(req, name);
      if (value !== undefined) filters[name] = value;
    }
    if (kind !== undefined) filters.kind = kind;
    if (since !== undefined) filters.since = new Date(since).toISOString();
    res.json(reports.listEvents(filters, page(req)));
  });

  app.get('/api/users', (req, res) => void res.json(reports.listUsers(page(req))));

  app.get('/api/users/:id', (req, res) => {
    const user = reports.getUser(String(req.params.id));
    if (!user) return void res.status(404).json({ error: 'no such user' });
    res.json(user);
  });

  app.get('/api/companies', (_req, res) => void res.json(reports.listCompanies()));

  app.get('/api/companies/:id', (req, res) => {
    const company = reports.getCompany(String(req.params.id));
    if (!company) return void res.status(404).json({ error: 'no such company' });
    res.json(company);
  });

  app.get('/api/funnel', (req, res) => {
    const raw = req.query.steps;
    // steps=a,b,c or steps=a&steps=b (the latter for action names that contain commas).
    const specs = raw === undefined || raw === '' ? DEFAULT_FUNNEL_STEPS : Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
    if (specs.length > 10) throw new BadQuery('steps: at most 10');
    const steps = specs.map((spec) => {
      const step = parseFunnelStep(spec.trim());
      if (!step) throw new BadQuery(`steps: unknown step "${spec}"; use action, action:<name>, identified, event or event:<text>`);
      return step;
    });
    res.json(reports.funnel(steps));
  });

  app.get('/api/activity', (req, res) => {
    const bucket = stringParam(req, 'bucket') ?? 'hour';
    // Own keys only: `in` would take toString or __proto__ for a bucket size.
    if (!Object.hasOwn(ACTIVITY_BUCKETS, bucket)) throw new BadQuery('bucket must be "hour" or "day"');
    const userId = stringParam(req, 'user_id');
    const companyId = stringParam(req, 'company_id');
    if (userId !== undefined && companyId !== undefined) throw new BadQuery('give user_id or company_id, not both');
    res.json(reports.activity({ ...(userId === undefined ? {} : { user_id: userId }), ...(companyId === undefined ? {} : { company_id: companyId }) }, bucket as ActivityBucketName));
  });

  const notFound: express.RequestHandler = (req, res) => void res.status(404).json({ error: `no such endpoint: ${req.method} ${req.originalUrl.split('?')[0]}` });
  app.use(['/api', '/v1'], notFound);

  // ---- Dashboard -------------------------------------------------------------------------------
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());
  app.use(express.static(PUBLIC_DIR, { index: 'index.html' }));
  // Anything else, in JSON like every other error: an SDK whose host option carries a path (or
  // lacks /v1) posts here, and its developer reads the answer in the network panel.
  app.use(notFound);

  const onError: express.ErrorRequestHandler = (thrown: unknown, req, res, _next) => {
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
  app.use(onError);
  return app;
}
