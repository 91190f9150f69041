// @vitest-environment node
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Migration audit: what a site's own build meets when it swaps the package name.
 *
 * moesif-browser-js's README installs it with `var moesif = require("moesif-browser-js")` (its
 * "main" is a CommonJS build), and it ships no types, so TypeScript apps call it untyped. usertrail
 * must resolve from the same require(), and its types must accept the calls such apps make.
 */

const ROOT = process.cwd();

describe('the package as a CommonJS or bundler require() finds it', () => {
  it("require('usertrail') resolves, as require('moesif-browser-js') does", () => {
    // Resolved from inside the package (Node's self-reference by name follows "exports" exactly as
    // from an app's node_modules); moesif's from the same place, for comparison.
    const require = createRequire(join(ROOT, 'package.json'));
    expect(require.resolve('moesif-browser-js')).toMatch(/moesif\.cjs\.js$/);
    let resolved: string;
    try {
      resolved = require.resolve('usertrail');
    } catch (error) {
      resolved = `${(error as { code?: string }).code}: ${(error as Error).message.split('\n')[0]}`;
    }
    expect(resolved).toMatch(/\/dist\/[\w.-]+\.(c?js)$/);
  });
});

describe('TypeScript: calls written for moesif-browser-js compile against usertrail', () => {
  /** Type-checks `code` (which imports usertrail as '../src/index') and gives back its diagnostics. */
  function typeErrors(code: string): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'usertrail-compat-'));
    const file = join(dir, 'app.ts');
    writeFileSync(file, code.replaceAll('USERTRAIL', join(ROOT, 'src/index')));
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2020,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2020.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
      types: [],
      skipLibCheck: true,
    });
    return ts
      .getPreEmitDiagnostics(program)
      .filter((diagnostic) => diagnostic.file?.fileName === file)
      .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, ' '));
  }

  it('metadata typed by an interface (the usual way an app types its user profile) is accepted', () => {
    const errors = typeErrors(`
      import moesif from 'USERTRAIL';
      interface Profile { email: string; plan: string }
      interface Clicked { button: string }
      const profile: Profile = { email: 'a@example.com', plan: 'pro' };
      const clicked: Clicked = { button: 'hero' };
      moesif.identifyUser('u1', profile);
      moesif.identifyCompany('c1', profile, 'acme.com');
      moesif.track('Clicked', clicked);
    `);
    expect(errors).toEqual([]);
  });

  it("moesif's documented options and public methods type-check (eagerBodyLogging, useWeb3, resetAnonymousId, clearCookies, clearStorage)", () => {
    const errors = typeErrors(`
      import moesif from 'USERTRAIL';
      declare const web3: unknown;
      moesif.init({ applicationId: 'app', eagerBodyLogging: true });
      moesif.useWeb3(web3);
      const anonymousId: string | undefined = moesif.resetAnonymousId();
      moesif.clearCookies();
      moesif.clearStorage();
    `);
    expect(errors).toEqual([]);
  });
});
