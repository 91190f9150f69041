// @ts-check
// `npm run typecheck`: tsc on each place's tsconfig.json (see tsconfig.base.json), as many at a time as
// the machine has cores. They are independent programs, each a single-threaded tsc of its own, so run
// one after another they left a core idle; each one's output is printed whole once it ends, and the
// script fails if any of them does.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';

// The longest first (test/ and e2e/, about 10 s each here), so that the short ones fill the gaps.
const PROJECTS = ['test', 'e2e', 'demo', 'src/server', 'src', 'bench', 'scripts', '.'];
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/** Runs tsc on one project: whether it passed. @param {string} project @returns {Promise<boolean>} */
function check(project) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [tsc, '-p', project], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code) => {
      if (output) process.stdout.write(`tsc -p ${project}:\n${output}`);
      resolve(code === 0);
    });
  });
}

const waiting = [...PROJECTS];
const runner = async () => {
  let ok = true;
  for (let project = waiting.shift(); project !== undefined; project = waiting.shift()) ok = (await check(project)) && ok;
  return ok;
};
const results = await Promise.all(Array.from({ length: Math.min(availableParallelism(), PROJECTS.length) }, runner));
if (results.includes(false)) process.exit(1);
