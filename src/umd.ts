/**
 * The <script> tag build: `moesif` becomes a global. When the async loader snippet from the README
 * ran first, `window.moesif` is its stub holding the calls made so far (`_q`): they are replayed
 * here, in order, on the real instance that replaces the stub.
 */
import { createCapture } from './capture/index.js';
import { createMoesif } from './moesif.js';

type QueuedCall = [name: string, args: unknown[]];
type WithStub = { moesif?: { _q?: QueuedCall[] } };

const moesif = createMoesif(createCapture);
try {
  // The methods are closures (no `this`); a name that is not one of them is skipped by `?.`.
  for (const [name, args] of (window as unknown as WithStub).moesif?._q ?? []) (moesif as unknown as Record<string, ((...args: unknown[]) => void) | undefined>)[name]?.(...args);
} catch {
  /* no window (not a browser) or a malformed stub: nothing to replay */
}

export default moesif;
