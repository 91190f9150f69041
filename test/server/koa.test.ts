// @vitest-environment node
/**
 * The middleware in a Koa app, as moesif-nodejs supports it ("Koa Support" in its README): Koa calls
 * it as `(ctx, next)`, and hooks get the Node request with Koa's state on `req.state`.
 */
import { afterEach, expect, it, vi } from 'vitest';
import Koa from 'koa';
import moesif, { type MoesifMiddleware, type MoesifOptions } from '../../src/server/index';
import { serversPerTest, startNodeServer, waitFor } from './helpers';

/** A Koa app of `middlewares`, as a Node request listener. */
function koaApp(middlewares: Koa.Middleware[]) {
  const app = new Koa();
  for (const middleware of middlewares) app.use(middleware);
  return app.callback();
}

const servers = serversPerTest();
let mw: MoesifMiddleware | undefined;

afterEach(() => {
  vi.restoreAllMocks();
});

it('runs in a Koa app as moesif-nodejs does: the app answers, and the call is logged under ctx.state.user', async () => {
  mw = moesif({ applicationId: 'app-1', baseUri: servers.collector.url, batchMaxTime: 10 });
  servers.api = await startNodeServer(
    koaApp([
      mw,
      // As koa-jwt does with a verified token.
      async (ctx, next) => {
        ctx.state.user = { sub: 'user_9' };
        await next();
      },
      (ctx) => {
        ctx.status = 200;
        ctx.body = { items: [1, 2] };
      },
    ]),
  );
  // The middleware returned without running the rest: every call was answered 404.
  const res = await fetch(`${servers.api.url}/items`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ items: [1, 2] });
  await mw.flush();
  const [event] = await waitFor(() => servers.collector.events().length === 1 && servers.collector.events());
  expect(event?.user_id).toBe('user_9');
  expect(event?.response).toMatchObject({ status: 200, body: { items: [1, 2] } });
});

it('lets a Koa app answer when the middleware is disabled (no applicationId)', async () => {
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  // The cast: a JavaScript app can leave out the required option (an unset environment variable).
  const disabled = moesif({} as MoesifOptions);
  expect(error).toHaveBeenCalledTimes(1);
  servers.api = await startNodeServer(
    koaApp([
      disabled,
      (ctx) => {
        ctx.body = 'ok';
      },
    ]),
  );
  const res = await fetch(`${servers.api.url}/`);
  expect([res.status, await res.text()]).toEqual([200, 'ok']);
});
