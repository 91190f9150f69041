import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * A certificate for *.example.test that signs itself, made with Debian's openssl for this run only (a
 * browser context opened with `ignoreHTTPSErrors` accepts it).
 */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'usertrail-tls-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=example.test', '-addext', 'subjectAltName=DNS:*.example.test',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * An https site on 127.0.0.1 (port 0) for cookie tests that need a secure page: it serves the UMD build
 * at /dist/moesif.min.js and the pages given to `page()`. The collector stays the http recorder: a
 * secure page may call http://127.0.0.1, which browsers trust as loopback.
 */
export async function startHttpsSite() {
  const pages = new Map<string, string>();
  const server = createServer(selfSignedCertificate(), (req, res) => {
    const path = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
    if (path == '/dist/moesif.min.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(readFileSync(join(ROOT, 'dist', 'moesif.min.js')));
    const html = pages.get(path);
    if (html === undefined) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    /** `https://host:PORT`, host mapped to 127.0.0.1 by the browser's resolver rules. */
    at: (host: string) => `https://${host}:${port}`,
    page(path: string, html: string): void {
      pages.set(path, html);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
