import { patch, type Toggle } from '../patch.js';
import { copyBody, isCopy, stopAt, type Copy } from './body.js';
import type { End, PatchDeps } from './types.js';

/** What capture reads a response's body from: the text the app read (a promise of it until it arrives), or a copy. */
type BodySource = Copy | Promise<string> | string;

/** A captured response's body, as capture watches it. */
interface Watched {
  /** What capture reads of it (see `bodies`). */
  source?: BodySource;
  /** The body the app is shown once capture copied it (see `follow`): the same stream each time it asks. */
  shown?: ReadableStream<Uint8Array>;
  /** The reader of the browser's own body that `shown` reads through, taken when the app first reads (or locks) it. */
  reader?: ReadableStreamDefaultReader<Uint8Array<ArrayBuffer>>;
}

/** Streams the app reads as they arrive: logged without a body, and not copied. */
const STREAMING = /event-stream|ndjson/i;

export interface FetchPatchDeps extends PatchDeps {
  /** Bodies over this many bytes by their Content-Length are neither copied nor watched. */
  maxBodyBytes: number;
}

/**
 * fetch: the original is called with the caller's exact arguments, and the app gets back a promise
 * settled as the one it returns (see the patch). A Request's body is read from a copy (see copyBody:
 * the Request itself goes to fetch unread, unlike moesif, which fails with "already used"); a body in
 * `init` is a value the app handed over, kept as it is (a stream is left alone: see readBody). A
 * response's body is what the app reads of it, or a copy (see `bodies`). A response body that will
 * not be recorded is neither copied nor watched: one the app reads as it arrives (server-sent events,
 * NDJSON), or one over maxBodyBytes by its Content-Length.
 *
 * A copy shares the connection with the app's body: the browser closes it only when both are done or
 * cancelled. So the app's `response.body` is the app's own branch seen through `follow`, which cancels
 * capture's copy when the app cancels its body (reader.cancel(), a `for await` that breaks, a cancelled
 * pipe) unless it reads a clone of it (see `cloned`); and a copy still streaming after BODY_WAIT_MS is
 * let go (see body.ts). Without this, six
 * streams the app stopped reading held all six connections Chromium opens to a host, and the
 * app's next calls there waited until the page closed.
 */
export function patchFetch({ want, begin, maxBodyBytes }: FetchPatchDeps): Toggle[] {
  /**
   * The bodies of captured responses, by response, and what capture reads of each (`source`). Copying a
   * body (a tee) and reading the copy cost a captured fetch about 60 µs of main-thread CPU (issue 18),
   * so most bodies are not copied: when the app reads one with text() or json(), capture keeps the text it
   * read (a promise, then the text). Before any other read of the app's (arrayBuffer(), blob(),
   * formData(), bytes(), `body`), or in capture's deferred work if the app has read nothing by then, a
   * copy is taken.
   */
  const bodies = new WeakMap<Response, Watched>();
  /** What capture reads of a response's body: what it has, or else a copy taken now (none once the app used the body otherwise). */
  const sourceOf = (response: Response): BodySource | undefined => {
    const body = bodies.get(response);
    // `== null`, not falsy: the empty text the app read is a read too.
    if (body && body.source == null) body.source = copyBody(response, cloneResponse);
    if (body) lockAsShown(response, body);
    return body?.source;
  };
  /** The browser's own `body` getter (see the patch of `body`). */
  let bodyOf: Function;
  /**
   * The app locked the body capture shows it (see `follow`: a reader it has not read from yet), and the
   * browser's own body behind it is still unlocked: it is locked now, with the reader `follow` reads
   * through, so that a read or clone() of the response fails as it does without capture ("body stream
   * is locked") instead of taking the body from the app's reader.
   */
  const lockAsShown = (response: Response, body: Watched): void => {
    if (!body.shown?.locked || body.reader) return;
    // Unlocked unless the browser reads it (a text() of the app's before it asked for the body): then left as it is.
    const own: ReadableStream<Uint8Array<ArrayBuffer>> = bodyOf.call(response);
    if (!own.locked) body.reader = own.getReader();
  };
  /**
   * The `clone()` that was in place when capture put its own there, which capture copies with: its copy
   * is not the app's clone (see `cloned`), and an app's own wrapper of clone() sees only the app's.
   */
  let cloneResponse: Function = Response.prototype.clone;
  /**
   * Captured responses the app cloned. A clone shares the connection, which stays open while the app
   * reads the clone, so cancelling the original's body does not let capture's copy go: ky's
   * `onDownloadProgress` reads a clone and cancels the original, and the body it reads there is recorded.
   * (A copy the app leaves unread is let go after BODY_WAIT_MS all the same.)
   */
  const cloned = new WeakSet<Response>();
  /**
   * Hands capture's work what it reads of a response's body. The text the app read is not kept with the
   * response after that: it may be large, and the app may keep the response. A copy stays known, so
   * that the app's cancelling its body still lets the copy go (see `follow`).
   */
  const takeBody = (response: Response): BodySource | undefined => {
    const source = sourceOf(response);
    if (!isCopy(source)) bodies.delete(response);
    return source;
  };
  /**
   * The `text()` that was in place when capture put its own there: its read is the app's and capture's
   * both. When another copy of the SDK wrapped it first, its read goes through that copy's wrapper,
   * so that both record the body the app reads once.
   */
  let readText: Function = Response.prototype.text;
  /**
   * Reads a captured response's text for the app (text() or json(): `as` makes the app's value of the
   * text), and keeps it for capture, or gives back nothing when capture does not want it. One reaction
   * serves both, and the app gets the promise it makes: a failed read the app leaves unhandled is
   * still reported as without capture.
   */
  const shareText = <T>(response: Response, as: (text: string) => T): Promise<T> | undefined => {
    const body = bodies.get(response);
    if (!body) return;
    // Read already (if only an empty text ''), or copied: the browser's own text() reads, or fails as the
    // browser words it (a second read; a body the app locked, once it is locked behind too).
    if (body.source != null) return void lockAsShown(response, body);
    const read: Promise<string> = readText.call(response);
    body.source = read;
    return read.then((text) => {
      body.source = text;
      return as(text);
    });
  };
  /** The body a response shows the app when capture copied it (see `shown`), reading the browser's `body` through `watched.reader`. */
  const follow = (response: Response, body: ReadableStream<Uint8Array<ArrayBuffer>>, copy: Copy, watched: Watched): ReadableStream<Uint8Array> => {
    /** The bytes the app got: what the copy keeps when the app cancels (see stopAt). */
    let delivered = 0;
    // A byte stream, as the original is, so that a BYOB reader works on it too; pulled only when the
    // app reads, so that until then the original stays unread and response.text() still works.
    return new ReadableStream({
      type: 'bytes',
      async pull(controller) {
        const { done, value } = await (watched.reader ??= body.getReader()).read();
        if (done) {
          controller.close();
          controller.byobRequest?.respond(0);
        } else if (value.byteLength) {
          // Counted before enqueue(), which transfers the buffer (its byteLength becomes 0).
          delivered += value.byteLength;
          controller.enqueue(value);
        }
      },
      cancel(reason) {
        if (!cloned.has(response)) stopAt(copy, delivered);
        return (watched.reader || body).cancel(reason);
      },
    });
  };
  const responses = Response.prototype;
  return [
    patch(
      responses,
      'body',
      (original) => {
        bodyOf = original;
        return function (this: Response) {
          const copy = sourceOf(this);
          const body = original.call(this);
          if (!isCopy(copy) || !body) return body;
          // A copy's source stays in `bodies` (see takeBody), and with it what the app is shown.
          const watched = bodies.get(this) as Watched;
          return (watched.shown ??= follow(this, body, copy, watched));
        };
      },
      'getter',
    ),
    patch(responses, 'clone', (original) => {
      cloneResponse = original;
      return function (this: Response) {
        const body = bodies.get(this);
        if (body) {
          cloned.add(this);
          lockAsShown(this, body);
        }
        return original.apply(this, arguments);
      };
    }),
    patch(responses, 'text', (original) => {
      readText = original;
      return function (this: Response) {
        return shareText(this, (text) => text) ?? original.apply(this, arguments);
      };
    }),
    // As the browser's json() does: the text, UTF-8 decoded, parsed. Text that is not JSON is left to the
    // browser's json(), so that the app gets the browser's own SyntaxError, reported as the browser
    // reports it: Chromium does not dispatch unhandledrejection for it, as it does for one thrown by
    // JSON.parse. Read from a Blob, as from the network: a Response of a string words the error otherwise.
    patch(responses, 'json', (original) =>
      function (this: Response) {
        const parse = (text: string): unknown => {
          try {
            return JSON.parse(text);
          } catch {
            return original.call(new Response(new Blob([text])));
          }
        };
        return shareText(this, parse) ?? original.apply(this, arguments);
      },
    ),
    ...(['arrayBuffer', 'blob', 'bytes', 'formData'] as const).map((name) =>
      patch(responses, name, (original) =>
        function (this: Response) {
          sourceOf(this);
          return original.apply(this, arguments);
        },
      ),
    ),
    patch(window, 'fetch', (original) =>
      function (this: unknown, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
        let end: End | undefined;
        try {
          const request = input instanceof Request ? input : undefined;
          // As fetch does: `init.headers` replaces the Request's own. A ReadableStream in init.body is the
          // app's: `readBody` leaves it alone.
          end = begin(want(request?.url ?? (input as string | URL)), init?.method || request?.method || 'GET', init?.headers || request?.headers, init?.body ?? request);
        } catch {
          // Arguments that fetch itself rejects (bad headers): nothing to capture, and fetch reports them.
        }
        const result: Promise<Response> = original.apply(this, arguments);
        if (!end) return result;
        // The app gets a promise of its own, settled as fetch's is (the same Response, the same error), one
        // microtask later: handling fetch's own promise marks it handled, so a failure nobody handles would
        // not be reported to the page. Our reaction runs first, so the body is watched before the app reads it.
        try {
          return result.then(
            (response) => {
              try {
                const { headers } = response;
                // A missing header is null: `+null` is 0 (not too big), and `test` reads null as "null" (not streaming).
                const tooBig = +(headers.get('content-length') as string) > maxBodyBytes;
                const watched = !tooBig && !STREAMING.test(headers.get('content-type') as string);
                if (watched) bodies.set(response, {});
                end(response.status, headers, watched ? () => takeBody(response) : undefined, /* no error */ undefined, tooBig);
              } catch {
                // A mocked fetch that resolved to no Response: nothing to capture.
              }
              return response;
            },
            (error: unknown) => {
              try {
                end(0, [], null, String(error));
              } catch {
                // A reason that cannot be made a string (an object without toString; a symbol can): nothing to capture.
              }
              throw error;
            },
          );
        } catch {
          // A mocked fetch that answered without a promise: the app gets its answer, as without capture.
          return result;
        }
      },
    ),
  ];
}
