// @vitest-environment node
/**
 * The package inside a user's own test suite, as published (./packed.ts): fixtures/jest-app is an app
 * with a browser part and an Express server, tested the ways apps test themselves. Its test files are
 * the user's, written as a user writes them; this file runs each runner once and checks what it
 * reports:
 *
 * - Jest 30, in one process: jest-environment-jsdom through babel-jest (Jest's default CommonJS
 *   transform) and through ts-jest (which type-checks against the package's CommonJS types), Jest's
 *   native ES modules (`--experimental-vm-modules`, for the .mjs files only: the CommonJS files load as
 *   they do without it), and the node environment for the server with supertest (CommonJS and ESM) and
 *   for a server-rendered component's use of the browser SDK; modern fake timers with runAllTimers(),
 *   runOnlyPendingTimers() and runAllTimersAsync(), and `jest.mock('usertrail')`.
 *   `--detectOpenHandles`, no `--forceExit`: the process must end by itself, reporting no handle.
 * - Vitest, jsdom and happy-dom, with its fake timers.
 * - `node --test` for the server.
 *
 * The runners and their environments are the fixture's own packages (its package.json and lockfile,
 * installed once by installLockedProject()): Jest's globals and types must not reach the repository's
 * tsconfigs. express and moesif-nodejs are the repository's.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { startRecorder, type Recorder } from '../server/helpers';
import { FIXTURES, installLockedProject, packConsumer, type PackedConsumer } from './packed';

const PROJECT = join(FIXTURES, 'jest-app');

let packed: PackedConsumer;
let collector: Recorder;

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `args` with Node in the consumer and gives back how it ended. A runner that does not end by
 * itself is stopped after a minute, and the test fails saying so: that is what a CI job of the user's
 * would do with no --forceExit (and Jest's "did not exit one second after the test run" is only a hint).
 */
function runInConsumer(args: string[], env: Record<string, string> = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      {
        cwd: packed.consumer,
        timeout: 60_000,
        // FORCE_COLOR: plain text to match; CI: what the runners do in a user's CI job (no watch mode, no progress).
        env: { ...process.env, ...env, FORCE_COLOR: '0', NO_COLOR: '1', CI: '1', MOESIF_APPLICATION_ID: DEFAULT_APP_ID, MOESIF_BASE_URI: collector.url },
      },
      (error, stdout, stderr) => {
        if (error && error.killed) reject(new Error(`${args.join(' ')} did not end by itself within a minute:\n${stdout}\n${stderr}`));
        else resolve({ code: error ? (typeof error.code == 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** The /hello calls of the fixture's Express app that reached the collector. */
const helloEvents = () => collector.events().filter((event) => new URL(event.request.uri, 'http://x').pathname == '/hello');

beforeAll(async () => {
  const [installed, consumer] = await Promise.all([installLockedProject(PROJECT), packConsumer({ alsoLink: ['express', 'moesif-nodejs'] })]);
  packed = consumer;
  collector = await startRecorder();
  cpSync(PROJECT, packed.consumer, { recursive: true, filter: (path) => !path.endsWith('package-lock.json') });
  // The fixture's own packages, as npm would have placed them: links to the installed ones.
  const { devDependencies } = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  for (const name of Object.keys(devDependencies)) {
    const path = join(packed.consumer, 'node_modules', name);
    mkdirSync(join(path, '..'), { recursive: true });
    symlinkSync(join(installed, name), path, 'dir');
  }
}, 180_000);

afterAll(async () => {
  await collector?.close();
  packed?.remove();
});

describe('Jest 30', () => {
  let jest: Finished;
  /** Each test's full name ("file: ancestors title") and status, from Jest's --json report. */
  let results: string[];

  beforeAll(async () => {
    jest = await runInConsumer(
      ['--experimental-vm-modules', 'node_modules/jest/bin/jest.js', '--detectOpenHandles', '--ignoreProjects', 'moesif-nodejs', '--json', '--outputFile=jest-results.json'],
      { COLLECTOR_HOST: new URL(collector.url).host },
    );
    const report = JSON.parse(readFileSync(join(packed.consumer, 'jest-results.json'), 'utf8')) as {
      testResults: Array<{ name: string; status: string; message: string; assertionResults: Array<{ fullName: string; status: string }> }>;
    };
    results = report.testResults.flatMap(({ name, status, message, assertionResults }) => [
      ...(status == 'failed' && !assertionResults.length ? [`${name.slice(packed.consumer.length + 1)}: ${message}`] : []),
      ...assertionResults.map(({ fullName, status: passed }) => `${name.slice(packed.consumer.length + 1)}: ${fullName} ${passed}`),
    ]);
  }, 90_000);

  it('every test of the app passes: jsdom with babel-jest, ts-jest and native ES modules; fake timers; automock; the server with supertest, CommonJS and native ESM; the browser SDK in the node environment', () => {
    expect(results.sort()).toEqual([
      'browser/analytics.test.js: analytics in jsdom flush() settles passed',
      'browser/analytics.test.js: analytics in jsdom the app instance (createMoesif with capture) sets up, identifies, tracks and captures without throwing passed',
      'browser/analytics.test.js: analytics in jsdom the default instance works through the app code passed',
      'browser/fake-timers.test.js: await jest.runAllTimersAsync() passed',
      'browser/fake-timers.test.js: jest.runAllTimers() with the SDK initialised and events waiting passed',
      'browser/fake-timers.test.js: jest.runOnlyPendingTimers() and jest.advanceTimersByTime() passed',
      'browser/mocked.test.js: the default export is the instance, its methods mock functions passed',
      'browser/native-esm.test.mjs: createMoesif with capture and the default instance, under modern fake timers passed',
      'browser/typed.spec.ts: TypeScript app through ts-jest createMoesif with capture, the default instance and a named export passed',
      'server/app.test.js: GET /hello answers through the middleware passed',
      'server/flushed.test.js: GET /hello answers through the middleware, its event flushed after the tests passed',
      'server/native-esm.test.mjs: GET /hello answers through the middleware (native ESM) passed',
      'server/ssr.test.js: the browser SDK on the server: every call a quiet no-op passed',
    ]);
    expect(jest.code).toBe(0);
  });

  it('ends by itself, with no open handle reported and nothing said by the SDK', () => {
    expect(jest.stderr).not.toMatch(/open handle|did not exit/i);
    expect(jest.stderr).not.toContain('[usertrail');
  });

  it("the server's calls: test files that flush in afterAll (CommonJS and native ESM) deliver them; one that does not, does not, and holds nothing either", async () => {
    await collector.waitFor(() => helloEvents().some((event) => event.user_id == 'jest-flushed'));
    await collector.waitFor(() => helloEvents().some((event) => event.user_id == 'jest-esm'));
    expect(helloEvents().find((event) => event.user_id == 'jest-flushed')).toMatchObject({ request: { verb: 'GET' }, response: { status: 200 } });
    // Jest has ended: nothing of its can arrive any more. Its test files get a copy of `process` whose
    // 'beforeExit' never fires, so the flush at exit (src/server/index.ts) does not run there.
    expect(helloEvents().filter((event) => event.user_id == 'jest-unflushed')).toEqual([]);
  });
});

it("Jest and moesif-nodejs 3.11, for comparison: the same app's test passes, and Jest says it did not exit one second after the run (moesif-nodejs's batch timer is ref'd), then ends once it has sent", async () => {
  const { code, stderr } = await runInConsumer(['node_modules/jest/bin/jest.js', '--selectProjects', 'moesif-nodejs']);
  expect(stderr).toContain('1 passed');
  expect(stderr).toContain('Jest did not exit one second after the test run has completed');
  expect(code).toBe(0);
  await collector.waitFor(() => helloEvents().some((event) => event.user_id == 'moesif-nodejs'));
}, 60_000);

it('Vitest, jsdom and happy-dom: the same browser code, with vi.runAllTimers()', async () => {
  const { code, stdout, stderr } = await runInConsumer(['node_modules/vitest/vitest.mjs', 'run'], { COLLECTOR_HOST: new URL(collector.url).host });
  expect(stdout, stderr).toMatch(/Tests\s+2 passed \(2\)/);
  expect(stdout + stderr).not.toContain('[usertrail');
  expect(code).toBe(0);
}, 60_000);

it('node --test: the server app\'s test passes, the process ends by itself, and its call reaches the collector as it ends', async () => {
  const { code, stdout } = await runInConsumer(['--test', 'node-test/']);
  expect(stdout).toContain('# pass 1');
  expect(code).toBe(0);
  await collector.waitFor(() => helloEvents().some((event) => event.user_id == 'node-test'));
}, 60_000);
