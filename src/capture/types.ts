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

/**
 * A call that is captured (see `want` in index.ts): its URL as the app gave it, and the document's base
 * URL when it was made, which capture resolves into the absolute URL later, off the call path.
 */
export type Target = [url: string, base: string];

/**
 * Ends a call, on the app's call path, so it only keeps what it is given for later: status 0 and
 * `error` when it failed; `headers` normalized (see headerRecord), or a function that gives them when
 * capture reads them (XMLHttpRequest's: see xhr.ts); `body` as for `Begin`, or a function that gives it
 * when capture reads it (a response's: see fetch.ts and xhr.ts); `tooBig` when the body was left out for its
 * Content-Length.
 */
export type End = (
  status: number,
  headers: Iterable<[string, string]> | (() => Iterable<[string, string]>),
  body: unknown,
  error?: string,
  tooBig?: boolean,
) => void;

/**
 * Starts one call once it is sent, if it is wanted and capture is still on: its Target, method,
 * headers as the app gave them (with `namesAsWritten`, XMLHttpRequest's setRequestHeader pairs, whose
 * names are recorded as the app wrote them: the call's own list, read when the event is built, so that
 * headers set once send() began, by a wrapper of send() inside capture's, are recorded too: Sentry's
 * sentry-trace and baggage when Sentry.init() ran before start()), and its body (a value the app no longer owns, kept as it
 * is, or a Request, copied at once, before fetch reads it). Gives back its End, or nothing.
 */
export type Begin = (target: Target | undefined, method: string, headers: HeadersInit | undefined, body: unknown, namesAsWritten?: boolean) => End | undefined;

/** What the fetch and XMLHttpRequest patches need of the pipeline they feed (see index.ts). */
export interface PatchDeps {
  /** Whether a call to `url` is captured, decided when it is opened. */
  want: (url: string | URL) => Target | undefined;
  begin: Begin;
}
