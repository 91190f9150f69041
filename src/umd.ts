/**
 * The <script> tag build: `moesif` becomes a global. When the async loader snippet from the README
 * ran first, `window.moesif` is its stub holding the calls made so far (`_q`): they are replayed
 * here, in order, on the real instance that replaces the stub.
 */
import { createCapture } from './capture/index.js';
import { createMoesif, type Moesif } from './moesif.js';
import { attempt } from './storage/store.js';

type QueuedCall = [name: string, args: unknown[]];
type Global = { moesif?: Partial<Moesif> & { _q?: QueuedCall[] } };

const existing = attempt(() => (window as Window & Global).moesif);
// A page that loads the script a second time (its template and a tag manager, say) keeps the instance
// it has: a new one would take the global and hold every later call for an init() that never comes.
// Only usertrail's has getStats; moesif-browser-js's and the loader's stub are replaced.
const moesif: Moesif = existing && typeof existing.getStats == 'function' && !existing._q ? (existing as Moesif) : createMoesif(createCapture);
// The stub's calls name the methods as strings; Moesif has no index signature, hence the cast. The
// methods are closures (no `this`); a name that is none of them is skipped by `?.`.
const methods = moesif as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>;
try {
  if (moesif != existing) for (const [name, args] of existing?._q ?? []) methods[name]?.(...args);
} catch {
  /* a malformed stub: nothing (more) to replay */
}

// require('usertrail') is this file (dist/moesif.cjs) where "require" is the export condition, in Jest's
// CommonJS mode above all: an app's `import { createMoesif } from 'usertrail'` (README's "npm" set-up),
// compiled to a require() by babel-jest or ts-jest, reads it from here, as it reads `init` and the other
// named exports from the instance's methods. The global gets it too. A reused instance (the script
// loaded twice) got it when the first copy ran.
if (moesif != existing) (moesif as Moesif & { createMoesif?: typeof createMoesif }).createMoesif = createMoesif;

export default moesif;
