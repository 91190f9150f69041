// @vitest-environment node
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken, startRecorder } from '../server/helpers';
import { sharedHost } from '../support/typescript';
import { FIXTURES, markedErrors, packConsumer, ROOT, run, type PackedConsumer } from './packed';

/**
 * The package as a new user gets it (issue 17): `npm pack` once per run (after `npm run build`),
 * then what the ecosystem's own checkers, TypeScript and Node make of the tarball, installed as
 * node_modules/usertrail in a consumer project outside the repository (./packed.ts). What bundlers
 * make of it for the browser is in ./bundlers.test.ts; what the compilers of other TypeScript versions
 * make of its types, in ./typescript-versions.test.ts.
 */

let packed: PackedConsumer;
let tarball: string;
let consumer: string;

beforeAll(async () => {
  packed = await packConsumer({ alsoLink: ['@types/node', 'express'] });
  ({ tarball, consumer } = packed);
}, 60_000);

afterAll(() => packed?.remove());

describe('the ecosystem checkers find no problem in the tarball', () => {
  it('@arethetypeswrong/cli: every entry resolves to types of the right module kind under node10, node16 (ESM and CommonJS) and bundler', async () => {
    // --no-definitely-typed: it would look up @types/usertrail on the registry.
    const attw = join(ROOT, 'node_modules/.bin/attw');
    const { stdout } = await run(attw, [tarball, '--format', 'json', '--no-definitely-typed']).catch((error: { stdout: string }) => error);
    const { analysis } = JSON.parse(stdout) as { analysis: { entrypoints: Record<string, unknown>; problems: unknown[] } };
    expect(Object.keys(analysis.entrypoints)).toEqual(expect.arrayContaining(['.', './capture', './server']));
    expect(analysis.problems).toEqual([]);
  }, 60_000);

  it('publint: exports, types and files agree with what is packed', async () => {
    const { buffer, byteOffset, byteLength } = readFileSync(tarball);
    const { messages, pkg } = await publint({ pack: { tarball: buffer.slice(byteOffset, byteOffset + byteLength) as ArrayBuffer } });
    expect(messages.map((message) => formatMessage(message, pkg, { color: false }))).toEqual([]);
  });
});

describe('TypeScript consumers get the real types (not any) under every resolution mode', () => {
  const sources = ['typed-esm.mts', 'typed-cjs.cts'];

  const modes = [
    { name: 'bundler (ESM and CommonJS files)', module: ts.ModuleKind.Preserve, moduleResolution: ts.ModuleResolutionKind.Bundler, files: sources },
    { name: 'node16 (ESM and CommonJS files)', module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, files: sources },
    { name: 'nodenext (ESM and CommonJS files)', module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, files: sources },
    // "module": "commonjs" alone still means this: no "exports", so "types" and "typesVersions".
    { name: 'node10 (CommonJS file)', module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, files: ['typed-cjs.cts'] },
  ];

  // The lib and @types/node files, parsed once for the programs of every mode.
  const hostFor = sharedHost();

  it.each(modes)('$name: only the deliberate type errors fail, and the package types themselves compile', ({ module, moduleResolution, files }) => {
    for (const file of files) copyFileSync(join(FIXTURES, file), join(consumer, file));
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module,
      moduleResolution,
      esModuleInterop: true,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
      types: ['node'],
      typeRoots: [join(consumer, 'node_modules/@types')],
    };
    const program = ts.createProgram(files.map((file) => join(consumer, file)), options, hostFor(options, consumer));
    // Every file of the consumer is checked, the package's .d.ts/.d.cts included: skipLibCheck (most
    // templates' default) would hide an unresolved import in them, and their types would become any
    // (issue 17). Node's own types and TypeScript's libs are left out, as they cost seconds.
    const checked = program.getSourceFiles().filter((file) => !relative(consumer, file.fileName).startsWith('..'));
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getGlobalDiagnostics(),
      ...checked.flatMap((file) => [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]),
    ];
    const found = diagnostics.map((diagnostic) => {
      const where = diagnostic.file
        ? `${relative(consumer, diagnostic.file.fileName)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}`
        : '(global)';
      return { at: `${where} TS${diagnostic.code}`, message: ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ') };
    });
    const report = found.map(({ at, message }) => `${at}: ${message}`).join('\n');
    expect(found.map(({ at }) => at).sort(), report).toEqual(markedErrors(files).sort());
    // The check covered the package's declarations: for ES modules (.d.ts) and for CommonJS (.d.cts).
    const declarations = files.map((file) => `node_modules/usertrail/dist/types/server/index.${file.endsWith('.mts') ? 'd.ts' : 'd.cts'}`);
    expect(checked.map((file) => relative(consumer, file.fileName))).toEqual(expect.arrayContaining(declarations));
  }, 60_000);
});

describe('CommonJS consumers get values that work (Node, from the tarball)', () => {
  it("require('usertrail/server') is the callable factory, with the ES module's named exports as its properties", async () => {
    const check = join(consumer, 'require-check.cjs');
    writeFileSync(
      check,
      `const server = require('usertrail/server');
      import('usertrail/server').then((esm) => {
        const missing = Object.keys(esm).filter((key) => server[key] !== esm[key] && typeof server[key] !== typeof esm[key]);
        console.log(JSON.stringify({
          server: typeof server,
          esmKeys: Object.keys(esm).sort(),
          missing,
          selfDefault: server.default === server && server.moesifMiddleware === server,
          capture: typeof require('usertrail/capture').createCapture,
          browserSdk: typeof require('usertrail').track,
        }));
      });`,
    );
    const { stdout } = await run(process.execPath, [check], { cwd: consumer });
    const result = JSON.parse(stdout) as { server: string; esmKeys: string[]; missing: string[]; selfDefault: boolean; capture: string; browserSdk: string };
    expect(result).toEqual({
      server: 'function',
      esmKeys: expect.arrayContaining(['default', 'moesifMiddleware', 'backoffDelay', 'normalizeBaseUri']),
      missing: [],
      selfDefault: true,
      capture: 'function',
      browserSdk: 'function',
    });
  });
});

describe("the seed's app (tracking API calls by user) runs from the tarball as a .cjs file", () => {
  /**
   * Runs `fixture` with Node in its own folder of the consumer, whose node_modules/express-jwt and
   * node_modules/express are the repository's `expressJwt` and `express`; sends one call with a signed token and one without; returns the
   * events the middleware delivered to a recording collector on 127.0.0.1.
   */
  async function runSeedApp(fixture: string, expressJwt: string, express: string) {
    const dir = join(consumer, `${fixture.replace(/\.cjs$/, '')}-${express}`);
    mkdirSync(dir);
    packed.link(join(dir, 'node_modules'), expressJwt, 'express-jwt');
    packed.link(join(dir, 'node_modules'), express, 'express');
    copyFileSync(join(FIXTURES, fixture), join(dir, 'app.cjs'));
    const collector = await startRecorder();
    const app = spawn(process.execPath, ['app.cjs'], {
      cwd: dir,
      env: { ...process.env, PORT: '0', MOESIF_BASE_URI: collector.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => app.once('exit', resolve));
    try {
      let stderr = '';
      app.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const port = await new Promise<number>((resolve, reject) => {
        let stdout = '';
        app.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const listening = /listening at http:\/\/localhost:(\d+)/.exec(stdout);
          if (listening) resolve(Number(listening[1]));
        });
        void exited.then((code) => reject(new Error(`the app exited (${code}) before listening:\n${stderr}`)));
      });
      const userId = `user-${process.pid}-${fixture.length}`;
      const token = await signToken({ id: userId });
      const signedIn = await fetch(`http://127.0.0.1:${port}/test`, { headers: { Authorization: `Bearer ${token}` } });
      const anonymous = await fetch(`http://127.0.0.1:${port}/test`);
      const answers = { signedIn: [signedIn.status, await signedIn.text()], anonymous: anonymous.status };
      const events = await collector.waitFor(() => {
        const delivered = collector.events();
        return delivered.length >= 2 && delivered;
      }, 15_000);
      const applicationIds = collector.requests.map((request) => request.headers['x-moesif-application-id']);
      return { userId, answers, events, applicationIds, stderr };
    } finally {
      app.kill();
      await exited;
      await collector.close();
    }
  }

  // Express 4 is what the seed's era and moesif-nodejs's README install; many apps still run it.
  it.each([
    { fixture: 'seed-app-express-jwt-6.cjs', expressJwt: 'express-jwt-6', express: 'express', api: "Express 5, express-jwt 6: jwt({ secret, algorithms }), req.user" },
    { fixture: 'seed-app-express-jwt-8.cjs', expressJwt: 'express-jwt', express: 'express', api: 'Express 5, express-jwt 8: { expressjwt }, req.auth' },
    { fixture: 'seed-app-express-jwt-6.cjs', expressJwt: 'express-jwt-6', express: 'express-4', api: "Express 4, express-jwt 6: jwt({ secret, algorithms }), req.user" },
    { fixture: 'seed-app-express-jwt-8.cjs', expressJwt: 'express-jwt', express: 'express-4', api: 'Express 4, express-jwt 8: { expressjwt }, req.auth' },
  ])('$api: the call is logged under the JWT id', async ({ fixture, expressJwt, express }) => {
    const { userId, answers, events, applicationIds, stderr } = await runSeedApp(fixture, expressJwt, express);
    expect(answers).toEqual({ signedIn: [200, 'this is a response'], anonymous: 401 });
    const byStatus = Object.fromEntries(events.map((event) => [event.response.status, event]));
    expect(byStatus[200]?.request.uri).toMatch(/\/test$/);
    expect(byStatus[200]?.user_id).toBe(userId);
    expect(byStatus[401]?.user_id).toBeUndefined();
    expect(new Set(applicationIds)).toEqual(new Set(['MOESIF_APPLICATION_ID']));
    // No warning or error of the middleware (a refused option, a failed delivery).
    expect(stderr).not.toContain('[usertrail/server]');
  }, 30_000);
});
