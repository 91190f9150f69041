// @vitest-environment node
/**
 * moesif-nodejs 3.11's README options, compiled by TypeScript against usertrail/server as against
 * moesif-nodejs, and what usertrail/server says of the options it lacks. A file of its own, apart from
 * compat-docs.test.ts, which runs a second time on Express 4 (vitest.config.ts): nothing here runs an
 * app, and TypeScript reads the same declarations whichever Express vitest gives the tests, so that
 * second run checked nothing new (about 7 s of tsc programs).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterEach, describe, expect, it, vi } from 'vitest';
import usertrail from '../../src/server/index';
import { sharedHost } from '../support/typescript';
import { DEFAULT_APP_ID as APP_ID } from '../../demo/collector/server.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe("TypeScript: moesif-nodejs README's options compile against usertrail/server as against moesif-nodejs", () => {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    esModuleInterop: true,
    types: ['node'],
    typeRoots: [join(process.cwd(), 'node_modules/@types')],
    skipLibCheck: true,
  };
  const hostFor = sharedHost();

  /** Type-checks `code` with 'SDK' standing for the package, and gives back its errors. */
  function typeErrors(code: string, sdk: string): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'usertrail-docs-'));
    const file = join(dir, 'app.ts');
    writeFileSync(file, code.replaceAll('SDK', sdk));
    const program = ts.createProgram([file], options, hostFor(options, dir));
    return ts
      .getPreEmitDiagnostics(program)
      .filter((diagnostic) => diagnostic.file?.fileName === file)
      .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, ' '));
  }

  // Every option of the README's "Configuration Options", with its documented type; usertrail/server
  // ignores the ones it does not have, with a warning (see the unknown-option test of middleware.test.ts).
  const APP = `
    import moesif from 'SDK';
    const moesifMiddleware = moesif({
      applicationId: 'YOUR_MOESIF_APPLICATION_ID',
      logBody: true,
      debug: false,
      isNextJsAppRouter: false,
      noAutoHideSensitive: false,
      callback: function (error) {
        if (error) console.error(error);
      },
      disableBatching: false,
      batchSize: 200,
      batchMaxTime: 2000,
      retry: 1,
      requestMaxBodySize: 100000,
      responseMaxBodySize: 100000,
      maxOutgoingTimeout: 30000,
      baseUri: 'https://api.moesif.net',
    });
    moesifMiddleware.startCaptureOutgoing();
  `;

  it('compiles with moesif-nodejs 3.11 (the baseline) and with usertrail/server', () => {
    expect(typeErrors(APP, join(process.cwd(), 'node_modules/moesif-nodejs'))).toEqual([]);
    expect(typeErrors(APP, join(process.cwd(), 'src/server/index'))).toEqual([]);
  });

  it("compiles the README's Koa Support (`app.use(moesif(options))` in a Koa app) with both", () => {
    const koaApp = `
      import Koa from 'koa';
      import moesif from 'SDK';
      const app = new Koa();
      app.use(moesif({
        applicationId: 'YOUR_MOESIF_APPLICATION_ID',
        identifyUser: function (req: any, res: any) {
          if (req.state && req.state.user) {
            return req.state.user.sub;
          }
          return undefined;
        },
      }));
    `;
    expect(typeErrors(koaApp, join(process.cwd(), 'node_modules/moesif-nodejs'))).toEqual([]);
    expect(typeErrors(koaApp, join(process.cwd(), 'src/server/index'))).toEqual([]);
  });

  it('compiles hooks typed as moesif-nodejs types them: skip returning undefined, metadata and maskContent as any object', () => {
    const hooks = `
      import moesif from 'SDK';
      interface TraceMetadata { traceId: string; tenant: string }
      const traceOf = (req: any): TraceMetadata => ({ traceId: String(req.headers['x-trace-id']), tenant: 't1' });
      moesif({
        applicationId: 'YOUR_MOESIF_APPLICATION_ID',
        // moesif-nodejs: (req, res) => boolean | undefined | null | any
        skip: function (req: any, res: any) {
          if (req.path === '/' || req.path === '/health') return true;
          return undefined;
        },
        // moesif-nodejs: (req, res) => object | undefined | null
        getMetadata: (req: any) => traceOf(req),
        // moesif-nodejs: (eventModel: object) => object
        maskContent: (event: object): object => ({ ...event }),
      });
    `;
    expect(typeErrors(hooks, join(process.cwd(), 'node_modules/moesif-nodejs'))).toEqual([]);
    expect(typeErrors(hooks, join(process.cwd(), 'src/server/index'))).toEqual([]);
  });

  it('compiles options typed with the namespace of the default import (moesif.MoesifOptions), as moesif-nodejs declares it', () => {
    const typedOptions = `
      import moesif from 'SDK';
      const options: moesif.MoesifOptions = { applicationId: 'YOUR_MOESIF_APPLICATION_ID', logBody: true };
      moesif(options);
    `;
    expect(typeErrors(typedOptions, join(process.cwd(), 'node_modules/moesif-nodejs'))).toEqual([]);
    expect(typeErrors(typedOptions, join(process.cwd(), 'src/server/index'))).toEqual([]);
  });

  it("says of each moesif-nodejs option it lacks that it is not supported, not that it is unknown (the README's outgoing and Next.js options are taken)", () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    usertrail({ applicationId: APP_ID, noAutoHideSensitive: false, disableBatching: false, retry: 1, maxOutgoingTimeout: 30000, isNextJsAppRouter: false, outgoingPatch: true });
    const messages = warn.mock.calls.map(([message]) => String(message));
    expect(messages).toHaveLength(3);
    expect(messages.join('\n')).not.toMatch(/maxOutgoingTimeout|outgoingPatch|isNextJsAppRouter/);
    for (const message of messages) expect(message).toMatch(/is not supported by usertrail\/server: ignored$/);
  });
});
