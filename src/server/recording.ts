/** What recording a call needs, and where its finished event goes. */
import { errorName, type Log } from './log.js';
import type { ResolvedOptions } from './options.js';
import type { MoesifEvent } from './types.js';

/**
 * What recording a call needs, one per middleware, for incoming and outgoing calls alike: the
 * options (the app's hooks among them), the log, and where a finished event goes.
 */
export interface Recording {
  options: ResolvedOptions;
  log: Log;
  /** Receives each finished event, already serialized. */
  onEvent(json: string): void;
  /** Tracks the async part (hooks may return promises) so flush() can wait for it. */
  track(work: Promise<void>): void;
}

/**
 * Hands an event being built (its hooks may be async) to the outbox as JSON once it is ready, and
 * tells the middleware's flush() to wait for it. An event that cannot be built or serialized is
 * dropped with one warning; a skipped call (undefined) is not an event.
 */
export function handOn(recording: Pick<Recording, 'track' | 'onEvent' | 'log'>, built: Promise<MoesifEvent | undefined>): void {
  recording.track(
    built
      .then((event) => {
        if (!event) return;
        let json: string;
        try {
          json = JSON.stringify(event);
        } catch (error) {
          // A cyclic value from getMetadata or maskContent: drop this event rather than a whole batch.
          recording.log.warnOnce('serialize', `an event could not be serialized (${errorName(error)}); dropped`);
          return;
        }
        recording.onEvent(json);
      })
      .catch((error: unknown) => recording.log.warnOnce('build', `an event could not be built (${errorName(error)}); dropped`)),
  );
}
