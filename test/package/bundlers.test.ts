// @vitest-environment node
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, relative, resolve, sep } from 'node:path';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { build as esbuild, type BuildOptions } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { rollup } from 'rollup';
import { build as viteBuild, createServer as viteServer, type Logger, type Rolldown } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';
import { waitFor } from '../server/helpers';
import { startRecorder } from '../support/recorder';
import { packConsumer, ROOT, type PackedConsumer } from './packed';

/**
 * The ES module package as single-page apps ship it: the README's "npm (single-page apps)" examples,
 * as written but for `host`, are small apps of a consumer project that has the tarball (`npm pack`)
 * as node_modules/usertrail (./packed.ts); Vite (a plain `vite build` of index.html and main.js),
 * esbuild and rollup (with node-resolve for the browser) bundle them as a user's build would; each
 * bundle is served on 127.0.0.1 by a recording collector and runs in Debian's Chromium. What reaches
 * the collector, what the console says and what each bundle is made of are the assertions. Apps that
 * require() the package (moesif-browser-js's README form), alone or next to an import of it, are built
 * by the bundlers that read CommonJS as set up here (esbuild, Vite).
 * (e2e/compat-docs.spec.ts runs the same examples from dist/ through an import map, and
 * test/size.test.ts weighs them.)
 */

// any: the collector's items are JSON as the SDK sent it; the assertions read the fields they name.
type Item = Record<string, any>;
type Kind = 'actions' | 'users' | 'events';

/** The one edit to the examples: the collector, in moesif's `host` form (`host:port`, following the page's scheme). */
const WITH_HOST = "applicationId: 'YOUR_APPLICATION_ID', host: '127.0.0.1:' + location.port";
/** The page every app has; Vite builds its own from it, the others get it next to their bundle. */
const INDEX_HTML = '<!doctype html><html><head><title>app</title><link rel="icon" href="data:,"></head><body><script type="module" src="/main.js"></script></body></html>';

/** The README's code block that contains `line`, with `applicationId` pointed at the collector. */
function readmeBlock(readme: string, line: string): string {
  const block = readme.split('```').find((part) => part.includes(line));
  if (!block) throw new Error(`the README has no block with ${line}`);
  return withHost(block.replace(/^\w*\n/, ''));
}

function withHost(code: string): string {
  const pointed = code.replace(/applicationId: ["']YOUR_APPLICATION_ID["']|applicationId: "Your Moesif Application Id"/, WITH_HOST);
  if (pointed === code && code.includes('.init(')) throw new Error(`no applicationId to point at the collector in:\n${code}`);
  return pointed;
}

/**
 * After the README's lines (init, track), what the default instance offers beyond them: capture of
 * the app's own calls, a fetch answered before identifyUser() (the anonymous visitor's: a call is
 * whoever's it is when its answer comes) and an XMLHttpRequest after it (the user's).
 */
const CAPTURE_AND_IDENTIFY = `
moesif.start();
fetch('/api/echo?by=fetch').then(() => {
  moesif.identifyUser('12345');
  const xhr = new XMLHttpRequest();
  xhr.open('POST', '/api/echo?by=xhr');
  xhr.send('hello');
});
`;

/** The apps, by name: their files (main.js is the entry). */
function apps(): Record<AppName, Record<string, string>> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const quickStart = readmeBlock(readme, "import moesif from 'usertrail';");
  const namedImport = /\/\/ or: (import \{[^}]+\} from 'usertrail')/.exec(quickStart)?.[1];
  if (!namedImport) throw new Error("the README's quick start names no `// or: import { ... } from 'usertrail'`");
  const ownInstance = readmeBlock(readme, "import { createMoesif } from 'usertrail';");
  const withoutCapture = ownInstance.replace(/^import \{ createCapture \} from 'usertrail\/capture';.*\n/m, '').replace('createMoesif(createCapture)', 'createMoesif()');
  if (withoutCapture.includes('createCapture')) throw new Error(`the README's own-instance block changed:\n${ownInstance}`);
  const useOwnInstance = (rest: string) => `import { moesif } from './analytics.js';
moesif.init({ ${WITH_HOST} });
moesif.track('Clicked Sign Up', { button: 'hero' });${rest}`;
  return {
    // import moesif from 'usertrail': the README's lines, then capture and identifyUser.
    defaultInstance: { 'main.js': quickStart + CAPTURE_AND_IDENTIFY },
    // The README's other form: the named exports, bound to the default instance.
    namedExports: {
      'main.js': `${namedImport};
init({ ${WITH_HOST} });
track('Clicked Sign Up', { button: 'hero' });
identifyUser('12345');
`,
    },
    // An instance without capture: the README's block without its usertrail/capture line.
    ownInstance: { 'analytics.js': withoutCapture, 'main.js': useOwnInstance("\nmoesif.identifyUser('12345');\n") },
    // The README's block as written: an instance with capture from usertrail/capture.
    ownInstanceWithCapture: { 'analytics.js': ownInstance, 'main.js': useOwnInstance(CAPTURE_AND_IDENTIFY) },
    // A module that imports the package for nothing ("importing it does nothing by itself").
    bareImport: { 'main.js': "import 'usertrail';\ndocument.body.dataset.app = 'ran';\n" },
    // A module that imports init alone: init must still bring the whole default instance (delivery, storage).
    initOnly: { 'main.js': `import { init } from 'usertrail';\ninit({ ${WITH_HOST}, trackPageViews: true });\n` },
  };
}

const APP_NAMES = ['defaultInstance', 'namedExports', 'ownInstance', 'ownInstanceWithCapture', 'bareImport', 'initOnly'] as const;
type AppName = (typeof APP_NAMES)[number];

/** A bundle as the browser gets it. */
interface Built {
  /** The folder served: index.html and the JavaScript it loads. */
  dir: string;
  /** All the JavaScript of the bundle. */
  code: string;
  /** Absolute paths of the modules the bundler put in it. */
  modules: string[];
  /** What the bundler warned about. */
  warnings: string[];
}

interface Bundler {
  name: string;
  /** Whether it bundles CommonJS modules (require()) as set up here: rollup would need @rollup/plugin-commonjs, which this project does not install. */
  readsCommonJs: boolean;
  build(app: string): Promise<Built>;
}

/** A Vite logger that keeps what Vite warns about (Vite's own progress lines are left out). */
function viteLogger(warnings: string[]): Logger {
  return {
    hasWarned: false,
    info: () => undefined,
    warn: (message) => void warnings.push(message),
    warnOnce: (message) => void warnings.push(message),
    error: (message) => void warnings.push(`error: ${message}`),
    clearScreen: () => undefined,
    hasErrorLogged: () => false,
  };
}

/** Each bundler with the settings a user's project would have. */
const BUNDLERS: Bundler[] = [
  {
    name: 'Vite (vite build, default config)',
    readsCommonJs: true,
    async build(app) {
      const warnings: string[] = [];
      writeFileSync(join(app, 'index.html'), INDEX_HTML);
      const result = await viteBuild({ root: app, logLevel: 'warn', customLogger: viteLogger(warnings) });
      const chunks = (Array.isArray(result) ? result : [result as Rolldown.RolldownOutput]).flatMap(({ output }) => output).filter((file) => file.type === 'chunk');
      return {
        dir: join(app, 'dist'),
        code: chunks.map((chunk) => chunk.code).join('\n'),
        modules: chunks.flatMap((chunk) => chunk.moduleIds).filter((id) => !id.startsWith('\0')),
        warnings,
      };
    },
  },
  {
    name: "esbuild (bundle, platform 'browser', format 'esm', minify)",
    readsCommonJs: true,
    build: (app) => esbuildApp(app, { format: 'esm' }),
  },
  {
    name: 'rollup (@rollup/plugin-node-resolve with browser: true)',
    readsCommonJs: false,
    async build(app) {
      const warnings: string[] = [];
      const bundle = await rollup({ input: join(app, 'main.js'), plugins: [nodeResolve({ browser: true })], onwarn: (warning) => void warnings.push(warning.message) });
      const { output } = await bundle.write({ dir: join(app, 'dist'), format: 'es' });
      await bundle.close();
      writeFileSync(join(app, 'dist/index.html'), INDEX_HTML);
      const chunks = output.filter((file) => file.type === 'chunk');
      return { dir: join(app, 'dist'), code: chunks.map((chunk) => chunk.code).join('\n'), modules: chunks.flatMap((chunk) => chunk.moduleIds), warnings };
    },
  },
];

async function esbuildApp(app: string, options: Pick<BuildOptions, 'format'>): Promise<Built> {
  const outdir = join(app, 'dist');
  const { metafile, warnings } = await esbuild({
    entryPoints: [join(app, 'main.js')],
    bundle: true,
    platform: 'browser',
    minify: true,
    outdir,
    absWorkingDir: app,
    metafile: true,
    logLevel: 'silent',
    ...options,
  });
  writeFileSync(join(outdir, 'index.html'), INDEX_HTML);
  return {
    dir: outdir,
    code: readFileSync(join(outdir, 'main.js'), 'utf8'),
    modules: Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs).map((input) => resolve(app, input))),
    warnings: warnings.map((warning) => warning.text),
  };
}

let packed: PackedConsumer;
let browser: Browser;

beforeAll(async () => {
  [packed, browser] = await Promise.all([packConsumer(), chromium.launch({ executablePath: chromiumPath, args: chromiumArgs })]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  packed?.remove();
});

/** Writes `files` as a new app folder of the consumer project. */
function writeApp(name: string, files: Record<string, string>): string {
  const app = join(packed.consumer, name);
  mkdirSync(app, { recursive: true });
  for (const [file, code] of Object.entries(files)) writeFileSync(join(app, file), code);
  return app;
}

const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript' };

interface Run {
  actions: Item[];
  users: Item[];
  events: Item[];
  /** Uncaught errors, console errors and warnings, in order. */
  console: string[];
  /** Calls to the app's own API (/api/echo) the server answered. */
  apiCalls: string[];
  /** What `probe` (an expression) gave in the page once the items arrived. */
  probed?: unknown;
}

/** A server of the app's own (Vite's dev server), given the collector's address to pass /v1/ and /api/ on to. */
type AppServer = (collectorUrl: string) => Promise<{ url: string; close(): Promise<void> }>;

/**
 * Serves the app (`dir`, served by a recording collector on 127.0.0.1, or an AppServer in front of the
 * collector: either way the app's `host` is the page's own port), opens it in a new browser context,
 * and returns what arrived once `expected` items of each kind have (or as soon as the page logged an
 * error or warning).
 */
async function runApp(app: string | AppServer, expected: Partial<Record<Kind, number>>, probe?: string): Promise<Run> {
  const dir = typeof app == 'string' ? app : undefined;
  const apiCalls: string[] = [];
  const route = async (url: URL, req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (url.pathname === '/api/echo') {
      req.resume();
      apiCalls.push(`${req.method} ${url.pathname}${url.search}`);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ok: true }));
      return true;
    }
    const file = dir ? normalize(join(dir, url.pathname === '/' ? 'index.html' : url.pathname)) : '';
    const content = dir && file.startsWith(dir + sep) ? await readFile(file).catch(() => undefined) : undefined;
    if (content) res.writeHead(200, { 'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }).end(content);
    else res.writeHead(404).end('not found');
    return true;
  };
  const collector = await startRecorder({ route });
  const server = typeof app == 'string' ? undefined : await app(collector.url).catch(async (error: unknown) => {
    await collector.close();
    throw error;
  });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const messages: string[] = [];
    page.on('pageerror', (error) => messages.push(`uncaught ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') messages.push(`${message.type()} ${message.text()}`);
    });
    const items = () => ({ actions: collector.items('actions'), users: collector.items('users'), events: collector.items('events') });
    await page.goto(`${server?.url ?? collector.url}/`);
    const counts = () => Object.fromEntries(Object.entries(items()).map(([kind, arrived]) => [kind, arrived.length]));
    await waitFor(() => messages.length > 0 || Object.entries(expected).every(([kind, count]) => counts()[kind]! >= count), 15_000).catch(() => {
      throw new Error(`waited for ${JSON.stringify(expected)}, got ${JSON.stringify(counts())}`);
    });
    const probed: unknown = probe === undefined ? undefined : await page.evaluate(probe);
    return { ...items(), console: messages, apiCalls, probed };
  } finally {
    await context.close();
    await server?.close();
    await collector.close();
  }
}

/** Markers of capture's code: names only capture's modules use, kept by every minifier (strings). */
const CAPTURE_MARKERS = ['setRequestHeader', 'event-stream'];
/** A string of the SDK's core: the application id header every delivery sends. */
const CORE_MARKER = 'X-Moesif-Application-Id';

/** Which of `markers` the bundle contains (a list, so that a failure names them rather than print the bundle). */
const found = (code: string, markers: string[]): string[] => markers.filter((marker) => code.includes(marker));
/** Imports of Node's crypto, as a bundle would keep them from a dependency's Node build: it would fail in the browser. */
const nodeCrypto = (code: string): string[] => code.match(/["'](node:)?crypto["']/g) ?? [];

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('the markers this file reads bundles by are where it assumes, in the package as packed', () => {
  it("capture's markers are in the module usertrail/capture re-exports, and not in usertrail.mjs", () => {
    const dist = join(packed.consumer, 'node_modules/usertrail/dist');
    const captureChunk = /from '\.\/([^']+)'/.exec(readFileSync(join(dist, 'capture.mjs'), 'utf8'))?.[1];
    expect(captureChunk).toMatch(/\.mjs$/);
    const chunk = readFileSync(join(dist, captureChunk!), 'utf8');
    const core = readFileSync(join(dist, 'usertrail.mjs'), 'utf8');
    expect(found(chunk, CAPTURE_MARKERS), captureChunk).toEqual(CAPTURE_MARKERS);
    expect(found(core, CAPTURE_MARKERS), 'usertrail.mjs').toEqual([]);
    expect(found(chunk + core, [CORE_MARKER])).toEqual([CORE_MARKER]);
  });
});

/** What esbuild says of `import 'usertrail'` alone: the import is dropped, as the package's sideEffects allows. */
const DROPPED_IMPORT = /^Ignoring this import because ".*usertrail\/dist\/usertrail\.mjs" was marked as having no side effects$/;

/** A call the page made, as its captured event tells it. */
function callOf(event: Item): { call: string; status: number; user_id: string | undefined; anonymous_id: string | undefined } {
  const uri = new URL(event.request.uri);
  return { call: `${event.request.verb} ${uri.pathname}${uri.search}`, status: event.response.status, user_id: event.user_id, anonymous_id: event.anonymous_id };
}

/** The visitor tracked 'Clicked Sign Up' anonymously, then was identified as 12345: one anonymous id throughout, made by uuid in the browser. */
function expectOneVisitor(run: Run): string {
  expect(run.actions).toEqual([expect.objectContaining({ action_name: 'Clicked Sign Up', metadata: { button: 'hero' }, anonymous_id: expect.stringMatching(uuidV4) })]);
  const anonymousId = run.actions[0]!.anonymous_id as string;
  expect(run.users).toEqual([expect.objectContaining({ user_id: '12345', anonymous_id: anonymousId })]);
  return anonymousId;
}

/** Also captured: the fetch made before identifyUser() as the anonymous visitor's, the XMLHttpRequest after it as the user's. */
function expectCapturedCalls(run: Run): void {
  const anonymousId = expectOneVisitor(run);
  expect(run.apiCalls.sort()).toEqual(['GET /api/echo?by=fetch', 'POST /api/echo?by=xhr']);
  expect(run.events.map(callOf).sort((a, b) => a.call.localeCompare(b.call))).toEqual([
    { call: 'GET /api/echo?by=fetch', status: 200, user_id: undefined, anonymous_id: anonymousId },
    { call: 'POST /api/echo?by=xhr', status: 200, user_id: '12345', anonymous_id: undefined },
  ]);
}

describe.each(BUNDLERS)('$name, from the packed tarball', (bundler) => {
  const built = {} as Record<AppName, Built>;

  beforeAll(async () => {
    const sources = apps();
    const folder = bundler.name.split(' ')[0]!.toLowerCase();
    for (const name of APP_NAMES) built[name] = await bundler.build(writeApp(`${folder}/${name}`, sources[name]));
  }, 60_000);

  it("builds every app without a warning, from the package's ES modules, with the browser builds of uuid and js-cookie", () => {
    for (const name of APP_NAMES) {
      const { modules, code, warnings } = built[name];
      expect(warnings.filter((warning) => !(name === 'bareImport' && DROPPED_IMPORT.test(warning))), name).toEqual([]);
      expect(nodeCrypto(code), name).toEqual([]);
      expect(modules.filter((id) => /[\\/]dist-node[\\/]|[\\/]moesif\.(cjs|min\.js)$/.test(id)), name).toEqual([]);
      if (name === 'bareImport') continue;
      expect(modules, name).toContain(join(packed.consumer, 'node_modules/usertrail/dist/usertrail.mjs'));
      expect(modules, name).toEqual(
        expect.arrayContaining([expect.stringMatching(/[\\/]uuid[\\/]dist[\\/]v4\.js$/), expect.stringMatching(/[\\/]js-cookie[\\/]dist[\\/]js\.cookie\.mjs$/)]),
      );
    }
  });

  it('tree-shaking: createMoesif() without usertrail/capture ships none of capture; the default instance and createCapture do', () => {
    expect(found(built.ownInstance.code, CAPTURE_MARKERS), 'createMoesif()').toEqual([]);
    expect(found(built.defaultInstance.code, CAPTURE_MARKERS), 'the default instance').toEqual(CAPTURE_MARKERS);
    expect(found(built.ownInstanceWithCapture.code, CAPTURE_MARKERS), 'createMoesif(createCapture)').toEqual(CAPTURE_MARKERS);
    expect(found(built.ownInstance.code, [CORE_MARKER]), 'createMoesif()').toEqual([CORE_MARKER]);
  });

  it.concurrent("import moesif from 'usertrail' (the README's lines, then start(), a fetch, identifyUser and an XMLHttpRequest): all of it reaches the collector", async () => {
    const run = await runApp(built.defaultInstance.dir, { actions: 1, users: 1, events: 2 });
    expect(run.console).toEqual([]);
    expectCapturedCalls(run);
  });

  it.concurrent("import { init, track, identifyUser } from 'usertrail' (the README's other form): the named exports drive the default instance", async () => {
    const run = await runApp(built.namedExports.dir, { actions: 1, users: 1 });
    expect(run.console).toEqual([]);
    expectOneVisitor(run);
  });

  it.concurrent('createMoesif() without usertrail/capture: the instance delivers', async () => {
    const run = await runApp(built.ownInstance.dir, { actions: 1, users: 1 });
    expect(run.console).toEqual([]);
    expectOneVisitor(run);
  });

  it.concurrent("createMoesif(createCapture) with usertrail/capture, the README's block as written: the instance captures", async () => {
    const run = await runApp(built.ownInstanceWithCapture.dir, { actions: 1, users: 1, events: 2 });
    expect(run.console).toEqual([]);
    expectCapturedCalls(run);
  });

  it.concurrent("import 'usertrail' alone: the app runs, and the bundler left the SDK out (sideEffects: importing does nothing)", async () => {
    expect(found(built.bareImport.code, [CORE_MARKER, ...CAPTURE_MARKERS])).toEqual([]);
    const run = await runApp(built.bareImport.dir, {}, 'document.body.dataset.app');
    expect(run).toMatchObject({ probed: 'ran', console: [] });
  });

  it.concurrent("import { init } alone, with trackPageViews: init brings the whole default instance, and the page view is delivered", async () => {
    const run = await runApp(built.initOnly.dir, { actions: 1 });
    expect(run.console).toEqual([]);
    expect(run.actions).toEqual([expect.objectContaining({ action_name: 'Page View', anonymous_id: expect.stringMatching(uuidV4) })]);
  });
});

/**
 * One app, both forms: main.js imports the package and calls init(); a CommonJS module of the same app
 * requires it as moesif-browser-js's README writes it, and tracks and identifies. With moesif-browser-js
 * both forms are one file; here both must reach one instance, which only one copy of the SDK can give.
 */
const MIXED_APP = {
  'main.js': `import moesif from 'usertrail';
import { signUp } from './sign-up.js';

moesif.init({ ${WITH_HOST} });
signUp();
`,
  'sign-up.js': `const moesif = require('usertrail');

exports.signUp = () => {
  moesif.track('Clicked Sign Up', { button: 'hero' });
  moesif.identifyUser('12345');
};
`,
};

describe.each(BUNDLERS.filter((bundler) => bundler.readsCommonJs))("$name: import in one module, require('usertrail') in another", (bundler) => {
  let built: Built;

  beforeAll(async () => {
    built = await bundler.build(writeApp(`${bundler.name.split(' ')[0]!.toLowerCase()}/mixed`, MIXED_APP));
  }, 60_000);

  it('bundles one copy of the SDK, the ES module (not dist/moesif.cjs), without a warning', () => {
    expect(built.warnings).toEqual([]);
    // usertrail.mjs and the chunk it shares with usertrail/capture: the package's ES modules, and nothing else of it.
    const dist = join(packed.consumer, 'node_modules/usertrail/dist');
    const fromPackage = built.modules.filter((id) => id.startsWith(dist + sep)).map((id) => relative(dist, id));
    expect(fromPackage.sort()).toEqual([expect.stringMatching(/^index-[\w-]+\.mjs$/), 'usertrail.mjs']);
  });

  it('init() through the import, track() and identifyUser() through the require: all of it arrives, as one visitor', async () => {
    const run = await runApp(built.dir, { actions: 1, users: 1 });
    expect(run.console).toEqual([]);
    expectOneVisitor(run);
  });
});

/**
 * One app, both forms, with capture: main.js imports createMoesif from the package; a CommonJS module of
 * the same app requires usertrail/capture and passes createCapture on. Capture is a chunk of the ES
 * modules, shared with usertrail.mjs (which the default instance needs): requiring it must give that
 * chunk, not dist/capture.cjs, a second copy of capture (and of the core modules it uses).
 */
const MIXED_CAPTURE_APP = {
  'main.js': `import { createMoesif } from 'usertrail';
import { createCapture } from './capture.js';

const moesif = createMoesif(createCapture);
moesif.init({ ${WITH_HOST} });
moesif.track('Clicked Sign Up', { button: 'hero' });
${CAPTURE_AND_IDENTIFY}`,
  'capture.js': `const { createCapture } = require('usertrail/capture');

exports.createCapture = createCapture;
`,
};

describe.each(BUNDLERS.filter((bundler) => bundler.readsCommonJs))("$name: import 'usertrail' in one module, require('usertrail/capture') in another", (bundler) => {
  let built: Built;

  beforeAll(async () => {
    built = await bundler.build(writeApp(`${bundler.name.split(' ')[0]!.toLowerCase()}/mixed-capture`, MIXED_CAPTURE_APP));
  }, 60_000);

  it('bundles one copy of capture, from the ES modules (not dist/capture.cjs), without a warning', () => {
    expect(built.warnings).toEqual([]);
    const dist = join(packed.consumer, 'node_modules/usertrail/dist');
    const fromPackage = built.modules.filter((id) => id.startsWith(dist + sep)).map((id) => relative(dist, id));
    expect(fromPackage.sort()).toEqual(['capture.mjs', expect.stringMatching(/^index-[\w-]+\.mjs$/), 'usertrail.mjs']);
    // A string only capture's code holds, once.
    expect(built.code.split('event-stream')).toHaveLength(2);
  });

  it('the instance made by the import captures with what the require gave: every call and item arrives', async () => {
    const run = await runApp(built.dir, { actions: 1, users: 1, events: 2 });
    expect(run.console).toEqual([]);
    expectCapturedCalls(run);
  });
});

describe("Vite's dev server (`vite`), where its dependency optimizer pre-bundles the package for the browser", () => {
  it("import moesif from 'usertrail', with start(), identifyUser, a fetch and an XMLHttpRequest: all of it reaches the collector (through the dev server's proxy)", async () => {
    const root = writeApp('vite-dev/defaultInstance', { ...apps().defaultInstance, 'index.html': INDEX_HTML });
    const warnings: string[] = [];
    let optimized: string[] = [];
    // The proxy stands for an app's own back end in development, the collector here.
    const devServer: AppServer = async (collectorUrl) => {
      const server = await viteServer({ root, customLogger: viteLogger(warnings), server: { host: '127.0.0.1', port: 0, proxy: { '/v1': collectorUrl, '/api': collectorUrl } } });
      await server.listen();
      return {
        url: server.resolvedUrls!.local[0]!.replace(/\/$/, ''),
        async close() {
          optimized = Object.keys(server.environments.client.depsOptimizer?.metadata.optimized ?? {});
          await server.close();
        },
      };
    };
    const run = await runApp(devServer, { actions: 1, users: 1, events: 2 });
    expect(run.console).toEqual([]);
    expectCapturedCalls(run);
    expect(warnings).toEqual([]);
    expect(optimized).toContain('usertrail');
  });
});

describe("esbuild, CommonJS: require('usertrail') as moesif-browser-js's README writes it", () => {
  const built = {} as Record<'readme' | 'secondInstance', Built>;

  beforeAll(async () => {
    const readme = readFileSync(join(ROOT, 'node_modules/moesif-browser-js/README.md'), 'utf8');
    const example = readmeBlock(readme, 'var moesif = require("moesif-browser-js");').replace('require("moesif-browser-js")', 'require("usertrail")');
    // moesif.new() through the same require(), the default instance left alone; and every member of an
    // instance, by the second one's keys, as a function of what require() gave.
    const secondInstance = `var moesif = require("usertrail");
var second = moesif.new();
second.init({ ${WITH_HOST} });
second.track("second_instance");
window.probe = {
  defaultAnonymousId: moesif.getAnonymousId() || null,
  secondAnonymousId: second.getAnonymousId(),
  missing: Object.keys(second).filter(function (name) { return typeof moesif[name] !== "function"; }),
};
`;
    built.readme = await esbuildApp(writeApp('esbuild/require', { 'main.js': example }), { format: 'iife' });
    built.secondInstance = await esbuildApp(writeApp('esbuild/require-new', { 'main.js': secondInstance }), { format: 'iife' });
  }, 60_000);

  it('bundles the ES module (the "module" condition comes before "require"), with the browser builds of uuid and js-cookie, without a warning', () => {
    const { warnings, modules, code } = built.readme;
    expect(warnings).toEqual([]);
    expect(modules).toContain(join(packed.consumer, 'node_modules/usertrail/dist/usertrail.mjs'));
    expect(modules.filter((id) => /[\\/]dist-node[\\/]|[\\/]moesif\.(cjs|min\.js)$/.test(id))).toEqual([]);
    expect(modules).toEqual(
      expect.arrayContaining([expect.stringMatching(/[\\/]uuid[\\/]dist[\\/]v4\.js$/), expect.stringMatching(/[\\/]js-cookie[\\/]dist[\\/]js\.cookie\.mjs$/)]),
    );
    expect(nodeCrypto(code)).toEqual([]);
  });

  it('init, identifyUser and track reach the collector, and moesif is no global (as that README says of require)', async () => {
    const run = await runApp(built.readme.dir, { actions: 1, users: 1 }, 'typeof window.moesif');
    expect(run.console).toEqual([]);
    expect(run.users).toEqual([expect.objectContaining({ user_id: '12345', anonymous_id: expect.stringMatching(uuidV4) })]);
    expect(run.actions).toEqual([expect.objectContaining({ action_name: 'clicked_sign_up', metadata: { button_label: 'Get Started' }, user_id: '12345' })]);
    expect(run.probed).toBe('undefined');
  });

  it('moesif.new() gives a second instance that delivers on its own, and require() gives every method an instance has', async () => {
    expect(built.secondInstance.warnings).toEqual([]);
    const run = await runApp(built.secondInstance.dir, { actions: 1 }, 'window.probe');
    expect(run.console).toEqual([]);
    expect(run.actions).toEqual([expect.objectContaining({ action_name: 'second_instance', anonymous_id: expect.stringMatching(uuidV4) })]);
    expect(run.probed).toEqual({ defaultAnonymousId: null, secondAnonymousId: run.actions[0]!.anonymous_id, missing: [] });
  });
});
