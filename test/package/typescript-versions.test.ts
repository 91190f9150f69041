// @vitest-environment node
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, installLockedProject, markedErrors, packConsumer, run, type PackedConsumer } from './packed';

/**
 * The published types under the TypeScript versions users run (December 2026), each with its own
 * compiler, through its command line (TypeScript 7 is a native binary with another JavaScript API):
 *
 * - 5.8.3, the floor: DefinitelyTyped supports the versions released in the last two years, and 5.8
 *   (5.8.2, March 2025) is the oldest of them (5.7.2 is from 22 November 2024). README.md states it.
 *   5.4.5, 5.6.3 and 5.7.3 passed these checks too when tried once (December 2026; 5.4 knows no
 *   noUncheckedSideEffectImports, an option of 5.6); they are not kept here.
 * - 5.9.3, the last 5.x (also the repository's own compiler, which ./published.test.ts runs through its
 *   API under every resolution mode with the same fixtures: here only the setups that test does not have).
 * - 6.0.3, which deprecates moduleResolution node10 (an error unless `"ignoreDeprecations": "6.0"`) and
 *   whose `tsc --init` turns on exactOptionalPropertyTypes and verbatimModuleSyntax.
 * - 7.0.2, the native port, which has no node10 any more (TS5108 "has been removed"). Its messages
 *   differ in places (TS2769 names only the last overload's error), its error codes for the fixtures
 *   do not: the same marked lines are expected of every version.
 *
 * The compilers are the packages of fixtures/typescript-versions/ (npm aliases with a lockfile; in the
 * repository's own devDependencies each alias would claim node_modules/.bin/tsc), installed once by
 * installLockedProject().
 */

/**
 * Compiler options every check shares: every .d.ts file is checked, the package's and @types/node's
 * (skipLibCheck would hide an unresolved import in ours, whose types then become any: see
 * published.test.ts), but not TypeScript's own lib files, which are the compiler's business and took a
 * quarter of each check.
 */
const CHECKED = { strict: true, noEmit: true, skipLibCheck: false, skipDefaultLibCheck: true, types: ['node'] };
/** An app of moesif-browser-js's and moesif-nodejs's kind: the DOM and Node both, default imports of CommonJS. */
const APP = { ...CHECKED, target: 'ES2022', lib: ['ES2022', 'DOM'], esModuleInterop: true };
const BOTH = ['typed-esm.mts', 'typed-cjs.cts'];

interface Setup {
  name: string;
  options: Record<string, unknown>;
  files: string[];
}

const MODES: Record<'bundler' | 'node16' | 'nodenext' | 'node10', Setup> = {
  bundler: { name: 'bundler', options: { ...APP, module: 'preserve', moduleResolution: 'bundler' }, files: BOTH },
  node16: { name: 'node16', options: { ...APP, module: 'node16', moduleResolution: 'node16' }, files: BOTH },
  nodenext: { name: 'nodenext', options: { ...APP, module: 'nodenext', moduleResolution: 'nodenext' }, files: BOTH },
  // "module": "commonjs" alone means this before TypeScript 6: no "exports", so "types" and "typesVersions".
  node10: { name: 'node10', options: { ...APP, module: 'commonjs', moduleResolution: 'node10' }, files: ['typed-cjs.cts'] },
};

/** A server with Node's types and no DOM: the package's server types must not need the DOM's. */
const SERVER_ONLY: Setup = {
  name: 'server only (lib ES2022, no DOM)',
  options: { ...CHECKED, target: 'ES2022', lib: ['ES2022'], module: 'nodenext' },
  files: ['typed-server.mts'],
};

/**
 * The tsconfig.json `tsc --init` writes in TypeScript 6 and 7 (its checking options; no lib, so the
 * target's, DOM included), with Node's types. exactOptionalPropertyTypes: an option given a value that
 * may be undefined (an environment variable) must compile; verbatimModuleSyntax: a CommonJS file has
 * only `import x = require()` (typed-cjs-verbatim.cts).
 */
const INIT_6: Setup = {
  name: "TypeScript 6's tsc --init (exactOptionalPropertyTypes, verbatimModuleSyntax, noUncheckedIndexedAccess)",
  options: {
    ...CHECKED,
    module: 'nodenext',
    target: 'esnext',
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    noUncheckedSideEffectImports: true,
    moduleDetection: 'force',
  },
  files: ['typed-esm.mts', 'typed-cjs-verbatim.cts', 'typed-server.mts'],
};

const COMPILERS: Array<{ version: string; setups: Setup[] }> = [
  { version: '5.8.3', setups: [MODES.bundler, MODES.node16, MODES.nodenext, MODES.node10, SERVER_ONLY, INIT_6] },
  { version: '5.9.3', setups: [SERVER_ONLY, INIT_6] },
  {
    version: '6.0.3',
    setups: [
      MODES.bundler,
      MODES.node16,
      MODES.nodenext,
      // What an app that stays on node10 under TypeScript 6 writes.
      { ...MODES.node10, name: 'node10 (ignoreDeprecations 6.0)', options: { ...MODES.node10.options, ignoreDeprecations: '6.0' } },
      SERVER_ONLY,
      INIT_6,
    ],
  },
  { version: '7.0.2', setups: [MODES.bundler, MODES.node16, MODES.nodenext, SERVER_ONLY, INIT_6] },
];

/** The alias of fixtures/typescript-versions/package.json that installs `version` (`typescript-5.8` for 5.8.3). */
const aliasOf = (version: string) => `typescript-${version.split('.').slice(0, 2).join('.')}`;

/** At most one tsc per core at a time: the JavaScript compilers are single-threaded, and take seconds. */
function limited(slots: number): <T>(task: () => Promise<T>) => Promise<T> {
  const waiting: Array<() => void> = [];
  let free = slots;
  return async (task) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
const oneTscPerCore = limited(availableParallelism());

let compilers: string;
let packed: PackedConsumer;

beforeAll(async () => {
  [compilers, packed] = await Promise.all([installLockedProject(join(FIXTURES, 'typescript-versions')), packConsumer({ alsoLink: ['@types/node'] })]);
  for (const file of new Set(COMPILERS.flatMap(({ setups }) => setups.flatMap(({ files }) => files)))) {
    copyFileSync(join(FIXTURES, file), join(packed.consumer, file));
  }
}, 180_000);

afterAll(() => packed?.remove());

describe.each(COMPILERS)('TypeScript $version', ({ version, setups }) => {
  it(`${version} is the version installed`, () => {
    const { version: installed } = JSON.parse(readFileSync(join(compilers, aliasOf(version), 'package.json'), 'utf8')) as { version: string };
    expect(installed).toBe(version);
  });

  it.concurrent.each(setups)(`${version}, $name: only the deliberate type errors fail, and the package types themselves are checked`, async ({ name, options, files }) => {
    const config = `tsconfig.${version}.${name.replace(/\W+/g, '-')}.json`;
    writeFileSync(join(packed.consumer, config), JSON.stringify({ compilerOptions: options, files }));
    const tsc = join(compilers, aliasOf(version), 'bin/tsc');
    const { stdout } = await oneTscPerCore(() =>
      // tsc exits with 1 or 2 when it reports errors: its output is what is checked.
      run(process.execPath, [tsc, '-p', config, '--pretty', 'false', '--listFiles'], { cwd: packed.consumer }).catch(
        (error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error) }),
      ),
    );
    // --listFiles prints the absolute path of every file of the program; diagnostics name theirs
    // relative to the consumer (`file(line,col): error TSnnnn: message`, the message's details indented).
    const lines = stdout.split('\n').filter((line) => line && !line.startsWith(' '));
    const listed = lines.filter((line) => line.startsWith('/'));
    const found = lines
      .filter((line) => !line.startsWith('/'))
      .map((line) => {
        const at = /^(.+?)\((\d+),\d+\): error (TS\d+):/.exec(line);
        return at ? `${at[1]}:${at[2]} ${at[3]}` : line; // an error of the options, or anything else tsc said
      });
    expect(found.sort(), stdout).toEqual(markedErrors(files).sort());
    // The check covered the package's declarations: for ES modules (.d.ts) and for CommonJS (.d.cts).
    const declarations = files.map((file) => join(packed.consumer, `node_modules/usertrail/dist/types/server/index.${file.endsWith('.cts') ? 'd.cts' : 'd.ts'}`));
    expect(listed).toEqual(expect.arrayContaining(declarations));
  }, 120_000);
});
