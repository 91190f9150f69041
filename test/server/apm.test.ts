// @vitest-environment node
/**
 * usertrail/server beside an APM agent, as production apps run it: OpenTelemetry (http, express and
 * undici instrumentations, spans kept in memory) and dd-trace (pointed at a fake agent on 127.0.0.1,
 * telemetry and remote configuration off). Agents patch modules as they load, so each scenario is a
 * process of its own (fixtures/apm/app.cjs, started as users start agents: `--require`), calling an
 * upstream and logging to a recording collector on 127.0.0.1. The scenarios of one start order share
 * a process: eight processes, each agent's start about 0.7 s of CPU, the file about 12 s of CPU in all.
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_APP_ID } from '../../demo/collector/config.js';
import { startRecorder, waitFor, type Json, type Recorder } from './helpers';

type Agent = 'opentelemetry' | 'datadog';
type Sdk = 'usertrail' | 'moesif-nodejs';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/apm/${name}`, import.meta.url));
const USERTRAIL = fileURLToPath(new URL('../../src/server/index.ts', import.meta.url));

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Datadog agent that takes whatever dd-trace sends (traces, stats) and answers 200 '{}'; `paths` are what it got. */
async function fakeDatadogAgent(): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

/** dd-trace's environment: nothing it sends may leave 127.0.0.1, and nothing it does not need runs. */
const datadogEnv = (agentUrl: string) => ({
  DD_TRACE_AGENT_URL: agentUrl,
  // Traces leave every 50 ms instead of every 2 s, so that each scenario sees dd-trace send some.
  DD_TRACE_FLUSH_INTERVAL: '50',
  DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false',
  DD_REMOTE_CONFIGURATION_ENABLED: 'false',
  DD_TRACE_STARTUP_LOGS: 'false',
  DD_RUNTIME_METRICS_ENABLED: 'false',
  DD_PROFILING_ENABLED: 'false',
  DD_CRASHTRACKING_ENABLED: 'false',
  DD_TRACE_STATS_COMPUTATION_ENABLED: 'false',
  DD_DATA_STREAMS_ENABLED: 'false',
  DD_APPSEC_ENABLED: 'false',
  DD_IAST_ENABLED: 'false',
  DD_DYNAMIC_INSTRUMENTATION_ENABLED: 'false',
  DD_LLMOBS_ENABLED: 'false',
});

/** What the app process reports (fixtures/apm/app.cjs). */
interface Report {
  spans: Array<{ name: string; kind?: string; traceId: string; url?: string; route?: string; port?: number | string }>;
  seen: Array<{ where: string; requestId?: string; store?: string; span?: { traceId: string; name: string } }>;
  received: Array<{ path: string; headers: Record<string, string> }>;
  connections: string[];
}

/**
 * The app, with `agent` preloaded (`node --require`) or, with 'after-capture', started by the app
 * after `startCaptureOutgoing()`. `ask` sends it a command ('flush', 'stop-capture', 'report') and
 * resolves with its report once the command is done.
 */
async function startApp(agent: Agent, start: 'preload' | 'after-capture', sdk: Sdk, collector: Recorder) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    APM_AGENT: fixture(`${agent}.cjs`),
    APM_START: start,
    SDK: sdk,
    USERTRAIL,
    COLLECTOR: collector.url,
    APPLICATION_ID: DEFAULT_APP_ID,
  };
  const execArgv = ['--import', 'tsx'];
  const datadogAgent = agent === 'datadog' ? await fakeDatadogAgent() : undefined;
  if (datadogAgent) {
    Object.assign(env, datadogEnv(datadogAgent.url));
    // dd-trace's own preload, configured by the environment; fixtures/apm/datadog.cjs only watches its spans.
    if (start === 'preload') execArgv.unshift('--require', 'dd-trace/init');
  } else if (start === 'preload') execArgv.unshift('--require', fixture('opentelemetry.cjs'));
  const child = fork(fixture('app.cjs'), [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  cleanups.push(() => child.kill());
  const messages: Json[] = [];
  child.on('message', (message: Json) => messages.push(message));
  const ports = (await waitFor(() => messages.find((m) => m.ready), 20_000)).ready as { with: number; bare: number };
  let asked = 0;
  const ask = async (command: string): Promise<Report> => {
    const answer = ++asked;
    child.send(command);
    const done = await waitFor(() => messages.filter((m) => m.done)[answer - 1], 10_000);
    return done.report as Report;
  };
  return { ports, ask, datadogAgent };
}

/** Trace `n` as the client that calls the app started it, in the agent's own headers; its id as the agent reports it (32 hex digits). */
function traceOf(agent: Agent, n: number): { id: string; headers: Record<string, string> } {
  const id = BigInt(0x5eed0000 + n);
  const hex = id.toString(16).padStart(32, '0');
  const headers: Record<string, string> =
    agent === 'opentelemetry'
      ? { traceparent: `00-${hex}-b7ad6b7169203331-01` }
      : { 'x-datadog-trace-id': String(id), 'x-datadog-parent-id': '987654321', 'x-datadog-sampling-priority': '1' };
  return { id: hex, headers };
}

/** The header an agent propagates a call's trace in. */
const TRACE_HEADER: Record<Agent, string> = { opentelemetry: 'traceparent', datadog: 'x-datadog-trace-id' };
const TRACE_HEADERS = ['traceparent', 'tracestate', 'x-datadog-trace-id', 'x-datadog-parent-id', 'x-datadog-sampling-priority'];
const traceHeadersOf = (headers: Record<string, string>) => Object.fromEntries(TRACE_HEADERS.filter((name) => headers[name] !== undefined).map((name) => [name, headers[name]]));

const pathOf = (event: Json) => {
  const url = new URL(event.request.uri);
  return url.pathname + url.search;
};

/** The app's calls: an order to each app (with and without the middleware), then a round of outgoing calls. */
async function callApp(agent: Agent, ports: { with: number; bare: number }, round: number) {
  const post = (port: number, id: string, trace: number, extra: Record<string, string>) =>
    fetch(`http://127.0.0.1:${port}/orders/${id}`, {
      method: 'POST',
      headers: { ...traceOf(agent, trace).headers, 'content-type': 'application/json', ...extra },
      body: JSON.stringify({ qty: 2 }),
    });
  const answers: Json[] = [];
  if (round === 1) {
    const withMiddleware = await post(ports.with, '7', 1, { 'x-user': 'u_7', 'x-request-id': 'r1' });
    answers.push({ status: withMiddleware.status, body: await withMiddleware.json() });
    const bare = await post(ports.bare, '8', 2, { 'x-request-id': 'r2' });
    answers.push({ status: bare.status, body: await bare.json() });
  }
  const calls = await fetch(`http://127.0.0.1:${ports.with}/calls?round=${round}`, { headers: { ...traceOf(agent, 2 + round).headers, 'x-request-id': `r${2 + round}` } });
  answers.push({ status: calls.status, body: await calls.json() });
  return answers;
}

/**
 * The app's report once `probe` holds for it (spans end a moment after the answer leaves), or its last
 * one after 5 s, for the assertions that follow to say what is missing.
 */
async function reportWhen(ask: (command: string) => Promise<Report>, probe: (report: Report) => boolean): Promise<Report> {
  let last: Report | undefined;
  const awaited = vi.waitFor(
    async () => {
      last = await ask('report');
      if (!probe(last)) throw new Error('not yet');
      return last;
    },
    { timeout: 5000, interval: 10 },
  );
  return awaited.catch(() => last ?? ask('report'));
}

const spansTo = (report: Report, path: string) => report.spans.filter((span) => span.kind === 'client' && span.url?.includes(path));

/**
 * Capture stopped, a second round of calls: the agent traces both outgoing calls (its 3rd and 4th
 * traces), we log none of them. Gives the app's last report.
 */
async function stopCaptureAndCallAgain(agent: Agent, ports: { with: number; bare: number }, ask: (command: string) => Promise<Report>, collector: Recorder): Promise<Report> {
  await ask('stop-capture');
  await callApp(agent, ports, 2);
  await ask('flush');
  await waitFor(() => collector.events().some((e) => pathOf(e) === '/calls?round=2'), 10_000);
  const after = await reportWhen(ask, (r) => spansTo(r, '/via-fetch').length === 2);
  expect(collector.events().filter((e) => e.direction === 'Outgoing')).toHaveLength(2);
  for (const path of ['/via-http', '/via-fetch']) expect(spansTo(after, path).map((s) => s.traceId)).toEqual([traceOf(agent, 3).id, traceOf(agent, 4).id]);
  return after;
}

/** Nothing left 127.0.0.1; dd-trace sent its traces to its agent there, and capture logged none of that. */
function expectNothingElse(after: Report, datadogAgent: { paths: string[] } | undefined, collector: Recorder): void {
  expect(after.connections.filter((address) => address !== '127.0.0.1')).toEqual([]);
  if (datadogAgent) expect(datadogAgent.paths).toContain('PUT /v0.4/traces');
  expect(collector.events().filter((e) => !['/calls', '/orders/7', '/via-http', '/via-fetch'].includes(new URL(e.request.uri).pathname))).toEqual([]);
}

describe.each(['opentelemetry', 'datadog'] as const)('beside %s', (agent) => {
  it('loaded first: every call logged once, as sent, in the agent\'s trace; the agent keeps working, ours stops cleanly', async () => {
    const collector = await startRecorder();
    cleanups.push(() => collector.close());
    const { ports, ask, datadogAgent } = await startApp(agent, 'preload', 'usertrail', collector);
    const [ordered, bare, calls] = await callApp(agent, ports, 1);
    expect([ordered, bare]).toEqual([
      { status: 201, body: { id: '7', qty: 2 } },
      { status: 201, body: { id: '8', qty: 2 } },
    ]);
    expect(calls).toEqual({ status: 200, body: { viaHttp: { path: '/via-http?1' }, viaFetch: { path: '/via-fetch?1' } } });
    await ask('flush');
    await waitFor(() => collector.events().length >= 4, 10_000);
    const report = await reportWhen(ask, (r) => spansTo(r, '/via-fetch').length > 0 && r.spans.filter((s) => s.route === '/calls').length > 0);

    // Each call the app answered through the middleware, once, and each call it made, once; the
    // collector's own requests never.
    const events = collector.events();
    expect(events.map((e) => `${e.direction} ${pathOf(e)}`).sort()).toEqual(['Incoming /calls?round=1', 'Incoming /orders/7', 'Outgoing /via-fetch?1', 'Outgoing /via-http?1']);
    const byPath = (path: string) => events.find((e) => pathOf(e) === path)!;
    expect(byPath('/orders/7')).toMatchObject({
      user_id: 'u_7',
      metadata: { hooked: true },
      request: { verb: 'POST', body: { qty: 2 } },
      response: { status: 201, body: { id: '7', qty: 2 } },
    });
    expect(byPath('/calls?round=1').response).toMatchObject({ status: 200, body: calls!.body });
    for (const path of ['/via-http?1', '/via-fetch?1']) {
      const event = byPath(path);
      expect(event.response).toMatchObject({ status: 200, body: { path } });
      // The trace headers the agent added are in the event as the upstream got them: for fetch, added
      // by OpenTelemetry on undici's request, by dd-trace on a Request of its own inside our wrapper.
      const got = report.received.find((r) => r.path === path)!.headers;
      expect(got[TRACE_HEADER[agent]]).toContain(agent === 'opentelemetry' ? traceOf(agent, 3).id : String(BigInt(`0x${traceOf(agent, 3).id}`)));
      expect(traceHeadersOf(event.request.headers)).toEqual(got);
    }
    // The headers fetch itself sent are recorded too, as they went out.
    expect(byPath('/via-fetch?1').request.headers).toMatchObject({ 'user-agent': 'node', accept: '*/*' });

    // The agent's spans: the routes, with and without the middleware, each in its client's trace; the
    // outgoing calls in the trace of the request that made them.
    const servers = report.spans.filter((s) => s.kind === 'server' && s.route);
    expect(servers.map((s) => [s.route, s.traceId])).toEqual(
      expect.arrayContaining([
        ['/orders/:id', traceOf(agent, 1).id],
        ['/orders/:id', traceOf(agent, 2).id],
        ['/calls', traceOf(agent, 3).id],
      ]),
    );
    for (const path of ['/via-http', '/via-fetch']) expect(spansTo(report, path).map((s) => s.traceId)).toEqual([traceOf(agent, 3).id]);

    // Async context: in the route handler the app's AsyncLocalStorage store and the agent's active span
    // are the same with the middleware as without; its hooks see the request's trace (and the app's store).
    const seen = (where: string, requestId: string | undefined) => report.seen.filter((s) => s.where === where && s.requestId === requestId);
    const [withMiddleware] = seen('handler', 'r1');
    const [without] = seen('handler', 'r2');
    expect(withMiddleware).toMatchObject({ store: 'r1', span: { traceId: traceOf(agent, 1).id, name: without!.span!.name } });
    expect(without).toMatchObject({ store: 'r2', span: { traceId: traceOf(agent, 2).id } });
    for (const hook of ['identifyUser', 'getMetadata']) {
      expect(seen(hook, 'r1')).toMatchObject([{ store: 'r1', span: { traceId: traceOf(agent, 1).id } }]);
      // An outgoing call's hooks (its mocked request has no x-request-id) run in the trace of the request that made it.
      expect(seen(hook, undefined)).toMatchObject([
        { store: 'r3', span: { traceId: traceOf(agent, 3).id } },
        { store: 'r3', span: { traceId: traceOf(agent, 3).id } },
      ]);
    }

    // Our deliveries: the agent traces them (it patched node:http before we took it), but as traces of
    // their own, not as part of a request's, where they would stand for other requests' events.
    const requestTraces = [1, 2, 3, 4].map((n) => traceOf(agent, n).id);
    expect(spansTo(report, '/v1/events/batch').length).toBeGreaterThan(0);
    expect(spansTo(report, '/v1/').filter((s) => requestTraces.includes(s.traceId))).toEqual([]);

    // Stopped, capture gives node:http and fetch back as the agent patched them: its spans go on, ours are gone.
    const after = await stopCaptureAndCallAgain(agent, ports, ask, collector);
    expect(after.received.filter((r) => r.path.endsWith('?2')).map((r) => r.headers[TRACE_HEADER[agent]])).toEqual([expect.any(String), expect.any(String)]);
    expectNothingElse(after, datadogAgent, collector);
  });

  it('started after startCaptureOutgoing(): both see every call, and stopping capture leaves the agent\'s patch in place', async () => {
    const collector = await startRecorder();
    cleanups.push(() => collector.close());
    const { ports, ask, datadogAgent } = await startApp(agent, 'after-capture', 'usertrail', collector);
    await callApp(agent, ports, 1);
    await ask('flush');
    await waitFor(() => collector.events().length >= 4, 10_000);
    const report = await reportWhen(ask, (r) => spansTo(r, '/via-fetch').length > 0);
    const outgoing = collector.events().filter((e) => e.direction === 'Outgoing');
    expect(outgoing.map(pathOf).sort()).toEqual(['/via-fetch?1', '/via-http?1']);
    for (const event of outgoing) expect(traceHeadersOf(event.request.headers)).toEqual(report.received.find((r) => r.path === pathOf(event))!.headers);
    for (const path of ['/via-http', '/via-fetch']) expect(spansTo(report, path).map((s) => s.traceId)).toEqual([traceOf(agent, 3).id]);

    expectNothingElse(await stopCaptureAndCallAgain(agent, ports, ask, collector), datadogAgent, collector);
  });

  it('moesif-nodejs 3.11 beside it: node:http calls logged with their trace headers, hooks in the request\'s trace, and its own requests in the requests\' traces', async () => {
    const collector = await startRecorder(0, { contract: false });
    cleanups.push(() => collector.close());
    const { ports, ask, datadogAgent } = await startApp(agent, 'preload', 'moesif-nodejs', collector);
    await callApp(agent, ports, 1);
    // moesif-nodejs has no flush(): its batch leaves after batchMaxTime.
    await waitFor(() => ['/orders/7', '/calls?round=1', '/via-http?1'].every((path) => collector.events().some((e) => pathOf(e) === path)), 10_000);
    const report = await reportWhen(ask, (r) => spansTo(r, '/v1/events/batch').length > 0);
    const events = collector.events();
    // What users of moesif-nodejs see, and usertrail/server gives for fetch too: an outgoing call's
    // event with the trace header the agent added. moesif-nodejs does not capture fetch.
    const viaHttp = events.find((e) => pathOf(e) === '/via-http?1')!;
    const got = report.received.find((r) => r.path === '/via-http?1')!.headers;
    expect(viaHttp.request.headers[TRACE_HEADER[agent]]).toBe(got[TRACE_HEADER[agent]]);
    expect(events.filter((e) => pathOf(e).startsWith('/via-fetch'))).toEqual([]);
    // Its hooks, too, see the request's trace.
    expect(report.seen.filter((s) => s.where === 'identifyUser' && s.requestId === 'r1')).toMatchObject([{ span: { traceId: traceOf(agent, 1).id } }]);
    // Its requests to the collector (configuration, rules, events) are spans of the requests whose
    // handling made them; usertrail/server's are not (above).
    const requestTraces = [1, 2, 3].map((n) => traceOf(agent, n).id);
    expect(spansTo(report, '/v1/').filter((s) => requestTraces.includes(s.traceId)).length).toBeGreaterThan(0);
    // And it logs dd-trace's requests to its agent as the app's outgoing calls.
    if (datadogAgent) await waitFor(() => collector.events().some((e) => e.request.uri.startsWith(`${datadogAgent.url}/v0.4/traces`)), 10_000);
  });
});

it("an ES module app under dd-trace's ESM loader: node:http's default export and fetch are captured, a named import of request is not", async () => {
  // import-in-the-middle, which dd-trace's (and OpenTelemetry's) ESM loader hook puts between an ES
  // module and node:http, gives it a copy of node:http's exports that syncBuiltinESMExports() does not
  // update: a named `request` keeps the function it had when first imported (README, "Beside an APM agent").
  // Preloaded with --require, dd-trace leaves ES modules node:http's own module, and all three are captured.
  const run = async (preload: string[]) => {
    const collector = await startRecorder();
    cleanups.push(() => collector.close());
    const datadogAgent = await fakeDatadogAgent();
    const env = { ...process.env, ...datadogEnv(datadogAgent.url), USERTRAIL, COLLECTOR: collector.url, APPLICATION_ID: DEFAULT_APP_ID };
    const child = fork(fixture('esm-app.mjs'), [], { env, execArgv: [...preload, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    cleanups.push(() => child.kill());
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    return collector.events().map((e) => new URL(e.request.uri).pathname).sort();
  };
  expect(await run(['--import', 'dd-trace/initialize.mjs'])).toEqual(['/default-export', '/fetch']);
  expect(await run(['--require', 'dd-trace/init'])).toEqual(['/default-export', '/fetch', '/named-import']);
});
