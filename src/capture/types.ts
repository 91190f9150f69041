import type { Log } from '../log';
import type { ResolvedOptions } from '../options';
import type { CapturedEvent } from '../wire';

/** What capture needs from the instance: its options, its console, and where finished events go. */
export interface CaptureDeps {
  options: ResolvedOptions;
  log: Log;
  /**
   * Takes one finished API call, after the user's hooks ran (skip, maskContent, getMetadata, getTags,
   * api version). The instance adds user, company and session, and queues it for /v1/events/batch.
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

/**
 * What the fetch and XMLHttpRequest patches share with the pipeline in index.ts (internal).
 * `Want`: the absolute URL of a call that is captured now (started, sampled in, http(s), not the
 * collector), or nothing; decided when the call is opened. Never throws.
 */
export type Want = (url: string | URL) => string | false | undefined;

/**
 * Starts one call once it is sent, while capture is on: the request's time, method, headers and
 * body (a value the app no longer owns, or a Request, read from a clone). Gives back its `End`.
 */
export type Begin = (uri: string | false | undefined, method: string, headers: HeadersInit | undefined, body: unknown) => End | undefined;

/**
 * Ends the call: status 0 and `error` when it failed; `headers` normalized (see headerRecord); `body` as for `Begin` (a Response is read
 * from a clone taken at once). Waits for the bodies, runs the hooks, records the event. Never rejects.
 */
export type End = (status: number, headers: Iterable<[string, string]>, body: unknown, error?: string) => Promise<void>;
