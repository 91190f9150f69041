// @vitest-environment node
/**
 * The middleware in a Koa app, as moesif-nodejs supports it ("Koa Support" in its README): called as
 * `(ctx, next)`, hooks given the Node request with Koa's state on `req.state`. Koa itself is not
 * installed here, so `koaApp` below dispatches as Koa does (koa-compose: each middleware gets the
 * context and a `next` that runs the rest and returns its promise; no body set means 404).
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import moesif, { type MoesifMiddleware, type MoesifOptions } from '../../src/server/index';
import { startNodeServer, startRecorder, waitFor, type Recorder, type RunningApp } from './helpers';

interface KoaContext {
  req: IncomingMessage;
  res: ServerResponse;
  app: object;
  state: Record<string, unknown>;
  request: { body?: unknown };
  status: number;
  body?: string;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<unknown>) => unknown;

/** A request listener that runs `middlewares` as Koa does, and answers with ctx.body (404 without one). */
function koaApp(middlewares: KoaMiddleware[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const ctx: KoaContext = { req, res, app: {}, state: {}, request: {}, status: 404 };
    const dispatch = (i: number): Promise<unknown> => {
      const middleware = middlewares[i];
      return middleware ? Promise.resolve(middleware(ctx, () => dispatch(i + 1))) : Promise.resolve();
    };
    void dispatch(0).then(() => {
      res.statusCode = ctx.body === undefined ? 404 : ctx.status;
      res.end(ctx.body ?? 'Not Found');
    });
  };
}

let collector: Recorder;
let api: RunningApp | undefined;
let mw: MoesifMiddleware | undefined;

beforeEach(async () => {
  collector = await startRecorder();
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  mw = undefined;
  await collector.close();
  vi.restoreAllMocks();
});

it('runs in a Koa app as moesif-nodejs does: the app answers, and the call is logged under ctx.state.user', async () => {
  mw = moesif({ applicationId: 'app-1', baseUri: collector.url, batchMaxTime: 10 });
  // The cast: Koa calls every middleware as (ctx, next), which the middleware's type does not name.
  const middleware = mw as unknown as KoaMiddleware;
  api = await startNodeServer(
    koaApp([
      middleware,
      // As koa-jwt does with a verified token.
      async (ctx, next) => {
        ctx.state.user = { sub: 'user_9' };
        await next();
      },
      (ctx) => {
        ctx.status = 200;
        ctx.body = JSON.stringify({ items: [1, 2] });
        ctx.res.setHeader('Content-Type', 'application/json');
      },
    ]),
  );
  // The middleware returned without running the rest: every call was answered 404.
  const res = await fetch(`${api.url}/items`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ items: [1, 2] });
  await mw.flush();
  const [event] = await waitFor(() => collector.events().length === 1 && collector.events());
  expect(event?.user_id).toBe('user_9');
  expect(event?.response).toMatchObject({ status: 200, body: { items: [1, 2] } });
});

it('lets a Koa app answer when the middleware is disabled (no applicationId)', async () => {
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  // The cast: a JavaScript app can leave out the required option (an unset environment variable).
  const disabled = moesif({} as MoesifOptions) as unknown as KoaMiddleware;
  expect(error).toHaveBeenCalledTimes(1);
  api = await startNodeServer(koaApp([disabled, (ctx) => ((ctx.status = 200), (ctx.body = 'ok'))]));
  const res = await fetch(`${api.url}/`);
  expect([res.status, await res.text()]).toEqual([200, 'ok']);
});
