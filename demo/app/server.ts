/**
 * The demo web app: a docs area, sign-up and log-in forms, and a logged-in page (pages/, framed by
 * layout.ts), all using the SDK exactly as moesif-browser-js users do (see public/demo.js). It serves the SDK built by
 * `npm run build` at /moesif.min.js and the page config at /config.js. The same pages work
 * whatever host name they are served under (docs.example.test and app.example.test in the browser
 * tests), so links between docs and app are worked out in the page.
 */
import express from 'express';
import { listen, type Listening } from '../listen.js';
import { DEFAULT_APP_ID } from '../collector/config.js';
import { PAGES, renderPage } from './layout.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const DIST_DIR = fileURLToPath(new URL('../../dist/', import.meta.url));

export interface DemoAppOptions {
  /** @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** The collector's base URL, e.g. http://127.0.0.1:8787 */
  collectorUrl: string;
  /** The demo API's base URL; without it log-in explains that the API is missing. */
  apiUrl?: string | undefined;
  /** @default the collector's default application id */
  applicationId?: string;
  /** Origin of the app pages (sign-up, log-in, app) when it differs from the page's own. */
  appOrigin?: string;
  /** Origin of the docs pages when it differs from the page's own. */
  docsOrigin?: string;
}

export async function startDemoApp({ port = 0, host = '127.0.0.1', collectorUrl, apiUrl, applicationId = DEFAULT_APP_ID, appOrigin, docsOrigin }: DemoAppOptions): Promise<Listening> {
  if (!collectorUrl) throw new TypeError('collectorUrl is required');
  const collector = new URL(collectorUrl);
  const pageConfig = {
    applicationId,
    // moesif's `host` option is host[:port] without a scheme, and follows the page's scheme; the
    // demo gives it in that form so the same page works with moesif-browser-js itself.
    collectorHost: collector.host,
    collectorUrl: collector.origin,
    apiUrl: apiUrl ? new URL(apiUrl).origin : null,
    appOrigin: appOrigin ?? null,
    docsOrigin: docsOrigin ?? null,
  };

  const app = express();
  app.disable('x-powered-by');
  // Pages change while developing; never let a browser keep a stale copy.
  app.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  app.get('/config.js', (_req, res) => {
    // JSON is valid JavaScript; `<` is escaped so that no value can close a script element.
    const json = JSON.stringify(pageConfig).replace(/</g, '\\u003c');
    res.type('text/javascript').send(`window.USERTRAIL_DEMO = ${json};\n`);
  });
  for (const file of ['moesif.min.js', 'moesif.min.js.map']) {
    app.get(`/${file}`, (_req, res) => {
      const path = `${DIST_DIR}${file}`;
      if (existsSync(path)) return void res.sendFile(path);
      res.status(404).type('text/javascript').send('console.error("usertrail: dist/moesif.min.js is missing; run npm run build");\n');
    });
  }
  app.get('/', (_req, res) => res.redirect('/docs/'));
  for (const [path, file] of Object.entries(PAGES)) {
    app.get(path, (req, res, next) => {
      // Express matches /docs for /docs/ too; the docs index keeps one address, as a static directory does.
      if (path.endsWith('/') && !req.path.endsWith('/')) return void res.redirect(301, path + req.url.slice(req.path.length));
      void renderPage(file).then((html) => res.type('html').send(html), next);
    });
  }
  // Browsers ask for it on every page; answer quietly instead of logging a 404 in the console.
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());
  app.use(express.static(PUBLIC_DIR));
  app.use((_req, res) => void res.status(404).type('text/plain').send('Not found'));

  return listen(app, { port, host });
}
