import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

/**
 * The package as a new user gets it: `npm pack` of the repository (after `npm run build`), extracted
 * as node_modules/usertrail of a consumer project in a temporary folder outside the repository, so
 * that nothing resolves to the sources by accident. The consumer's other packages (the package's
 * dependencies, and any `alsoLink`) are links to the repository's node_modules: no network.
 */
export interface PackedConsumer {
  /** The temporary folder holding the tarball and the consumer; `remove()` deletes it. */
  workDir: string;
  /** The tarball `npm pack` made. */
  tarball: string;
  /** The consumer project: package.json and node_modules/usertrail, its dependencies linked. */
  consumer: string;
  /** Link a package of the repository's node_modules into `nodeModules` (a consumer's), under `as`. */
  link(nodeModules: string, name: string, as?: string): void;
  remove(): void;
}

export const ROOT = process.cwd();
export const run = promisify(execFile);
/** The consumer files the package tests type-check or run. */
export const FIXTURES = join(ROOT, 'test/package/fixtures');

/**
 * The node_modules of a fixture project that has its own package.json and lockfile (packages that
 * must not be the repository's devDependencies: other TypeScript compilers, a test runner with its own
 * globals), installed by the first run with `npm ci` into node_modules/.cache/ under a hash of the
 * lockfile: later runs, and a CI run after its first, reuse them.
 */
export async function installLockedProject(project: string): Promise<string> {
  const lockfile = readFileSync(join(project, 'package-lock.json'));
  const key = createHash('sha256').update(lockfile).digest('hex').slice(0, 16);
  const installed = join(ROOT, 'node_modules/.cache', `usertrail-${basename(project)}`, key);
  if (!existsSync(installed)) {
    // Installed beside it and renamed at the end, so that a folder under its final name is complete:
    // an install that was killed leaves its staging folder (named by its process id), never a half
    // install that later runs would take for done.
    const staging = `${installed}.${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(project, file), join(staging, file));
    await run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: staging });
    try {
      renameSync(staging, installed);
    } catch (error) {
      // Another run installed the same lockfile meanwhile: use its install.
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(installed)) throw error;
    }
  }
  return join(installed, 'node_modules');
}

/**
 * `file:line TScode` of every line of these fixtures marked `// error TScode`: the errors a check of
 * them must report, and the only ones (were the package's types lost, `any`, these lines would compile).
 */
export function markedErrors(files: string[]): string[] {
  return files.flatMap((file) =>
    readFileSync(join(FIXTURES, file), 'utf8')
      .split('\n')
      .flatMap((text, index) => {
        const marked = /\/\/ error (TS\d+)$/.exec(text);
        return marked ? [`${file}:${index + 1} ${marked[1]}`] : [];
      }),
  );
}

export async function packConsumer({ alsoLink = [] }: { alsoLink?: string[] } = {}): Promise<PackedConsumer> {
  if (!existsSync(join(ROOT, 'dist/server.cjs'))) throw new Error('dist/server.cjs is missing: run `npm run build` first');
  const workDir = mkdtempSync(join(tmpdir(), 'usertrail-package-'));
  const link = (nodeModules: string, name: string, as = name): void => {
    const path = join(nodeModules, as);
    mkdirSync(join(path, '..'), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', name), path, 'dir');
  };
  try {
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', workDir], { cwd: ROOT });
    const tarball = join(workDir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename);
    const consumer = join(workDir, 'consumer');
    const installed = join(consumer, 'node_modules/usertrail');
    mkdirSync(installed, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'usertrail-consumer', private: true }));
    const { dependencies = {} } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const name of [...Object.keys(dependencies), ...alsoLink]) link(join(consumer, 'node_modules'), name);
    return { workDir, tarball, consumer, link, remove: () => rmSync(workDir, { recursive: true, force: true }) };
  } catch (error) {
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
}
