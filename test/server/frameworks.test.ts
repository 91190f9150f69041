// @vitest-environment node
/**
 * The middleware in the other frameworks moesif-nodejs 3.11's README sends its users to, with example
 * apps there ("Examples"): Fastify and Hapi. Each app is wired as moesif's example wires it and in a
 * second common way, and run three times: without a middleware, with the real moesif-nodejs and with
 * usertrail/server, each logging to a recording collector of its own on 127.0.0.1. The app must answer
 * the same all three times, and usertrail's events must say what the client got and what
 * moesif-nodejs's events say, but for the differences the README documents.
 *
 * How moesif's examples wire it: Fastify (Moesif/fastify-moesif-nodejs-example, server.js) registers
 * an Express-style middleware plugin and calls `fastify.use(moesifMiddleware)`; the example registers
 * @fastify/middie, and its README names @fastify/express as the other such plugin, the one used here.
 * Moesif/moesif-nodejs-hapi-example could not be read on this machine: Hapi runs a Connect middleware
 * in an `onRequest` extension on `request.raw.req` and `request.raw.res`, the way used here.
 */
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyExpress from '@fastify/express';
import type { RequestHandler } from 'express';
import Hapi from '@hapi/hapi';
import { jwtVerify, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { MASK } from '../../src/wire';
import { JWT_SECRET, signToken, waitFor, type RunningApp } from './helpers';
import { asLogged, comparableCall, runCalls, shownBody, startWithSdk, withoutPassword, type AppCall, type Json, type Middleware, type Sdk } from './side-by-side';

/** The claims of a verified token, put on Node's request: the only request the middleware is given. */
interface Claims extends JWTPayload {
  company_id?: string;
}
type WithUser = { user?: Claims };

/** What the apps give both SDKs: the user and company of the verified token. */
const OPTIONS = {
  applicationId: DEFAULT_APP_ID,
  identifyUser: (req: WithUser) => req.user?.sub,
  identifyCompany: (req: WithUser) => req.user?.company_id,
};

/** The verified claims of `Authorization: Bearer <JWT>`, or undefined. */
async function verifiedClaims(authorization: unknown): Promise<Claims | undefined> {
  const token = typeof authorization === 'string' ? /^Bearer (.+)$/i.exec(authorization)?.[1] : undefined;
  if (!token) return undefined;
  try {
    return (await jwtVerify<Claims>(token, new TextEncoder().encode(JWT_SECRET), { algorithms: ['HS256'] })).payload;
  } catch {
    return undefined;
  }
}

const STREAMED_LINES = ['first line\n', 'second line\n', 'third line\n'];
/** Over 1 KB of JSON, which Hapi sends gzip-compressed to a client that accepts it. */
const REPORT = { rows: Array.from({ length: 60 }, (_, id) => ({ id, name: `row ${id}` })) };
/** The first message of an event stream that never ends by itself. */
const FIRST_EVENT = 'data: {"n":1}\n\n';

/** An app of one framework with the middleware wired one way (none when undefined), on 127.0.0.1:0. */
type Wiring = (middleware: Middleware | undefined) => Promise<RunningApp>;

/** The Fastify app: Fastify parses the body, checks the JWT in a hook and serialises by schema. */
function fastifyRoutes(app: FastifyInstance): void {
  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    const claims = await verifiedClaims(request.headers.authorization);
    if (!claims) return reply.code(401).send({ error: 'invalid token' });
    // As @fastify/jwt does, on Fastify's request; and on Node's, which the middleware's hooks get.
    (request as FastifyRequest & WithUser).user = claims;
    (request.raw as typeof request.raw & WithUser).user = claims;
  };
  app.get('/items', async (request) => ({ items: [{ id: 1 }, { id: 2 }], query: request.query }));
  app.post('/items', async (request, reply) => {
    const { name } = request.body as { name: string };
    return reply.code(201).header('location', '/items/3').send({ id: 3, name });
  });
  app.get('/me', { onRequest: authenticate }, async (request) => ({ user: (request as FastifyRequest & WithUser).user?.sub }));
  app.post('/orders', { onRequest: authenticate }, async (request, reply) => reply.code(201).send({ ordered: request.body }));
  app.get('/boom', async () => {
    throw new Error('the database is down');
  });
  app.get('/stream', async (_request, reply) => reply.type('text/plain').send(Readable.from(STREAMED_LINES)));
  app.get('/later', (_request, reply) => {
    void sleep(20).then(() => reply.send({ done: true }));
  });
  // Fastify serialises a reply by its response schema, leaving out what the schema does not name.
  const account = { type: 'object', properties: { id: { type: 'integer' }, plan: { type: 'string' } } };
  app.get('/account', { schema: { response: { 200: account } } }, async () => ({ id: 9, plan: 'pro', passwordHash: 'never sent' }));
  app.get('/report', async () => REPORT);
  app.get('/events', async (_request, reply) => {
    const events = new PassThrough();
    events.write(FIRST_EVENT);
    return reply.type('text/event-stream').send(events);
  });
}

async function startFastify(setup: (app: FastifyInstance) => Promise<void>): Promise<RunningApp> {
  // forceCloseConnections: close() also ends an event stream whose client has left, which Fastify
  // otherwise waits for.
  const app = Fastify({ forceCloseConnections: true });
  await setup(app);
  fastifyRoutes(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

const FASTIFY: Record<string, Wiring> = {
  // moesif's example: an Express-style middleware plugin, then fastify.use().
  'fastify.use() through @fastify/express': (middleware) =>
    startFastify(async (app) => {
      await app.register(fastifyExpress);
      if (middleware) app.use(middleware as RequestHandler);
    }),
  // Without a plugin: an onRequest hook hands the middleware Node's request and response.
  'an onRequest hook with request.raw and reply.raw': (middleware) =>
    startFastify(async (app) => {
      if (middleware) app.addHook('onRequest', (request, reply, done) => void middleware(request.raw, reply.raw, () => done()));
    }),
};

/** The Hapi app: the same routes, Hapi's payload parsing, a JWT auth scheme, Hapi's JSON options. */
function hapiRoutes(server: Hapi.Server): void {
  server.auth.scheme('jwt', () => ({
    authenticate: async (request, h) => {
      const claims = await verifiedClaims(request.headers.authorization);
      if (!claims) return h.response({ error: 'invalid token' }).code(401).takeover();
      return h.authenticated({ credentials: claims });
    },
  }));
  server.auth.strategy('jwt', 'jwt');
  // Hapi keeps the credentials on its own request; the app puts them on Node's, which the hooks get.
  server.ext('onPostAuth', (request, h) => {
    if (request.auth.isAuthenticated) (request.raw.req as typeof request.raw.req & WithUser).user = request.auth.credentials as Claims;
    return h.continue;
  });
  server.route([
    { method: 'GET', path: '/items', handler: (request) => ({ items: [{ id: 1 }, { id: 2 }], query: { ...request.query } }) },
    {
      method: 'POST',
      path: '/items',
      handler: (request, h) => h.response({ id: 3, name: (request.payload as { name: string }).name }).code(201).header('location', '/items/3'),
    },
    { method: 'GET', path: '/me', options: { auth: 'jwt' }, handler: (request) => ({ user: (request.auth.credentials as Claims).sub }) },
    { method: 'POST', path: '/orders', options: { auth: 'jwt' }, handler: (request, h) => h.response({ ordered: request.payload }).code(201) },
    {
      method: 'GET',
      path: '/boom',
      handler: () => {
        throw new Error('the database is down');
      },
    },
    // Hapi takes a byte stream (Readable.from() makes an object stream by default).
    { method: 'GET', path: '/stream', handler: (_request, h) => h.response(Readable.from(STREAMED_LINES, { objectMode: false })).type('text/plain') },
    {
      method: 'GET',
      path: '/later',
      handler: async () => {
        await sleep(20);
        return { done: true };
      },
    },
    // Hapi serialises a reply by the route's json options: only the replacer's keys, indented.
    { method: 'GET', path: '/account', options: { json: { replacer: ['id', 'plan'], space: 2 } }, handler: () => ({ id: 9, plan: 'pro', passwordHash: 'never sent' }) },
    { method: 'GET', path: '/report', handler: () => REPORT },
    {
      method: 'GET',
      path: '/events',
      handler: (_request, h) => {
        const events = new PassThrough();
        events.write(FIRST_EVENT);
        // Uncompressed, as event streams are sent (each message must reach the client at once).
        return h.response(events).type('text/event-stream').compressed('identity');
      },
    },
  ]);
}

async function startHapi(setup: (server: Hapi.Server) => void): Promise<RunningApp> {
  // debug: false, so that the route that throws does not print its stack.
  const server = Hapi.server({ port: 0, host: '127.0.0.1', debug: false });
  setup(server);
  hapiRoutes(server);
  await server.start();
  return { url: server.info.uri, close: () => server.stop({ timeout: 1 }) };
}

const HAPI: Record<string, Wiring> = {
  // As a Connect middleware is run in Hapi: on Node's request and response, in an onRequest extension.
  'an onRequest extension with request.raw': (middleware) =>
    startHapi((server) => {
      if (!middleware) return;
      server.ext('onRequest', (request, h) => {
        middleware(request.raw.req, request.raw.res, () => {});
        return h.continue;
      });
    }),
  // The same, waiting for the middleware's next() before Hapi goes on.
  'an onRequest extension that awaits next()': (middleware) =>
    startHapi((server) => {
      if (!middleware) return;
      server.ext('onRequest', async (request, h) => {
        await new Promise<void>((resolve) => void middleware(request.raw.req, request.raw.res, resolve));
        return h.continue;
      });
    }),
};

interface Call extends AppCall {
  /** The request body usertrail logs: decoded when compressed, parsed when JSON, masked. */
  logged?: unknown;
}

const ZIPPED = new Uint8Array(gzipSync(JSON.stringify({ name: 'zipped', password: 'hunter2' })));
const TOKEN = await signToken({ sub: 'user_42', company_id: 'acme' });
const JSON_TYPE = { 'Content-Type': 'application/json' };

/** The calls every app gets, in this order. */
const CALLS: Call[] = [
  { method: 'GET', path: '/items?page=2&q=caf%C3%A9' },
  { method: 'POST', path: '/items', headers: JSON_TYPE, body: JSON.stringify({ name: 'widget', password: 'hunter2' }), logged: { name: 'widget', password: MASK } },
  { method: 'GET', path: '/me', headers: { Authorization: `Bearer ${TOKEN}` } },
  { method: 'GET', path: '/me' },
  // Refused by the auth hook before the framework reads the body.
  { method: 'POST', path: '/orders', headers: JSON_TYPE, body: JSON.stringify({ item: 'book', quantity: 2 }), logged: { item: 'book', quantity: 2 } },
  { method: 'GET', path: '/missing' },
  { method: 'GET', path: '/boom' },
  { method: 'GET', path: '/stream' },
  { method: 'GET', path: '/later' },
  { method: 'GET', path: '/account' },
  { method: 'GET', path: '/report' },
  { method: 'HEAD', path: '/items' },
  // What clients also send: JSON cut short, a gzip-compressed body (Hapi decodes it, Fastify does
  // not) and a form (Hapi parses it, Fastify has no parser for it without a plugin).
  { method: 'POST', path: '/items', headers: JSON_TYPE, body: '{"name": "widget", "password": "hunter2"', logged: `{"name": "widget", "password": "${MASK}"` },
  { method: 'POST', path: '/items', headers: { ...JSON_TYPE, 'Content-Encoding': 'gzip' }, body: ZIPPED, logged: { name: 'zipped', password: MASK } },
  {
    method: 'POST',
    path: '/items',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'name=widget&password=hunter2',
    logged: `name=widget&password=${MASK}`,
  },
];

/** What each framework answers to CALLS, to be sure the routes ran as meant. */
const STATUSES = {
  Fastify: [200, 201, 200, 401, 401, 404, 500, 200, 200, 200, 200, 200, 400, 400, 415],
  Hapi: [200, 201, 200, 401, 401, 404, 500, 200, 200, 200, 200, 200, 400, 201, 201],
};

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close();
});

/** The app wired by `wiring` with `sdk`'s middleware, logging to a collector of its own. */
const start = (wiring: Wiring, sdk: Sdk | undefined) => startWithSdk(sdk, OPTIONS, wiring, opened);

/** CALLS through the app: what the client got, and the events the collector received (none without `sdk`). */
async function run(wiring: Wiring, sdk: Sdk | undefined) {
  const started = await start(wiring, sdk);
  return { url: started.app.url, ...(await runCalls(started, CALLS)) };
}

/**
 * An event with the differences from moesif-nodejs that the README documents undone, so that the
 * two SDKs' events can be compared: moesif-nodejs sends the Authorization header as it came
 * (usertrail: `Bearer *****`), a password as above, bodies as above, and header values as the app
 * set them (Hapi's Content-Length is a number; usertrail: text, as on the wire).
 */
function comparable(event: Json, url: string): Json {
  const { request, response } = event;
  return {
    ...comparableCall(event, url),
    authorization: request.headers.authorization === undefined ? 'none' : 'sent',
    request_headers: Object.keys(request.headers).sort(),
    response_headers: Object.entries(response.headers as Json).map(([name, value]) => `${name}: ${String(value)}`).filter((header) => !header.startsWith('x-moesif-transaction-id')).sort(),
    response_body: withoutPassword(shownBody(response)),
  };
}

for (const [framework, wirings] of Object.entries({ Fastify: FASTIFY, Hapi: HAPI })) {
  describe(framework, () => {
    for (const [wiringName, wiring] of Object.entries(wirings)) {
      describe(`wired with ${wiringName}`, () => {
        it('answers as without a middleware, and logs each call as the client got it, as moesif-nodejs does', async () => {
          const bare = await run(wiring, undefined);
          const theirs = await run(wiring, 'moesif-nodejs');
          const ours = await run(wiring, 'usertrail');
          expect(bare.answers.map((answer) => answer.status)).toEqual(STATUSES[framework as keyof typeof STATUSES]);
          expect(asLogged(bare.answers[CALLS.findIndex(({ path }) => path === '/account')]!.body)).toEqual({ id: 9, plan: 'pro' });
          expect(theirs.answers).toEqual(bare.answers);
          expect(ours.answers).toEqual(bare.answers);

          // One event per call, saying what the client sent and got.
          const events = ours.events;
          expect(events.map((event) => `${event.request.verb} ${event.request.uri}`)).toEqual(CALLS.map(({ method, path }) => `${method} ${ours.url}${path}`));
          for (const [i, event] of events.entries()) {
            const answer = ours.answers[i]!;
            const call = `${CALLS[i]!.method} ${CALLS[i]!.path} (${i})`;
            expect(event.transaction_id, call).toBe(event.response.headers['x-moesif-transaction-id']);
            expect(event.request.body, call).toEqual(CALLS[i]!.logged);
            expect(event.response.status, call).toBe(answer.status);
            expect(event.response.headers['content-type'], call).toBe(answer.headers['content-type']);
            expect(event.response.body, call).toEqual(answer.body === '' ? undefined : asLogged(answer.body));
            expect(event.metadata, call).toBeUndefined();
          }
          // The user and company of the one call with a valid token, whose Authorization is masked.
          const signedIn = (call: Call) => call.headers?.Authorization !== undefined;
          expect(events.map((event) => [event.user_id, event.company_id])).toEqual(CALLS.map((call) => (signedIn(call) ? ['user_42', 'acme'] : [undefined, undefined])));
          expect(events.filter((_, i) => signedIn(CALLS[i]!)).map((event) => event.request.headers.authorization)).toEqual([`Bearer ${MASK}`]);
          expect(JSON.stringify(events)).not.toContain('hunter2');
          expect(JSON.stringify(events)).not.toContain(TOKEN.split('.')[2]);

          expect(ours.events.map((event) => comparable(event, ours.url))).toEqual(theirs.events.map((event) => comparable(event, theirs.url)));
        });

        it('logs an event stream whose client left as the 200 it had started, with what it had sent', async () => {
          const { app, collector } = await start(wiring, 'usertrail');
          const leave = new AbortController();
          const res = await fetch(`${app.url}/events`, { signal: leave.signal });
          const reader = res.body!.getReader();
          expect(new TextDecoder().decode((await reader.read()).value)).toBe(FIRST_EVENT);
          leave.abort();
          // Logged when the client leaves (batches leave after 10 ms; waitFor gives up after 5 s), not
          // 30 s later as an answer never given (499).
          const [event] = await waitFor(() => collector.events().length > 0 && collector.events());
          expect(event?.response.status).toBe(200);
          expect(event?.response.body).toBe(FIRST_EVENT);
        });
      });
    }
  });
}
