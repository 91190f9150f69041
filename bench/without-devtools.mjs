// @ts-check
/**
 * Pages run in a Chromium that no DevTools client is attached to, as in a visitor's browser.
 *
 * Playwright drives Chromium through the DevTools protocol, and with it attached every request the
 * page makes also reports itself to DevTools (its headers, initiator and body) on the renderer's main
 * thread. That is no cost of the SDK's, yet it is counted in what a request costs the page: measured
 * here, a 20 KB POST cost the main thread about 2.3 ms under Playwright and 1.4 ms without it, so the
 * SDK's batch requests weighed 41 µs per captured call under Playwright and 13 without (bench/README.md,
 * "Capture, sixteenth session"). A page run here drives itself: its script runs the workload and
 * reports each step by POSTing to a mark URL (`mark(name)`); Node runs `onMark` as each arrives, before
 * the page goes on, so that it can read the renderer's CPU time (renderer-cpu.mjs) between steps.
 */
import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumArgs, chromiumPath } from '../scripts/chromium.mjs';

/**
 * A server for the marks of pages run without DevTools. A page's script calls
 * `await mark('name')` (see `script`); the page's last mark is `done`.
 */
export async function startMarks() {
  /** @type {((name: string) => void) | undefined} */
  let onMark;
  const server = http.createServer((req, res) => {
    req.resume();
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    try {
      onMark?.(name);
    } finally {
      // Cross-origin and no-cors from the page: answered so that a cross-origin isolated page may read it.
      res.writeHead(204, { 'Cross-Origin-Resource-Policy': 'cross-origin', 'Access-Control-Allow-Origin': '*' }).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const base = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}/`;
  return {
    /** A script for the page, before its own: defines `mark(name)`, which resolves once Node has read the mark. */
    script: `window.mark = (name) => fetch(${JSON.stringify(base)} + encodeURIComponent(name), { method: 'POST', mode: 'no-cors' });`,
    /**
     * Opens `url` in a fresh headless Chromium without DevTools, and resolves once the page marked `done`
     * (rejects after `timeoutMs`); `handle` gets each mark before the page goes on.
     * @param {string} url @param {(name: string) => void} handle @param {number} timeoutMs
     */
    async run(url, handle, timeoutMs) {
      const profile = mkdtempSync(join(tmpdir(), 'usertrail-bench-'));
      // In a process group of its own, so that its helper processes (renderers, zygote) end with it.
      const child = spawn(chromiumPath, [...chromiumArgs, '--headless=new', `--user-data-dir=${profile}`, url], { stdio: 'ignore', detached: true });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      try {
        await new Promise((resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`${url}: not done within ${timeoutMs} ms`)), timeoutMs);
          child.once('error', reject);
          onMark = (name) => {
            if (name === 'done') resolve(undefined);
            else handle(name);
          };
        });
      } finally {
        clearTimeout(timer);
        onMark = undefined;
        try {
          process.kill(-(child.pid ?? 0));
        } catch {
          // gone already
        }
        await exited;
        // Retried: a helper process may still be writing to the profile as it exits.
        rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      }
    },
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}
