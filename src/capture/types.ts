import type { Log } from '../log.js';
import type { ResolvedOptions } from '../options.js';
import type { Attribution, CapturedEvent } from '../wire.js';

/** What the capture of one instance needs of it. */
export interface CaptureDeps {
  options: ResolvedOptions;
  /** The instance's console. */
  log: Log;
  /** The user, company and session, or anonymous visitor, a call that ends now belongs to. */
  who: () => Attribution;
  /**
   * Takes one finished API call, after the user's hooks ran (skip, maskContent, getMetadata, getTags,
   * api version), and queues it for /v1/events/batch.
   */
  record: (event: CapturedEvent) => void;
}

/** Makes the capture of one instance. */
export type CaptureFactory = (deps: CaptureDeps) => Capture;

export interface Capture {
  /** Begins capturing fetch and XMLHttpRequest calls. Idempotent. */
  start(): void;
  /** Ends capturing and restores what was patched, leaving any later wrapper in place. Idempotent. */
  stop(): void;
  /** Stops, records what calls under way left waiting, and removes the page listeners (the instance is disposed). */
  dispose(): void;
}

/** A captured body, as the event's request or response carries it. */
export type Body = Pick<CapturedEvent['response'], 'body' | 'transfer_encoding'>;

