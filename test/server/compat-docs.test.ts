// @vitest-environment node
/**
 * The server examples of moesif-nodejs 3.11's README and of the product docs (../shared/seeds), run as
 * written but for the package name, side by side: the real moesif-nodejs and usertrail/server each
 * in an Express (or Koa) app of its own on 127.0.0.1, logging to a recording collector of its own.
 * What the app answers, what reaches the collector (the fields an example sets) and what the app's
 * callbacks get must be the same. Examples already run elsewhere are named at the end of this file.
 */
import { createRequire } from 'node:module';
import Koa from 'koa';
import moesifNodejs from 'moesif-nodejs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import express from 'express';
import usertrail from '../../src/server/index';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { expressjwt } from 'express-jwt';
import { JWT_SECRET, signToken, startApp, startNodeServer, startRecorder, waitFor, type Recorder, type RunningApp } from './helpers';

const TOKEN = await signToken({ sub: 'db-42', company_id: 'acme' });

/**
 * lodash, for the README's maskContent example (`import _ from 'lodash'`): moesif-nodejs's own
 * dependency, loaded from where moesif-nodejs finds it. Typed here for the one function used.
 */
const _ = createRequire(createRequire(import.meta.url).resolve('moesif-nodejs'))('lodash') as { omit<T extends object>(object: T, paths: string[]): Partial<T> };

type Sdk = 'moesif-nodejs' | 'usertrail';
// any: the examples are JavaScript; they read and return whatever fields the docs name.
type Json = Record<string, any>;
/** Both factories as the examples call them: an options object in, a middleware with methods out. */
type Factory = (options: Json) => Json & ((...args: unknown[]) => unknown);
const FACTORY: Record<Sdk, Factory> = {
  'moesif-nodejs': moesifNodejs as unknown as Factory,
  usertrail: usertrail as unknown as Factory,
};

/** moesif-nodejs refuses application ids shorter than 50 characters. */
const APP_ID = DEFAULT_APP_ID;

interface Call {
  path: string;
  init?: RequestInit;
}

interface Row {
  doc: string;
  section: string;
  /** The example's options object, as written (applicationId and baseUri are added). */
  options: () => Json;
  /** The app around the middleware: Express routes (the middleware is mounted first, or after `before`), or Koa. */
  app?: (app: express.Express) => void;
  before?: (app: express.Express) => void;
  koa?: (middleware: unknown) => Koa.Middleware[];
  calls: Call[];
  /** How many events the calls log (the others are skipped). */
  events: number;
  /** What the example's fields came out as in usertrail's events (moesif-nodejs's must be the same). */
  expected: Json[];
}

const itemsRoute = (app: express.Express) => {
  app.get(['/', '/health', '/items'], (_req, res) => void res.json({ ok: true, sensitive_field: 'x' }));
};

/** The fields of an event the examples set or read, in an order-free form. */
function view(event: Json): Json {
  const url = new URL(event.request.uri);
  return {
    call: `${event.request.verb} ${url.pathname}${url.search}`,
    status: event.response?.status,
    user_id: event.user_id,
    company_id: event.company_id,
    session_token: event.session_token,
    api_version: event.request.api_version,
    metadata: event.metadata,
    request_body: event.request.body,
    // moesif-nodejs sends text that is not JSON as base64, which Moesif shows decoded; usertrail as text.
    response_body: event.response?.transfer_encoding === 'base64' ? Buffer.from(event.response.body, 'base64').toString() : event.response?.body,
  };
}

/** Runs one row with one SDK: what the app answered and what the collector got. */
async function runWith(sdk: Sdk, row: Row) {
  const collector = await startRecorder(0, { contract: sdk === 'usertrail' });
  let server: RunningApp | undefined;
  try {
    // usertrail/server's batches leave at once here; moesif-nodejs's after its shortest batchMaxTime (it refuses 500 or less).
    const timing = { batchMaxTime: sdk === 'usertrail' ? 10 : 501 };
    const middleware = FACTORY[sdk]({ ...row.options(), applicationId: APP_ID, baseUri: collector.url, ...timing });
    if (row.koa) {
      const koa = new Koa();
      for (const part of row.koa(middleware)) koa.use(part);
      server = await startNodeServer(koa.callback());
    } else {
      server = await startApp((app) => {
        row.before?.(app);
        app.use(middleware as express.RequestHandler);
        (row.app ?? itemsRoute)(app);
      });
    }
    const answers: string[] = [];
    for (const call of row.calls) {
      const res = await fetch(server.url + call.path, call.init);
      answers.push(`${res.status} ${await res.text()}`);
    }
    await (middleware.flush as (() => Promise<void>) | undefined)?.();
    const events = await waitFor(() => collector.events().length >= row.events && collector.events(), 10_000);
    return { answers, events: events.map(view).sort((a, b) => a.call.localeCompare(b.call)) };
  } finally {
    await server?.close();
    await collector.close();
  }
}

async function sideBySide(row: Row) {
  const moesif = await runWith('moesif-nodejs', row);
  const ours = await runWith('usertrail', row);
  expect(ours).toEqual(moesif);
  return ours;
}

const ROWS: Row[] = [
  {
    doc: 'moesif-nodejs README',
    section: 'How to Use, 1. Import the Module (logBody, identifyUser, getSessionToken)',
    options: () => ({
      logBody: true,
      identifyUser: function (req: Json) {
        if (req.user) {
          return req.user.id;
        }
        return undefined;
      },
      getSessionToken: function (req: Json) {
        // Node names headers in lower case: the example's 'Authorization' is always undefined.
        return req.headers['Authorization'];
      },
    }),
    app: (app) => {
      app.get('/items', (req, res) => {
        (req as Json).user = { id: '12345' };
        res.json({ ok: true });
      });
    },
    calls: [{ path: '/items', init: { headers: { Authorization: 'Bearer not-a-jwt' } } }],
    events: 1,
    expected: [{ call: 'GET /items', status: 200, user_id: '12345', response_body: { ok: true } }],
  },
  {
    doc: 'moesif-nodejs README',
    section: 'Notes: the middleware mounted after a body parser (express.json())',
    options: () => ({}),
    before: (app) => {
      app.use(express.json());
    },
    app: (app) => {
      app.post('/items', (req, res) => void res.status(201).json({ created: req.body.name }));
    },
    calls: [{ path: '/items', init: { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'widget', count: 2 }) } }],
    events: 1,
    expected: [{ call: 'POST /items', status: 201, request_body: { name: 'widget', count: 2 }, response_body: { created: 'widget' } }],
  },
  {
    doc: 'moesif-nodejs README',
    section: 'Configuration Options: identifyCompany, getApiVersion, getMetadata (as written)',
    options: () => ({
      identifyCompany: function (req: Json) {
        return req.headers['X-Organization-Id'];
      },
      getApiVersion: function (req: Json) {
        return req.headers['X-Api-Version'];
      },
      getMetadata: function () {
        return {
          foo: 'custom data',
          bar: 'another custom data',
        };
      },
    }),
    calls: [{ path: '/items?page=2', init: { headers: { 'X-Organization-Id': 'org-1', 'X-Api-Version': '1.1.0' } } }],
    events: 1,
    expected: [
      {
        call: 'GET /items?page=2',
        status: 200,
        metadata: { foo: 'custom data', bar: 'another custom data' },
        response_body: { ok: true, sensitive_field: 'x' },
      },
    ],
  },
  {
    doc: 'moesif-nodejs README',
    section: 'Configuration Options: skip (the root path and the health probe)',
    options: () => ({
      skip: function (req: Json) {
        if (req.path === '/' || req.path === '/health') {
          return true;
        }
        return false;
      },
    }),
    calls: [{ path: '/' }, { path: '/health' }, { path: '/items' }],
    events: 1,
    expected: [{ call: 'GET /items', status: 200, response_body: { ok: true, sensitive_field: 'x' } }],
  },
  {
    doc: 'moesif-nodejs README',
    section: "Configuration Options: maskContent with lodash's _.omit (a new object returned)",
    options: () => ({
      maskContent: function (event: Json) {
        // The example's paths, and one that names a field of this event, so that the copy it returns is seen to be used.
        const newEvent = _.omit(event, ['request.headers.Authorization', 'event.response.body.sensitive_field', 'response.body.sensitive_field']);
        return newEvent;
      },
    }),
    calls: [{ path: '/items' }],
    events: 1,
    expected: [{ call: 'GET /items', status: 200, response_body: { ok: true } }],
  },
  {
    doc: 'moesif-nodejs README',
    section: 'Configuration Options: logBody given as 0 (a numeric setting: no bodies, as moesif-nodejs reads it)',
    options: () => ({ logBody: 0 }),
    before: (app) => {
      app.use(express.json());
    },
    app: (app) => {
      app.post('/items', (req, res) => void res.status(201).json({ created: req.body.name }));
    },
    calls: [{ path: '/items', init: { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'widget' }) } }],
    events: 1,
    expected: [{ call: 'POST /items', status: 201 }],
  },
  {
    doc: 'moesif-nodejs README',
    section: 'Koa Support: identifyUser from req.state.user.sub',
    options: () => ({
      identifyUser: function (req: Json) {
        if (req.state && req.state.user) {
          return req.state.user.sub;
        }
        return undefined;
      },
    }),
    koa: (middleware) => [
      middleware as Koa.Middleware,
      async (ctx, next) => {
        ctx.state.user = { sub: 'koa-user' }; // as koa-jwt does with a verified token
        await next();
      },
      (ctx) => {
        ctx.body = { ok: true };
      },
    ],
    calls: [{ path: '/items' }],
    events: 1,
    expected: [{ call: 'GET /items', status: 200, user_id: 'koa-user', response_body: { ok: true } }],
  },
  {
    doc: 'README.md (ours)',
    section: "Server, What is logged: a JSON body sent with a text type (Express's res.send(JSON.stringify(...)) is text/html)",
    options: () => ({}),
    app: (app) => {
      app.get('/text-json', (_req, res) => void res.send(JSON.stringify({ items: [1, 2] })));
    },
    calls: [{ path: '/text-json' }],
    events: 1,
    expected: [{ call: 'GET /text-json', status: 200, response_body: { items: [1, 2] } }],
  },
  {
    doc: 'README.md (ours)',
    section: 'Recommended set-up, Server (express-jwt 8, the user and company from req.auth)',
    options: () => ({
      identifyUser: (req: Json) => req.auth?.sub, // the id the browser gave identifyUser()
      identifyCompany: (req: Json) => req.auth?.company_id,
    }),
    app: (app) => {
      app.get('/test', expressjwt({ secret: JWT_SECRET, algorithms: ['HS256'] }), (_req, res) => void res.send('ok'));
    },
    calls: [{ path: '/test', init: { headers: { Authorization: `Bearer ${TOKEN}` } } }, { path: '/test' }],
    events: 2,
    expected: [
      { call: 'GET /test', status: 200, user_id: 'db-42', company_id: 'acme', response_body: 'ok' },
      { call: 'GET /test', status: 401, response_body: expect.stringContaining('UnauthorizedError') },
    ],
  },
  {
    doc: 'seeds/identifying-customers.txt',
    section: 'Server integration, Identifying users (identifyUser from req.user, set by the auth middleware)',
    options: () => ({
      // Return thr user id set by the auth middleware.
      identifyUser: function (req: Json) {
        return req.user ? req.user.id : undefined;
      },
    }),
    app: (app) => {
      app.use((req, _res, next) => {
        if (req.headers.authorization) (req as Json).user = { id: 'seed-user' };
        next();
      });
      itemsRoute(app);
    },
    calls: [{ path: '/items', init: { headers: { Authorization: 'Bearer x' } } }, { path: '/health' }],
    events: 2,
    expected: [
      { call: 'GET /health', status: 200, response_body: { ok: true, sensitive_field: 'x' } },
      { call: 'GET /items', status: 200, user_id: 'seed-user', response_body: { ok: true, sensitive_field: 'x' } },
    ],
  },
];

afterEach(() => {
  vi.restoreAllMocks();
});

describe('examples of the docs give the same events as moesif-nodejs 3.11', () => {
  it.each(ROWS)('$doc, $section', async (row) => {
    const { events } = await sideBySide(row);
    expect(events).toEqual(row.expected);
  }, 20_000);
});

describe('moesif-nodejs README, Configuration Options, noAutoHideSensitive: by default values that look like card numbers are hidden', () => {
  // Test numbers of the card networks (Luhn-valid), as a string, with spaces, with dashes, as a JSON number, in an array.
  const CARDS = { card: '4111111111111111', pan: '5555 5555 5555 4444', number: 378282246310005, cards: ['6011-1111-1111-1117'] };
  // Ids of the same lengths that are no card number (the Luhn check fails, or no network starts so).
  const IDS = { order: '4111111111111112', snowflake: '1234567890123456789', account: 987654321012 };
  const row: Row = {
    doc: 'moesif-nodejs README',
    section: 'noAutoHideSensitive',
    options: () => ({}),
    before: (app) => {
      app.use(express.json());
    },
    app: (app) => {
      app.post('/pay', (_req, res) => void res.json({ charged: CARDS.card, ...IDS }));
    },
    calls: [{ path: '/pay', init: { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...CARDS, ...IDS }) } }],
    events: 1,
    expected: [],
  };

  it('neither SDK sends a card number of a JSON body, and both keep ids that are none', async () => {
    for (const sdk of ['moesif-nodejs', 'usertrail'] as const) {
      const { events } = await runWith(sdk, row);
      const [event] = events;
      const sent = JSON.stringify(event);
      for (const card of [CARDS.card, CARDS.pan, String(CARDS.number), CARDS.cards[0]!]) expect({ sdk, sent: sent.includes(card) }).toEqual({ sdk, sent: false });
      expect({ sdk, request: event!.request_body }).toMatchObject({ sdk, request: IDS });
      expect({ sdk, response: event!.response_body }).toMatchObject({ sdk, response: IDS });
    }
  }, 20_000);
});

/** The README's user and company, built afresh for each call (moesif-nodejs edits the app's objects). */
const readmeUser = () => ({
  userId: '12345',
  companyId: '67890', // If set, associate user with a company object
  metadata: {
    email: 'john@acmeinc.com',
    firstName: 'John',
    lastName: 'Doe',
    title: 'Software Engineer',
    salesInfo: {
      stage: 'Customer',
      lifetimeValue: 24000,
      accountOwner: 'mary@contoso.com',
    },
  },
});
const readmeCompany = () => ({
  companyId: '67890',
  companyDomain: 'acmeinc.com', // If domain is set, Moesif will enrich your profiles with publicly available info
  metadata: {
    orgName: 'Acme, Inc',
    planName: 'Free Plan',
    dealStage: 'Lead',
    mrr: 24000,
    demographics: {
      alexaRanking: 500000,
      employeeCount: 47,
    },
  },
});

type Method = (model: unknown, callback: (error: unknown) => void) => unknown;

const PROFILE_ROWS: Array<{ section: string; method: string; model: () => unknown; path: string }> = [
  { section: 'Update a Single User', method: 'updateUser', model: readmeUser, path: '/v1/users' },
  { section: 'Update Users in Batch', method: 'updateUsersBatch', model: () => [readmeUser()], path: '/v1/users/batch' },
  { section: 'Update a Single Company', method: 'updateCompany', model: readmeCompany, path: '/v1/companies' },
  { section: 'Update Companies in Batch', method: 'updateCompaniesBatch', model: () => [readmeCompany()], path: '/v1/companies/batch' },
];

describe("moesif-nodejs README's profile examples POST what moesif-nodejs POSTs, and call back with no error", () => {
  /** What one SDK POSTed for the example, and what its callback got first. */
  async function send(sdk: Sdk, row: (typeof PROFILE_ROWS)[number]) {
    const collector: Recorder = await startRecorder(0, { contract: sdk === 'usertrail' });
    try {
      const moesifMiddleware = FACTORY[sdk]({ applicationId: APP_ID, baseUri: collector.url });
      const errors: unknown[] = [];
      const callback = (error: unknown) => void errors.push(error ?? 'none');
      (moesifMiddleware[row.method] as Method)(row.model(), callback);
      await waitFor(() => errors.length === 1);
      const posts = collector.requests.filter((request) => request.method === 'POST');
      return { posts: posts.map((post) => [post.path, post.body]), callbackError: errors[0] };
    } finally {
      await collector.close();
    }
  }

  it.each(PROFILE_ROWS)('moesif-nodejs README, $section: $method(model, callback)', async (row) => {
    const theirs = await send('moesif-nodejs', row);
    const ours = await send('usertrail', row);
    // moesif-nodejs adds an empty campaign and a null modified_time of its own; the rest is the app's.
    const withoutMoesifExtras = (body: unknown): unknown => {
      if (Array.isArray(body)) return body.map(withoutMoesifExtras);
      const { campaign, modified_time, ...rest } = body as Json;
      expect({ campaign, modified_time }).toEqual({ campaign: {}, modified_time: null });
      return rest;
    };
    expect(theirs.posts.map(([path, body]) => [path, withoutMoesifExtras(body)])).toEqual(ours.posts);
    expect(ours.posts.map(([path]) => path)).toEqual([row.path]);
    expect({ ours: ours.callbackError, theirs: theirs.callbackError }).toEqual({ ours: 'none', theirs: 'none' });
  });
});

describe("moesif-nodejs README, How to Use, 2. Enter Your Moesif Application ID: the node:http example", () => {
  /**
   * The example makes a middleware per request and answers in `req.on('end')`. Neither SDK reads the
   * request for the app, so 'end' comes only once something reads it: as written the example's calls
   * wait for ever with both (checked as a state, the stream not flowing, not as a time). With the
   * request read (`req.resume()`), both log the call.
   */
  async function run(sdk: Sdk) {
    const collector = await startRecorder(0, { contract: sdk === 'usertrail' });
    const moesif = FACTORY[sdk];
    var options = {
      applicationId: APP_ID,
      logBody: true,
      baseUri: collector.url,
    };
    const seen: Json[] = [];
    const server = await startNodeServer(function (req, res) {
      moesif(options)(req, res, function () {
        // Callback
      });
      seen.push({ flowing: req.readableFlowing, dataListeners: req.listenerCount('data') });
      req.on('end', function () {
        res.write(
          JSON.stringify({
            message: 'hello world!',
            id: 2,
          }),
        );
        res.end();
      });
      req.resume(); // not in the example: without it neither SDK's 'end' ever comes
    });
    try {
      const res = await fetch(server.url + '/hello');
      const answer = `${res.status} ${await res.text()}`;
      const [event] = await waitFor(() => collector.events().length === 1 && collector.events(), 10_000);
      return { seen, answer, event: view(event!) };
    } finally {
      await server.close();
      await collector.close();
    }
  }

  it('leaves the request unread for the app, as moesif-nodejs does, and logs the call once it is read', async () => {
    const theirs = await run('moesif-nodejs');
    const ours = await run('usertrail');
    expect(ours).toEqual(theirs);
    expect(ours).toEqual({
      seen: [{ flowing: null, dataListeners: 0 }],
      answer: '200 {"message":"hello world!","id":2}',
      event: { call: 'GET /hello', status: 200, response_body: { message: 'hello world!', id: 2 } },
    });
  }, 20_000);
});

describe('moesif-nodejs README, How to Use, 2. Enter Your Moesif Application ID: the MOESIF_APPLICATION_ID variable', () => {
  it('takes the application id from MOESIF_APPLICATION_ID when the options name none, as the README says', async () => {
    // moesif-nodejs 3.11 itself does not: it throws at start-up, whatever the README says.
    vi.stubEnv('MOESIF_APPLICATION_ID', APP_ID);
    expect(() => moesifNodejs({ baseUri: 'http://127.0.0.1:9' } as never)).toThrow(/application id is required/);

    const collector = await startRecorder();
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const moesifMiddleware = usertrail({ baseUri: collector.url, batchMaxTime: 10 });
    const server = await startApp((app) => {
      app.use(moesifMiddleware);
      itemsRoute(app);
    });
    try {
      expect((await fetch(server.url + '/items')).status).toBe(200);
      await moesifMiddleware.flush();
      await waitFor(() => collector.events().length === 1);
      expect(collector.requests.map((request) => request.headers['x-moesif-application-id'])).toEqual([APP_ID]);
      expect(error).not.toHaveBeenCalled();
    } finally {
      vi.unstubAllEnvs();
      await server.close();
      await collector.close();
    }
  });
});

/*
 * Server examples of the same docs run elsewhere, not repeated here:
 * - moesif-nodejs README, its options compiled by TypeScript against both SDKs: test/server/compat-docs-types.test.ts.
 * - seeds/tracking-api-calls-by-user.txt, the whole app (CommonJS, express-jwt 6 and 8): test/package/published.test.ts.
 * - moesif-nodejs README, `moesifMiddleware.startCaptureOutgoing()`: test/server/app-values.test.ts.
 * - moesif-nodejs README, sendAction / sendActionsBatch with its models, callbacks: test/server/moesif-methods.test.ts.
 * - moesif-nodejs README, `import moesif from` / `(await import(...)).default`: test/package/published.test.ts.
 * - README.md (ours), node:http without next, Koa's default user: test/server/node-http.test.ts, test/server/koa.test.ts.
 * - README.md (ours), the collector with moesif-nodejs and `baseUri`: test/collector/moesif-nodejs.test.ts.
 * - README.md (ours) and moesif's Next.js example (App Router `isNextJsAppRouter`, Pages Router): test/package/nextjs.test.ts.
 */
