import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { listenLocally } from './listen';

/**
 * The server of e2e/capture-differential.spec.ts: two pages that differ only by usertrail (`/plain`
 * without it, `/sdk` with its UMD build, init() and start()), and `/fz`, an API whose every answer
 * depends only on the request, so that a program run twice sees the same thing twice:
 *
 * - `s`: the status (200 when absent; 204 and 304 come without a body);
 * - `r`: redirects left before the answer, each with status `rc` (302 when absent), to the same URL;
 * - `t`: the body's type: json (the request echoed: method, content type, the X-Fz-* headers, the body
 *   with a multipart boundary replaced by "B"), text, bin (bytes 0-255), xml, html or empty;
 * - `slow`: the body in three parts, 20 ms apart;
 * - `hang`: `headers` never answers, `body` sends the headers and a first part, never the rest (an
 *   answer that has no body ends at once); both until the client goes away (only the app's abort or
 *   timeout ends such a call);
 * - `close`: the connection is closed unanswered.
 */
export async function startFuzzApi({ collectorUrl }: { collectorUrl: string }) {
  const sdkScript = await readFile(normalize(join(import.meta.dirname, '..', '..', 'dist', 'moesif.min.js')), 'utf8');
  const page = (head: string) => `<!doctype html><html><head><title>fuzz</title>${head}</head><body><p>fuzz</p></body></html>`;
  const pages: Record<string, string> = {
    '/plain': page(''),
    '/sdk': page(
      `<script src="/moesif.min.js"></script><script>moesif.init({ applicationId: 'fuzz', host: ${JSON.stringify(collectorUrl)}, batchMaxTime: 100 }); moesif.start();</script>`,
    ),
  };

  const answer = (url: URL, req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const query = url.searchParams;
    const noStore = { 'Cache-Control': 'no-store' };
    const redirects = Number(query.get('r') ?? 0);
    if (redirects > 0) {
      query.set('r', String(redirects - 1));
      res.writeHead(Number(query.get('rc') ?? 302), { ...noStore, Location: url.pathname + url.search }).end();
      return;
    }
    if (query.has('close')) {
      req.socket.destroy();
      return;
    }
    const hang = query.get('hang');
    if (hang === 'headers') return; // until the client goes away (or close() ends it: see listen.ts)
    const contentType = req.headers['content-type'] ?? '';
    // Chromium's multipart boundary is random: the same program sends another each run.
    const boundary = /----WebKitFormBoundary\w+/;
    const sentText = body.toString('utf8');
    const echo = {
      method: req.method,
      contentType: contentType.replace(boundary, 'B'),
      headers: Object.fromEntries(Object.entries(req.headers).filter(([name]) => name.startsWith('x-fz')).sort()),
      length: body.length,
      // How the body came: with its length, or in chunks (a stream).
      framing: req.headers['transfer-encoding'] ?? (req.headers['content-length'] === undefined ? 'none' : 'length'),
      body: sentText.replaceAll(new RegExp(boundary, 'g'), 'B').slice(0, 200),
    };
    const bodies: Record<string, [type: string, body: string | Buffer]> = {
      json: ['application/json', JSON.stringify(echo)],
      text: ['text/plain; charset=utf-8', `${echo.method} ${echo.length} ${echo.body}`],
      bin: ['application/octet-stream', Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
      xml: ['application/xml', `<answer method="${echo.method}" length="${echo.length}"/>`],
      html: ['text/html', `<html><body><p>${echo.method}</p></body></html>`],
      empty: ['text/plain', ''],
    };
    const [type, content] = bodies[query.get('t') ?? 'json'] ?? bodies.json;
    res.writeHead(Number(query.get('s') ?? 200), { ...noStore, 'Content-Type': type, 'X-Fz': query.get('id') ?? '' });
    const buffer = Buffer.from(content);
    // An answer without a body (to HEAD, 204, 304) ends at its headers for the browser, which then sends
    // its next request on the same connection: that one must not wait behind a body that never ends.
    const bodiless = req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
    if (hang === 'body' && !bodiless) {
      res.write(buffer.subarray(0, 1));
      return;
    }
    if (!query.has('slow') || buffer.length < 3) {
      res.end(buffer);
      return;
    }
    const third = Math.ceil(buffer.length / 3);
    res.write(buffer.subarray(0, third));
    // A body that arrives in parts (time is the scenario); the answer is the same however it is cut.
    setTimeout(() => res.write(buffer.subarray(third, 2 * third)), 20);
    setTimeout(() => res.end(buffer.subarray(2 * third)), 40);
  };

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // the client went away while sending
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/fz') return answer(url, req, res, Buffer.concat(chunks));
    if (url.pathname === '/moesif.min.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(sdkScript);
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end(); // not a 404 on the console
      return;
    }
    const html = pages[url.pathname];
    if (html) res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(html);
    else res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
  });
  return listenLocally(server);
}
