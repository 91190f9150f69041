// @vitest-environment node
/**
 * A process that ends by itself (server.close() on SIGTERM, a script that is done) without calling
 * flush(): a real child Node process running the built middleware (dist/server.mjs) against a
 * recording collector on 127.0.0.1.
 */
import { afterEach, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, startRecorder, type Recorder } from './helpers';

const distServer = fileURLToPath(new URL('../../dist/server.mjs', import.meta.url));

/** Serves one call to itself through the middleware, closes its server and lets the process end. */
const CHILD = `
import { createServer } from 'node:http';
const { default: moesif } = await import(process.env.DIST);
const mw = moesif({ applicationId: 'app-1', baseUri: process.env.COLLECTOR, retryBaseDelay: 60000 });
const server = createServer((req, res) => mw(req, res, () => res.end('ok')));
server.listen(0, '127.0.0.1', async () => {
  await (await fetch('http://127.0.0.1:' + server.address().port + '/last-call')).text();
  server.close();
  server.closeAllConnections();
});
process.on('exit', () => console.log(JSON.stringify(mw.stats())));
`;

function runChild(collectorUrl: string): Promise<{ code: number | null; ms: number; stats: Record<string, number> }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      env: { ...process.env, DIST: distServer, COLLECTOR: collectorUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, ms: Date.now() - started, stats: JSON.parse(out.trim().split('\n').pop() ?? '{}') }));
  });
}

let collector: Recorder | undefined;
beforeAll(() => {
  if (!existsSync(distServer)) throw new Error('dist/server.mjs is missing: run `npm run build` (or `npx rollup -c`) first');
});
afterEach(async () => {
  await collector?.close();
  collector = undefined;
});

it('sends what is queued when the process ends by itself, without a flush() call', async () => {
  collector = await startRecorder();
  // The batch timer is unref'd (delivery never keeps a process up), so the last batch was lost.
  const { code, stats } = await runChild(collector.url);
  expect(code).toBe(0);
  expect(collector.events().map((e) => new URL(e.request.uri).pathname)).toEqual(['/last-call']);
  expect(stats).toMatchObject({ queued: 0, sent: 1 });
});

it('tries once and lets the process end when the collector is down', async () => {
  const { code, ms, stats } = await runChild(`http://127.0.0.1:${await freePort()}`);
  expect(code).toBe(0);
  expect(ms).toBeLessThan(5000);
  expect(stats).toMatchObject({ queued: 1, sent: 0, failedRequests: 1 });
});
