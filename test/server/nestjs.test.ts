// @vitest-environment node
/**
 * The middleware in NestJS 12 apps, which moesif-nodejs 3.11's README names ("This SDK supports any
 * Node.js framework including Express, Koa, and Nest.js") without an example among its "Examples".
 * What it documents is the Express way, `app.use(moesifMiddleware)`, "after any body parsers": in a
 * Nest app that is `app.use()` in main.ts, on the app NestFactory.create() returns, which Nest hands
 * to the platform's own use() at once, before the body parser it registers when the app starts (so
 * there the middleware runs before it, whatever moesif's README asks); the Nest way to mount a
 * middleware is a module's `configure(consumer)` with `consumer.apply(...).forRoutes('*')`, which
 * Nest mounts after its body parser. Both are tested, on platform-express and on platform-fastify
 * (whose adapter runs both through @fastify/middie, on Node's request and response).
 *
 * Each app is run three times: without a middleware, with the real moesif-nodejs and with
 * usertrail/server, each logging to a recording collector of its own on 127.0.0.1. The app must
 * answer the same all three times, and usertrail's events must say what the client got and what
 * moesif-nodejs's say (which here differ only as the README documents: masking, base64).
 *
 * The app is what a Nest API has: a guard that checks a JWT and puts its claims on `req.user` (the
 * user the hooks read), a second guard that refuses (403), a pipe that refuses a body the way
 * ValidationPipe does (400 with its list of messages), ParseIntPipe's 400, an exception filter that
 * answers a domain error (409), an Observable and an async value returned, bodies parsed by Nest's
 * body parser (JSON and forms), a file streamed with StreamableFile, server-sent events from an
 * @Sse() Observable, @Redirect(), @HttpCode(204), HEAD, Nest's 404 and the 500 of an Error thrown.
 */
import { spawn } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  BadRequestException,
  Body,
  Catch,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Param,
  ParseIntPipe,
  Post,
  Query,
  Redirect,
  Req,
  Sse,
  StreamableFile,
  UnauthorizedException,
  UseFilters,
  UseGuards,
  type ArgumentsHost,
  type CanActivate,
  type DynamicModule,
  type ExceptionFilter,
  type ExecutionContext,
  type MessageEvent,
  type MiddlewareConsumer,
  type NestModule,
  type PipeTransform,
} from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { jwtVerify, type JWTPayload } from 'jose';
import { from, Observable, of } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { MASK } from '../../src/wire';
import { JWT_SECRET, signToken, startRecorder, waitFor, type RunningApp } from './helpers';
import { asLogged, comparableCall, runCalls, shownBody, startWithSdk, type AppCall, type Json, type Middleware, type Sdk } from './side-by-side';

interface Claims extends JWTPayload {
  company_id?: string;
  role?: string;
}
/** The request Nest's guards get: Express's, or Fastify's with Node's as `raw`. */
interface NestRequest {
  headers: IncomingHttpHeaders;
  user?: Claims;
  raw?: { user?: Claims };
}

/** What the apps give both SDKs: the user and company a guard put on the request. */
const OPTIONS = {
  applicationId: DEFAULT_APP_ID,
  identifyUser: (req: NestRequest) => req.user?.sub,
  identifyCompany: (req: NestRequest) => req.user?.company_id,
};

/** Checks `Authorization: Bearer <JWT>` and puts its claims on the request, as @nestjs/passport's AuthGuard('jwt') does. */
@Injectable()
class JwtGuard implements CanActivate {
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<NestRequest>();
    const token = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const verified = token && (await jwtVerify<Claims>(token, new TextEncoder().encode(JWT_SECRET)).catch(() => undefined));
    if (!verified) throw new UnauthorizedException();
    request.user = verified.payload;
    // On platform-fastify, Nest's request is Fastify's and the middleware's hooks get Node's
    // (request.raw): the app puts the user there too, as in any Fastify app (README, "Server").
    if (request.raw) request.raw.user = verified.payload;
    return true;
  }
}

/** Refuses a signed-in user who is not an admin, after JwtGuard has put the user on the request. */
@Injectable()
class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.switchToHttp().getRequest<NestRequest>().user?.role !== 'admin') throw new ForbiddenException();
    return true;
  }
}

/** Refuses a body without a name as ValidationPipe refuses a DTO: 400 with the list of what is wrong. */
@Injectable()
class NamedItemPipe implements PipeTransform {
  transform(value: unknown): { name: string } {
    const name = (value as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string') throw new BadRequestException(['name must be a string']);
    return { name };
  }
}

class OutOfStockError extends Error {
  constructor(readonly item: number) {
    super(`item ${item} is out of stock`);
  }
}

/** Answers a domain error as the app's API says, through the platform-agnostic adapter (Nest's docs). */
@Catch(OutOfStockError)
class OutOfStockFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: OutOfStockError, host: ArgumentsHost): void {
    this.adapterHost.httpAdapter.reply(host.switchToHttp().getResponse(), { code: 'out_of_stock', item: error.item }, 409);
  }
}

@Injectable()
class OrderService {
  async place(item: number): Promise<{ item: number; status: string }> {
    await sleep(1);
    if (item === 7) throw new OutOfStockError(item);
    return { item, status: 'placed' };
  }
}

const STREAMED_LINES = ['first line\n', 'second line\n', 'third line\n'];
/** An event stream's first message, as Nest writes it (an id of its own, the data as JSON). */
const FIRST_EVENT = 'id: 1\ndata: {"n":1}\n\n';

@Controller()
class ShopController {
  constructor(private readonly orders: OrderService) {}

  @Get('health')
  health(): object {
    return { ok: true };
  }

  @Get('items')
  list(@Query('page') page?: string): Observable<object> {
    return of({ items: [{ id: 1 }, { id: 2 }], page });
  }

  @Post('items')
  create(@Body(NamedItemPipe) item: { name: string }): object {
    return { id: 3, name: item.name };
  }

  @Get('me')
  @UseGuards(JwtGuard)
  me(@Req() request: NestRequest): object {
    return { user: request.user?.sub };
  }

  @Get('admin')
  @UseGuards(JwtGuard, AdminGuard)
  admin(): object {
    return { plans: [] };
  }

  @Get('orders/:item')
  @UseFilters(OutOfStockFilter)
  order(@Param('item', ParseIntPipe) item: number): Promise<object> {
    return this.orders.place(item);
  }

  @Get('old-items')
  @Redirect('/items?page=1', 301)
  moved(): void {}

  @Delete('items/:item')
  @HttpCode(204)
  remove(): object {
    return { removed: true };
  }

  @Get('later')
  async later(): Promise<object> {
    await sleep(20);
    return { done: true };
  }

  @Get('boom')
  boom(): never {
    throw new Error('the database is down');
  }

  @Get('file')
  file(): StreamableFile {
    return new StreamableFile(Readable.from(STREAMED_LINES.map((line) => Buffer.from(line))), { type: 'text/plain' });
  }

  @Sse('events')
  events(): Observable<MessageEvent> {
    return from([{ data: { n: 1 } }, { data: { n: 2 } }]);
  }

  /** An event stream that never ends by itself: its first message, then nothing. */
  @Sse('events/open')
  openEvents(): Observable<MessageEvent> {
    return new Observable((subscriber) => subscriber.next({ data: { n: 1 } }));
  }
}

/** The middleware mounted through MiddlewareConsumer, or null when main.ts mounts it (or none is). */
const CONSUMER_MIDDLEWARE = Symbol('middleware for MiddlewareConsumer');

@Module({ controllers: [ShopController], providers: [OrderService] })
class ShopModule implements NestModule {
  constructor(@Inject(CONSUMER_MIDDLEWARE) private readonly middleware: Middleware | null) {}

  configure(consumer: MiddlewareConsumer): void {
    if (this.middleware) consumer.apply(this.middleware).forRoutes('*');
  }

  static mounting(middleware: Middleware | undefined): DynamicModule {
    return { module: ShopModule, providers: [{ provide: CONSUMER_MIDDLEWARE, useValue: middleware ?? null }] };
  }
}

type Platform = 'express' | 'fastify';
type Mount = 'app.use() in main.ts' | "MiddlewareConsumer's apply().forRoutes('*')";
const MOUNTS: Mount[] = ['app.use() in main.ts', "MiddlewareConsumer's apply().forRoutes('*')"];

/** The Nest app on `platform` with the middleware mounted by `mount` (none when undefined), on 127.0.0.1:0. */
async function startNest(platform: Platform, mount: Mount, middleware: Middleware | undefined): Promise<RunningApp> {
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const throughConsumer = mount !== 'app.use() in main.ts';
  // logger: false, so that the route that throws does not print its stack; forceCloseConnections: close()
  // also ends an event stream whose client has left.
  const app = await NestFactory.create(ShopModule.mounting(throughConsumer ? middleware : undefined), adapter, {
    logger: false,
    forceCloseConnections: true,
  });
  if (!throughConsumer && middleware) app.use(middleware);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

interface Call extends AppCall {
  /** The request body usertrail logs (masked). */
  logged?: unknown;
  /** The same on platform-fastify, when it differs there. */
  loggedOnFastify?: unknown;
  /** The call carries the signed-in user's token (a valid one). */
  signedIn?: boolean;
}

const TOKEN = await signToken({ sub: 'user_42', company_id: 'acme', role: 'member' });
const JSON_TYPE = { 'Content-Type': 'application/json' };
const SIGNED_IN = { Authorization: `Bearer ${TOKEN}` };

/** The calls every app gets, in this order. */
const CALLS: Call[] = [
  { method: 'GET', path: '/items?page=2' },
  { method: 'POST', path: '/items', headers: JSON_TYPE, body: JSON.stringify({ name: 'widget', password: 'hunter2' }), logged: { name: 'widget', password: MASK } },
  // Refused by the pipe, after Nest's body parser has read the body.
  { method: 'POST', path: '/items', headers: JSON_TYPE, body: JSON.stringify({ password: 'hunter2' }), logged: { password: MASK } },
  {
    method: 'POST',
    path: '/items',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'name=widget&password=hunter2',
    logged: { name: 'widget', password: MASK },
    // Fastify parses a form onto its own request (with @fastify/formbody, which Nest registers), not
    // onto Node's, which the middleware gets: the body is logged as it came, masked.
    loggedOnFastify: `name=widget&password=${MASK}`,
  },
  { method: 'GET', path: '/me', headers: SIGNED_IN, signedIn: true },
  { method: 'GET', path: '/me' },
  { method: 'GET', path: '/admin', headers: SIGNED_IN, signedIn: true },
  { method: 'GET', path: '/orders/8' },
  { method: 'GET', path: '/orders/7' },
  { method: 'GET', path: '/orders/seven' },
  { method: 'GET', path: '/later' },
  { method: 'GET', path: '/boom' },
  { method: 'GET', path: '/file' },
  { method: 'GET', path: '/events' },
  { method: 'GET', path: '/missing' },
  { method: 'GET', path: '/old-items' },
  { method: 'DELETE', path: '/items/3' },
  { method: 'HEAD', path: '/items' },
];
const STATUSES = [200, 201, 400, 201, 200, 401, 403, 200, 409, 400, 200, 500, 200, 200, 404, 301, 204, 200];

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const resource of opened.splice(0).reverse()) await resource.close();
});

/** The app with `sdk`'s middleware, given OPTIONS and `options`, logging to a collector of its own. */
const start = (platform: Platform, mount: Mount, sdk: Sdk | undefined, options: Json = {}) =>
  startWithSdk(sdk, { ...OPTIONS, ...options }, (middleware) => startNest(platform, mount, middleware), opened);

/** CALLS through the app: what the client got, and the events the collector received (none without `sdk`). */
async function run(platform: Platform, mount: Mount, sdk: Sdk | undefined) {
  const started = await start(platform, mount, sdk);
  const startedAt = Date.now();
  const { answers, events } = await runCalls(started, CALLS, { redirect: 'manual' });
  // Once every event arrived: no event can say a time after this.
  const endedAt = Date.now();
  return { url: started.app.url, answers, events, startedAt, endedAt };
}

/** What both SDKs' events say of a call, with the differences the README documents undone (see frameworks.test.ts). */
function comparable(event: Json, url: string): Json {
  const { response } = event;
  return {
    ...comparableCall(event, url),
    response_body: shownBody(response),
    content_type: response.headers['content-type'],
  };
}

for (const platform of ['express', 'fastify'] as const) {
  describe(`NestJS on platform-${platform}`, () => {
    for (const mount of MOUNTS) {
      describe(`mounted with ${mount}`, () => {
        it('answers as without a middleware, and logs each call as the client got it, with the user a guard set', async () => {
          const bare = await run(platform, mount, undefined);
          const theirs = await run(platform, mount, 'moesif-nodejs');
          const ours = await run(platform, mount, 'usertrail');
          expect(bare.answers.map((answer) => answer.status)).toEqual(STATUSES);
          expect(theirs.answers).toEqual(bare.answers);
          expect(ours.answers).toEqual(bare.answers);

          const { events } = ours;
          expect(events.map((event) => `${event.request.verb} ${event.request.uri}`)).toEqual(CALLS.map(({ method, path }) => `${method} ${ours.url}${path}`));
          for (const [i, event] of events.entries()) {
            const answer = ours.answers[i]!;
            const call = `${CALLS[i]!.method} ${CALLS[i]!.path} (${i})`;
            expect(event.direction, call).toBe('Incoming');
            expect(event.transaction_id, call).toBe(event.response.headers['x-moesif-transaction-id']);
            const { logged, loggedOnFastify } = CALLS[i]!;
            expect(event.request.body, call).toEqual(platform === 'fastify' && loggedOnFastify !== undefined ? loggedOnFastify : logged);
            expect(event.response.status, call).toBe(answer.status);
            expect(event.response.headers['content-type'], call).toBe(answer.headers['content-type']);
            expect(event.response.headers.location, call).toBe(answer.headers.location);
            expect(event.response.body, call).toEqual(answer.body === '' ? undefined : asLogged(answer.body));
            expect(event.metadata, call).toBeUndefined();
            // Timed from the request's arrival to the answer's end, both within the run.
            const [requestTime, responseTime] = [Date.parse(event.request.time), Date.parse(event.response.time)];
            expect(requestTime, call).toBeGreaterThanOrEqual(ours.startedAt);
            expect(responseTime, call).toBeGreaterThanOrEqual(requestTime);
            expect(responseTime, call).toBeLessThanOrEqual(ours.endedAt);
          }
          const later = events[CALLS.findIndex(({ path }) => path === '/later')]!;
          expect(Date.parse(later.response.time) - Date.parse(later.request.time)).toBeGreaterThanOrEqual(19);
          // The user a guard put on the request, also where the next guard refused the call (403).
          expect(events.map((event) => [event.user_id, event.company_id])).toEqual(CALLS.map((call) => (call.signedIn ? ['user_42', 'acme'] : [undefined, undefined])));
          expect(JSON.stringify(events)).not.toContain('hunter2');
          expect(JSON.stringify(events)).not.toContain(TOKEN.split('.')[2]);

          expect(ours.events.map((event) => comparable(event, ours.url))).toEqual(theirs.events.map((event) => comparable(event, theirs.url)));
        });

        it("gives the hooks the URL the client called, not what the middleware's mount left of it, as moesif-nodejs does", async () => {
          // The usual health-check skip. Through MiddlewareConsumer, Nest mounts the middleware at a
          // path ('/{*path}' for '*'), which Express, and Nest's adapter on Fastify, strip from req.url
          // before calling it: req.url is '/' there, and req.originalUrl the URL called.
          const hooks = { skip: (req: { url: string }) => req.url === '/health', getMetadata: (req: { url: string }) => ({ url: req.url }) };
          const metadataOf = async (sdk: Sdk) => {
            const { app, collector, middleware } = await start(platform, mount, sdk, hooks);
            for (const path of ['/health', '/items?page=2']) await (await fetch(app.url + path)).text();
            await middleware?.flush?.();
            // The health check was answered (and skipped, or not) before the second call began.
            const events = await waitFor(() => collector.events().some((event) => event.request.uri.endsWith('/items?page=2')) && collector.events());
            return events.map((event) => event.metadata);
          };
          expect(await metadataOf('usertrail')).toEqual([{ url: '/items?page=2' }]);
          expect(await metadataOf('moesif-nodejs')).toEqual([{ url: '/items?page=2' }]);
        });

        it("logs a body Nest's parser refuses (malformed JSON: 400, over its limit: 413), but on Express under MiddlewareConsumer", async () => {
          const { app, collector, middleware } = await start(platform, mount, 'usertrail');
          const statuses: number[] = [];
          // Over Express's 100 KB and Fastify's 1 MiB.
          for (const body of ['{"name": "widget", "password": "hunter2"', JSON.stringify({ name: 'x'.repeat(2_000_000) })]) {
            const res = await fetch(`${app.url}/items`, { method: 'POST', headers: JSON_TYPE, body });
            await res.text();
            statuses.push(res.status);
          }
          expect(statuses).toEqual([400, 413]);
          // Each call is logged once answered: those answered before /health was called come before its event.
          await (await fetch(`${app.url}/health`)).text();
          await middleware?.flush?.();
          const events = await waitFor(() => collector.events().some((event) => event.request.uri.endsWith('/health')) && collector.events());
          const refused = events.filter((event) => event.request.verb === 'POST');
          if (platform === 'express' && mount !== 'app.use() in main.ts') {
            // Nest's body parser runs before MiddlewareConsumer's middleware on Express, and answers a
            // body it refuses itself: the middleware never sees the call (moesif-nodejs neither).
            expect(refused).toEqual([]);
            return;
          }
          // The bytes as they came, masked (moesif-nodejs sends the malformed one as base64 of the
          // bytes, password and all, and no body or `{ msg }` for the one over its limit).
          expect(refused.map((event) => event.response.status)).toEqual([400, 413]);
          expect(refused[0]?.request.body).toBe(`{"name": "widget", "password": "${MASK}"`);
          expect(refused[1]?.request.body).toMatch(/^\{"name":"x{1000}/);
          expect(refused[1]?.metadata).toEqual({ truncated: ['request'] });
        });

        it('logs an @Sse() stream whose client left as the 200 it had started, with what it had sent', async () => {
          const { app, collector } = await start(platform, mount, 'usertrail');
          const leave = new AbortController();
          const res = await fetch(`${app.url}/events/open`, { signal: leave.signal });
          // Nest starts the stream with an empty line of its own, which may come as a chunk of its own.
          const reader = res.body!.getReader();
          let received = '';
          while (!received.includes(FIRST_EVENT)) received += new TextDecoder().decode((await reader.read()).value);
          expect(received).toBe(`\n${FIRST_EVENT}`);
          leave.abort();
          const [event] = await waitFor(() => collector.events().length > 0 && collector.events());
          expect(event?.response.status).toBe(200);
          expect(event?.response.body).toBe(received);
          expect(event?.metadata).toEqual({ truncated: ['response'] });
        });
      });
    }
  });
}

/**
 * A Nest app in a process of its own, with `app.enableShutdownHooks()`, that serves one call to itself
 * and is sent SIGTERM. Plain JavaScript given to `node -e` (tsx only loads src/server's TypeScript),
 * so Nest's decorators are called as functions. A batch waits a minute here: nothing leaves but by
 * flush().
 */
const SHUTDOWN_APP = `
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
const { default: moesif } = await import(process.env.SERVER);
const moesifMiddleware = moesif({ applicationId: process.env.APP_ID, baseUri: process.env.COLLECTOR, batchMaxTime: 60000 });
class ItemsController {
  list() { return { items: [] }; }
}
Get('items')(ItemsController.prototype, 'list', Object.getOwnPropertyDescriptor(ItemsController.prototype, 'list'));
Controller()(ItemsController);
class AppModule {
  onApplicationShutdown() { if (process.env.FLUSH_ON_SHUTDOWN) return moesifMiddleware.flush(); }
}
Module({ controllers: [ItemsController] })(AppModule);
const app = await NestFactory.create(AppModule, { logger: false });
app.enableShutdownHooks();
app.use(moesifMiddleware);
await app.listen(0, '127.0.0.1');
await (await fetch('http://127.0.0.1:' + app.getHttpServer().address().port + '/items')).text();
process.kill(process.pid, 'SIGTERM');
`;

describe('NestJS shutdown', () => {
  it('sends what is queued on SIGTERM under enableShutdownHooks() when onApplicationShutdown flushes it, and only then', async () => {
    // Nest's shutdown hooks end the process themselves (the signal sent again, or process.exit()):
    // the event loop never empties, so 'beforeExit', where the middleware sends what is queued, never
    // comes. moesif-nodejs has no flush() and loses the calls of its last batch interval alike.
    const shutDown = async (flushOnShutdown: boolean) => {
      const collector = await startRecorder();
      opened.push(collector);
      const env = {
        ...process.env,
        SERVER: fileURLToPath(new URL('../../src/server/index.ts', import.meta.url)),
        APP_ID: DEFAULT_APP_ID,
        COLLECTOR: collector.url,
        FLUSH_ON_SHUTDOWN: flushOnShutdown ? '1' : '',
      };
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SHUTDOWN_APP], { env, stdio: ['ignore', 'inherit', 'inherit'] });
      const ended = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
      return { signal: ended, calls: collector.events().map((event) => new URL(event.request.uri).pathname) };
    };
    expect(await shutDown(true)).toEqual({ signal: 'SIGTERM', calls: ['/items'] });
    expect(await shutDown(false)).toEqual({ signal: 'SIGTERM', calls: [] });
  });
});
