/**
 * The query API under /api: what the dashboard reads (reports.ts answers), each parameter checked
 * here and a bad one answered 400 naming it (BadQuery).
 */
import type express from 'express';
import type { CollectorConfig } from '../config.js';
import { ACTIVITY_BUCKETS, DEFAULT_FUNNEL_STEPS, parseFunnelStep, type ActivityBucketName, type EventFilters, type FunnelStep, type Reports } from '../reports.js';
import type { PageRequest } from '../store.js';
import { BadQuery, methodNotAllowed } from './errors.js';

function stringParam(req: express.Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new BadQuery(`${name} must be given once, as a string`);
  return v;
}

/** limit, and where to start: `cursor` (the previous answer's next_cursor: fast at any depth) or `offset`. */
function pageOf(req: express.Request, maxPageSize: number): PageRequest {
  const limit = Number(stringParam(req, 'limit') ?? 50);
  const offset = Number(stringParam(req, 'offset') ?? 0);
  const cursor = stringParam(req, 'cursor');
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPageSize) throw new BadQuery(`limit must be an integer from 1 to ${maxPageSize}`);
  // Safe integers only: SQLite's OFFSET takes no larger number.
  if (!Number.isSafeInteger(offset) || offset < 0) throw new BadQuery('offset must be a non-negative integer');
  return cursor === undefined ? { limit, offset } : { limit, offset, cursor };
}

/** `/api/events` filters: user_id, anonymous_id, company_id, kind (action or event, singular or plural) and since (ISO). */
function eventFilters(req: express.Request): EventFilters {
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
  return filters;
}

/** `/api/funnel` steps: steps=a,b,c or steps=a&steps=b (the latter for action names that contain commas). */
function funnelSteps(req: express.Request): FunnelStep[] {
  const raw = req.query.steps;
  const specs = raw === undefined || raw === '' ? DEFAULT_FUNNEL_STEPS : Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
  if (specs.length > 10) throw new BadQuery('steps: at most 10');
  return specs.map((spec) => {
    const step = parseFunnelStep(spec.trim());
    if (!step) throw new BadQuery(`steps: unknown step "${spec}"; use action, action:<name>, identified, event or event:<text>`);
    return step;
  });
}

/** `/api/activity`: the bucket, and everything or one user or one company. */
function activityQuery(req: express.Request): { scope: { user_id?: string; company_id?: string }; bucket: ActivityBucketName } {
  const bucket = stringParam(req, 'bucket') ?? 'hour';
  // Own keys only: `in` would take toString or __proto__ for a bucket size.
  if (!Object.hasOwn(ACTIVITY_BUCKETS, bucket)) throw new BadQuery('bucket must be "hour" or "day"');
  const userId = stringParam(req, 'user_id');
  const companyId = stringParam(req, 'company_id');
  if (userId !== undefined && companyId !== undefined) throw new BadQuery('give user_id or company_id, not both');
  const scope = { ...(userId === undefined ? {} : { user_id: userId }), ...(companyId === undefined ? {} : { company_id: companyId }) };
  return { scope, bucket: bucket as ActivityBucketName };
}

export function mountQueryApi(app: express.Express, { config, reports }: { config: Pick<CollectorConfig, 'applicationId' | 'maxPageSize'>; reports: Reports }): void {
  const page = (req: express.Request): PageRequest => pageOf(req, config.maxPageSize);
  /** The query API only reads: each path answers GET (and HEAD), and 405 to any other method. */
  const read = (path: string, handler: express.RequestHandler): void => void app.route(path).get(handler).all(methodNotAllowed('GET'));

  // The demo application id is not a secret: the dashboard shows it so developers can copy it.
  read('/api/info', (_req, res) => void res.json({ application_id: config.applicationId }));
  read('/api/events', (req, res) => void res.json(reports.listEvents(eventFilters(req), page(req))));
  read('/api/users', (req, res) => void res.json(reports.listUsers(page(req))));
  read('/api/users/:id', (req, res) => {
    const user = reports.getUser(String(req.params.id));
    if (!user) return void res.status(404).json({ error: 'no such user' });
    res.json(user);
  });
  read('/api/companies', (_req, res) => void res.json(reports.listCompanies()));
  read('/api/companies/:id', (req, res) => {
    const company = reports.getCompany(String(req.params.id));
    if (!company) return void res.status(404).json({ error: 'no such company' });
    res.json(company);
  });
  read('/api/funnel', (req, res) => void res.json(reports.funnel(funnelSteps(req))));
  read('/api/activity', (req, res) => {
    const { scope, bucket } = activityQuery(req);
    res.json(reports.activity(scope, bucket));
  });
}
