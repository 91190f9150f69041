// @vitest-environment node
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { sharedHost } from './support/typescript';

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
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2020.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
    types: [],
    skipLibCheck: true,
  };
  const hostFor = sharedHost();

  /** Type-checks `code` (which imports usertrail as '../src/index') and gives back its diagnostics. */
  function typeErrors(code: string): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'usertrail-compat-'));
    const file = join(dir, 'app.ts');
    writeFileSync(file, code.replaceAll('USERTRAIL', join(ROOT, 'src/index')));
    const program = ts.createProgram([file], options, hostFor(options, dir));
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

describe("TypeScript: moesif-browser-js's README examples compile against the published types (dist/types)", () => {
  const readmeOptions: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2020.d.ts', 'lib.dom.d.ts'],
    types: [],
  };
  const readmeHostFor = sharedHost();

  /**
   * Each example as its own module, after `import moesif, { type Options } from 'usertrail'` (dist/types, as
   * published) and declarations of the names the examples leave to the app. Two edits, both what a
   * TypeScript app writes: the README's `var options = {...}`, made apart from init(), is typed `Options`
   * (untyped, its hooks' `event` parameters are implicitly any under any SDK's types), and its
   * `var moesif = require(...)` is the import above.
   */
  function typeErrors(examples: string[]): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'usertrail-readme-'));
    const prelude = `import moesif, { type Options } from '${join(ROOT, 'dist/types/index.js')}';
declare let metadata: object; declare let myWeb3: unknown; declare const myWeb3Object: unknown; declare let web3: unknown;
declare const Web3: { new (provider: unknown): unknown; providers: { HttpProvider: new (url: string) => unknown } };
declare const targetURL: string; declare let overrideCDTTargets: boolean; declare const navigation: { navigate(url: string): void };
declare function showConsentBanner(): void; declare function hideConsentBanner(): void;
export {};
`;
    const files = examples.map((example, n) => {
      const file = join(dir, `example-${n}.ts`);
      const typed = example
        .replace('var options = {', 'var options: Options = {')
        .replace('var moesif = require("moesif-browser-js");', '')
        .replace('window.moesif = moesif;', 'Object.assign(window, { moesif });')
        // `web3` is the wallet's global, untyped here: the example reads its provider.
        .replace('new Web3(web3.currentProvider)', 'new Web3((web3 as { currentProvider: unknown }).currentProvider)');
      writeFileSync(file, prelude + typed);
      return file;
    });
    const program = ts.createProgram(files, readmeOptions, readmeHostFor(readmeOptions, dir));
    return ts
      .getPreEmitDiagnostics(program)
      .map((diagnostic) => `${diagnostic.file?.fileName.split('/').pop()}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`);
  }

  it('every JavaScript example of the 1.8.13 README (node_modules/moesif-browser-js) type-checks under strict', () => {
    const readme = readFileSync(join(ROOT, 'node_modules/moesif-browser-js/README.md'), 'utf8');
    const examples = Array.from(readme.matchAll(/```(?:javascript|js)\n([\s\S]*?)```/g), (match) => match[1]!);
    // init, identifyUser, identifyCompany, track, identifySession, reset, start, stop, useWeb3 and the full options example among them.
    expect(examples.length).toBeGreaterThanOrEqual(15);
    expect(typeErrors(examples)).toEqual([]);
  });

  it("the 1.10.2 README's additions (cross-domain tracking, consent) type-check too", () => {
    // 1.10 is not on npm (its source is a git repository): its new examples, as written there but for a type on `url`.
    const examples = [
      `moesif.init({
  applicationId: "Your Publishable Moesif Application Id",
  enableCrossDomainTracking: true,
  crossDomainTargets: null,             // null = decorate all cross-domain links
  // crossDomainTargets: ["site1.com", "site2.com"],  // or restrict to specific domains
  crossDomainTrackingParameterName: '__mt',
});
moesif.init({ applicationId: "Your Publishable Moesif Application Id", enableCrossDomainTracking: true, crossDomainTargets: ["site1.com", "site2.com"] });`,
      `window.location.href = moesif.cdtUrlDecorator('https://console.bijira.dev/signup');
window.location.assign(moesif.cdtUrlDecorator('https://console.bijira.dev/signup'));
window.open(moesif.cdtUrlDecorator('https://console.bijira.dev/signup'));
navigation.navigate(moesif.cdtUrlDecorator('https://console.bijira.dev/signup'));
const url = moesif.cdtUrlDecorator('https://other-domain.com/page', true);
function decorateMoesifCdtUrl(url: string) {
  if (moesif) {
    return moesif.cdtUrlDecorator(url);
  }
  return url;
}`,
      `moesif.init({
  applicationId: 'Your Publishable Moesif Application Id',
  requirePublishingConsent: true,
  maxQueueSize: 1000
});
moesif.start();
moesif.track('viewed_homepage');
moesif.identifyUser('user_123');
moesif.grantPublishingConsent();
moesif.track('clicked_cta');
moesif.revokePublishingConsent();
if (moesif.isPublishingConsentGranted()) {
  console.log('User has granted consent to publish data');
}`,
    ];
    expect(typeErrors(examples)).toEqual([]);
  });
});
