import type { Log } from '../log.js';
import type { ResolvedOptions } from '../options.js';
import type { Attribution, CapturedEvent } from '../wire.js';

/**
 * Makes the capture of one instance from what it needs of it: its options, its console, `who` (the
 * user, company and session, or anonymous visitor, a call that ends now belongs to) and `record`, which
 * takes one finished API call, after the user's hooks ran (skip, maskContent, getMetadata, getTags, api
 * version), and queues it for /v1/events/batch. Arguments by position, not in an object: the object's
 * property names would be in the bundle twice (25 B gzip).
 */
export type CaptureFactory = (options: ResolvedOptions, log: Log, who: () => Attribution, record: (event: CapturedEvent) => void) => Capture;

/** What a capture factory is given, in order. */
export type CaptureDeps = Parameters<CaptureFactory>;

export interface Capture {
  /** Begins capturing fetch and XMLHttpRequest calls. Idempotent. */
  start(): void;
  /** Ends capturing and restores what was patched, leaving any later wrapper in place. Idempotent. */
  stop(): void;
}

/** A captured body, as the event's request or response carries it. */
export type Body = Pick<CapturedEvent['response'], 'body' | 'transfer_encoding'>;

