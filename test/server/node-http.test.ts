// @vitest-environment node
/**
 * The middleware in a plain node:http server, without Express: the way moesif-nodejs documents it,
 * `mw(req, res, () => handler(req, res))`, with the response written through Node's own API.
 */
import { describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import moesif, { type MoesifMiddleware, type MoesifOptions } from '../../src/server/index';
import { serversPerTest, startNodeServer, waitFor } from './helpers';

const servers = serversPerTest();
let mw: MoesifMiddleware | undefined;

/** A node:http server whose listener runs the middleware, then `handler`. */
async function nodeApp(handler: (req: IncomingMessage, res: ServerResponse) => void, options: Partial<MoesifOptions> = {}) {
  mw = moesif({ applicationId: 'app-1', baseUri: servers.collector.url, batchMaxTime: 10, ...options });
  const middleware = mw;
  servers.api = await startNodeServer((req, res) => middleware(req, res, () => handler(req, res)));
  return servers.api.url;
}

async function events(count: number) {
  await mw?.flush();
  return waitFor(() => servers.collector.events().length >= count && servers.collector.events());
}

describe('responses written with writeHead()', () => {
  it('records the headers given to writeHead(), and masks the JSON body they declare', async () => {
    const url = await nodeApp((req, res) => {
      if (req.url === '/json') {
        res.writeHead(201, { 'Content-Type': 'application/json', 'X-Request-Id': 'r1', 'Set-Cookie': 'sid=s3cr3t' });
        res.end(JSON.stringify({ id: 7, password: 'hunter2' }));
      } else if (req.url === '/array') {
        // Node also takes a flat [name, value, ...] array, and a status message before the headers.
        res.writeHead(200, 'Fine', ['Content-Type', 'text/plain', 'X-Kind', 'array']);
        res.end('plain');
      }
    });
    const res = await fetch(`${url}/json`);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: 7, password: 'hunter2' });
    await fetch(`${url}/array`);
    const [json, array] = await events(2);
    expect(json?.response.headers).toMatchObject({ 'content-type': 'application/json', 'x-request-id': 'r1', 'set-cookie': '*****' });
    expect(json?.response.body).toEqual({ id: 7, password: '*****' });
    expect(JSON.stringify(json)).not.toContain('hunter2');
    expect(JSON.stringify(json)).not.toContain('s3cr3t');
    expect(array?.response.headers).toMatchObject({ 'content-type': 'text/plain', 'x-kind': 'array' });
    expect(array?.response.body).toBe('plain');
  });
});

describe('responses without a body', () => {
  it('records no body for HEAD, 204 and 304, where Node sends none whatever the app writes', async () => {
    const url = await nodeApp((req, res) => {
      if (req.url === '/204') res.statusCode = 204;
      if (req.url === '/304') res.statusCode = 304;
      res.setHeader('Content-Type', 'text/plain');
      res.end('never sent');
    });
    const head = await fetch(`${url}/200`, { method: 'HEAD' });
    expect(await head.text()).toBe('');
    expect(await (await fetch(`${url}/204`)).text()).toBe('');
    expect((await fetch(`${url}/304`)).status).toBe(304);
    expect(await (await fetch(`${url}/200`)).text()).toBe('never sent');
    const logged = await events(4);
    expect(logged.map((e) => [e.request.verb, e.response.status, e.response.body])).toEqual([
      ['HEAD', 200, undefined],
      ['GET', 204, undefined],
      ['GET', 304, undefined],
      ['GET', 200, 'never sent'],
    ]);
  });
});

describe('called without next', () => {
  it('observes the call and returns, instead of throwing into the request listener', async () => {
    // moesif-nodejs calls next only when given one, so `mw(req, res); handle(req, res)` works with
    // it. Here it threw "next is not a function", which in a node:http listener ends the process.
    mw = moesif({ applicationId: 'app-1', baseUri: servers.collector.url, batchMaxTime: 10 });
    const middleware = mw;
    servers.api = await startNodeServer((req, res) => {
      middleware(req, res);
      res.end('handled');
    });
    expect(await (await fetch(`${servers.api.url}/x`)).text()).toBe('handled');
    expect((await events(1))[0]?.response.body).toBe('handled');
  });
});
