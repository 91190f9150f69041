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

/** A captured body, as the event carries it; `cut` when it was longer than `maxBodyBytes`. */
export interface Body {
  body?: unknown;
  transfer_encoding?: 'base64';
  cut?: boolean;
}

/** The request and response of an event, before bodies are added. */
export type RequestPart = Omit<CapturedEvent['request'], 'body' | 'transfer_encoding'>;
export type ResponsePart = Omit<CapturedEvent['response'], 'body' | 'transfer_encoding'>;

/** What the fetch and XMLHttpRequest patches share with the pipeline in index.ts. Internal. */
export interface Tap {
  /** True while capture is started. */
  on(): boolean;
  /** Whether a call to this absolute URL is captured now: started, sampled in, http(s), not the collector. */
  want(uri: string): boolean;
  /** Reads a body the app no longer owns (a string, Blob, clone...), capped at `maxBodyBytes`. Never rejects. */
  read(source: unknown): Promise<Body>;
  /** One finished call: waits for its bodies, runs the hooks, records the event. Never throws. */
  done(request: RequestPart, requestBody: Promise<Body>, response: ResponsePart, responseBody?: Promise<Body>, error?: unknown): void;
}

/** Turns a patch on or off. */
export type { Toggle } from '../patch';

/** Now, as Moesif's event times are written. */
export const time = (): string => new Date().toISOString();
