/**
 * The seed's example API (../shared/seeds/tracking-api-calls-by-user.txt) with usertrail/server in
 * place of moesif-nodejs: Express, express-jwt (HS256) per route, and our middleware mounted first
 * with app.use(). Plus what the demo web app needs: a log-in that issues the JWT (signed with jose,
 * `sub` = the same user id the browser passes to identifyUser), a JWT-protected JSON endpoint, and
 * open CORS because the web app runs at another origin. Nothing runs at import.
 */
import { listen } from '../listen.js';
import { createHash } from 'node:crypto';
import express from 'express';
import { expressjwt, type Request as JwtRequest } from 'express-jwt';
import { SignJWT } from 'jose';
import type { MoesifMiddleware, MoesifOptions, MoesifRequest } from '../../src/server/index.js';
import type moesifSource from '../../src/server/index.js';

/**
 * The built middleware, as users get it (from `npm run build`), with the source's types. Loaded when
 * the API starts, so importing this module works before a build and a missing dist/ is
 * ERR_MODULE_NOT_FOUND from startApi().
 */
const loadMiddleware = async (): Promise<typeof moesifSource> =>
  ((await import(new URL('../../dist/server.mjs', import.meta.url).href)) as { default: typeof moesifSource }).default;

/** What express-jwt and the log-in route leave on the request. */
type AuthedRequest = MoesifRequest & { auth?: { sub?: string; company_id?: string }; user?: { id?: string } };

export const DEFAULT_JWT_SECRET = 'shhhhhhared-secret';

/** A short sha256 hex: stable ids from emails and domains without putting the email in the id. */
const shortHash = (text: string, length = 12): string => createHash('sha256').update(text).digest('hex').slice(0, length);

/**
 * The user id of an email: stable across log-ins and the same on every machine, so the browser SDK,
 * this API and the collector all agree on it. Emails are compared lower-cased.
 */
export const userIdFor = (email: string): string => `user_${shortHash(email.trim().toLowerCase())}`;

export const companyIdFor = (email: string): string => `company_${shortHash(email.trim().toLowerCase().split('@')[1] ?? 'none', 8)}`;

export interface ApiOptions {
  /** 0 picks a free one. @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Base URL of the collector, e.g. http://127.0.0.1:8787 */
  collectorUrl: string;
  applicationId: string;
  /** HS256 secret shared by /login and express-jwt. @default DEFAULT_JWT_SECRET */
  jwtSecret?: string;
  /** Extra usertrail/server options (tests, benchmarks). */
  middlewareOptions?: Partial<MoesifOptions>;
}

export interface RunningApi {
  /** e.g. http://127.0.0.1:5000 (no trailing slash) */
  url: string;
  port: number;
  /** The usertrail/server middleware, for flush() and stats(). */
  middleware: MoesifMiddleware;
  /** Stops listening, ends open connections, then flushes the middleware. */
  close(): Promise<void>;
}

export async function startApi({
  port = 0,
  host = '127.0.0.1',
  collectorUrl,
  applicationId,
  jwtSecret = DEFAULT_JWT_SECRET,
  middlewareOptions = {},
}: ApiOptions): Promise<RunningApi> {
  const secret = new TextEncoder().encode(jwtSecret);
  const moesif = await loadMiddleware();

  // As in the seed: the middleware is configured once, with the hook that links API calls to users.
  // express-jwt 7+ puts the decoded token on req.auth (the seed's req.user is from express-jwt 6).
  const moesifMiddleware = moesif({
    applicationId,
    baseUri: collectorUrl,
    identifyUser: (req: AuthedRequest) => req.auth?.sub ?? req.user?.id,
    identifyCompany: (req: AuthedRequest) => req.auth?.company_id,
    // CORS preflights are the browser's bookkeeping, not API calls anyone made.
    skip: (req) => req.method === 'OPTIONS',
    ...middlewareOptions,
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(moesifMiddleware);

  // Open CORS: the demo web app calls from another origin with `Authorization: Bearer`. No cookies are
  // used, so `*` is enough.
  app.use((req, res, next) => {
    res.set('Access-Control-Allow-Origin', '*');
    if (req.method !== 'OPTIONS') return next();
    res.set('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    res.set('Access-Control-Max-Age', '7200');
    if (req.get('Access-Control-Request-Private-Network') === 'true') res.set('Access-Control-Allow-Private-Network', 'true');
    res.status(204).end();
  });

  const requireJwt = expressjwt({ secret: jwtSecret, algorithms: ['HS256'] });

  // The seed's endpoint, unchanged.
  app.get('/test', requireJwt, (_req, res) => {
    res.status(200);
    res.send('this is a response');
  });

  // The demo's log-in: { email } (or { userId }) -> a JWT whose `sub` is the user id.
  app.post('/login', express.json({ limit: '10kb' }), async (req, res, next) => {
    try {
      const body = req.body ?? {};
      const email = typeof body.email === 'string' && body.email.includes('@') ? body.email : undefined;
      const givenId = typeof body.userId === 'string' && body.userId.trim() ? body.userId.trim() : undefined;
      if (!email && !givenId) return void res.status(400).json({ error: 'send { "email": "..." } or { "userId": "..." }' });
      const userId = givenId ?? userIdFor(email as string);
      const companyId = typeof body.companyId === 'string' && body.companyId ? body.companyId : email ? companyIdFor(email) : undefined;
      const jwt = new SignJWT(companyId ? { company_id: companyId } : {})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime('8h');
      const token = await jwt.sign(secret);
      // The middleware reads the user when the response finishes, so the log-in call itself is
      // attributed to the user it just identified.
      (req as AuthedRequest).user = { id: userId };
      // Profiles for the dashboard; not awaited: analytics never delays a response (never rejects either).
      void moesifMiddleware.updateUser(companyId ? { userId, companyId } : { userId });
      if (companyId && email) void moesifMiddleware.updateCompany({ companyId, companyDomain: email.split('@')[1] });
      res.json({ userId, companyId, token });
    } catch (err) {
      next(err);
    }
  });

  // A JWT-protected JSON endpoint for the demo's logged-in page.
  app.get('/api/projects', requireJwt, (req, res) => {
    const auth = (req as JwtRequest<{ sub?: string; company_id?: string }>).auth ?? {};
    res.json({
      user_id: auth.sub,
      company_id: auth.company_id ?? null,
      projects: [
        { id: 'p1', name: 'Checkout API', calls_today: 1280 },
        { id: 'p2', name: 'Search API', calls_today: 342 },
      ],
    });
  });

  const onError: express.ErrorRequestHandler = (err, _req, res, _next) => {
    if (res.headersSent) return;
    if (err?.name === 'UnauthorizedError') return void res.status(401).json({ error: 'unauthorized', message: String(err.message) });
    const status = Number(err?.status ?? err?.statusCode);
    if (status >= 400 && status < 500) return void res.status(status).json({ error: 'bad request' });
    res.status(500).json({ error: 'internal error' });
  };
  app.use(onError);

  const listening = await listen(app, { port, host });
  return {
    url: listening.url,
    port: listening.port,
    middleware: moesifMiddleware,
    /** Stops listening, then sends what the middleware still holds. */
    close: () => listening.close().then(() => moesifMiddleware.flush()),
  };
}
