// @vitest-environment node
/**
 * `npm start` smoke test: runs demo/start.ts under tsx as `npm start` does after its build step
 * (the test command builds first), waits for the printed addresses, fetches the dashboard and the demo app,
 * then stops it with SIGTERM and expects a clean exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_APP_ID, tempDir } from './support';

let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Resolves with everything printed once `pattern` has appeared on stdout. */
function waitFor(proc: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    // A limit, not a wait: the test fails with the output so far instead of hanging.
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`)), timeoutMs);
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}; output:\n${out}`));
    });
  });
}

it('npm start prints its addresses, serves the dashboard and the demo app, and stops cleanly on SIGTERM', async () => {
  dir = tempDir();
  child = spawn(process.execPath, ['--import', 'tsx', 'demo/start.ts'], {
    env: { ...process.env, PORT: '0', DEMO_API_PORT: '0', DEMO_APP_PORT: '0', USERTRAIL_DB: join(dir, 'collector.db'), USERTRAIL_APP_ID: 'smoke-test-app' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = await waitFor(child, /Press Ctrl\+C to stop/);
  const dashboard = /Dashboard: +(http:\/\/\S+)/.exec(out)?.[1];
  const demoApp = /Demo app: +(http:\/\/\S+)/.exec(out)?.[1];
  expect(dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  expect(demoApp).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/docs\/$/);
  expect(out).toContain('Application id: smoke-test-app');

  const page = await fetch(dashboard!);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('usertrail');
  expect(await (await fetch(`${dashboard}api/info`)).json()).toEqual({ application_id: 'smoke-test-app' });
  const docs = await fetch(demoApp!);
  expect(docs.status).toBe(200);
  expect(await docs.text()).toContain('/moesif.min.js');
  for (const path of ['/signup', '/login', '/app', '/docs/quickstart', '/docs/api', '/config.js']) {
    expect((await fetch(new URL(path, demoApp)).then((r) => r.status)), path).toBe(200);
  }
  const config = await (await fetch(new URL('/config.js', demoApp))).text();
  expect(config).toContain('"applicationId":"smoke-test-app"');
  expect(config).toContain(`"collectorHost":"${new URL(dashboard!).host}"`);

  // The collector accepts items for the printed application id.
  const ingest = await fetch(`${dashboard}v1/users`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Moesif-Application-Id': 'smoke-test-app' },
    body: JSON.stringify({ anonymous_id: 'smoke' }),
  });
  expect(ingest.status).toBe(201);

  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});

it('npm run collector starts the collector alone on PORT, prints the dashboard and the application id, and stops on SIGINT', async () => {
  dir = tempDir();
  child = spawn(process.execPath, ['--import', 'tsx', 'demo/collector/main.ts'], {
    env: { ...process.env, PORT: '0', USERTRAIL_DB: join(dir, 'collector.db'), USERTRAIL_APP_ID: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = await waitFor(child, /Application id: .+/);
  expect(out).toContain(`Application id: ${DEFAULT_APP_ID}`);
  const dashboard = /Dashboard: +(http:\/\/\S+)/.exec(out)?.[1];
  expect((await fetch(dashboard!)).status).toBe(200);
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  expect(await exited).toBe(0);
});

it('npm run collector refuses to start beyond loopback without a read token, and says which variable to set', async () => {
  dir = tempDir();
  child = spawn(process.execPath, ['--import', 'tsx', 'demo/collector/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '0.0.0.0', USERTRAIL_DB: join(dir, 'collector.db'), USERTRAIL_READ_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
  expect(code).toBe(1);
  expect(err).toMatch(/collector failed to start: .*read token.*USERTRAIL_READ_TOKEN/);
});
