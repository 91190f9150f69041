import type { Log } from '../log';
import type { ResolvedOptions } from '../options';
import type { Attribution, CapturedEvent } from '../wire';

/** What capture needs from the instance: its options, its console, and where finished events go. */
export interface CaptureDeps {
  options: ResolvedOptions;
  log: Log;
  /** The user, company and session (or anonymous visitor) a call that ends now belongs to. */
  who(): Attribution;
  /**
   * Takes one finished API call, after the user's hooks ran (skip, maskContent, getMetadata, getTags,
   * api version), and queues it for /v1/events/batch.
   */
  record(event: CapturedEvent): void;
}

export interface Capture {
  /** Begins capturing fetch and XMLHttpRequest calls. Idempotent. */
  start(): void;
  /** Ends capturing and restores what was patched, leaving any later wrapper in place. Idempotent. */
  stop(): void;
}

export type CaptureFactory = (deps: CaptureDeps) => Capture;

/** A captured body, as the event's request or response carries it. */
export type Body = Pick<CapturedEvent['response'], 'body' | 'transfer_encoding'>;

