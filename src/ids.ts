import { v4 } from 'uuid';

/** How many ids one call into the browser for random bytes serves. */
const IDS_PER_DRAW = 16;
let randomPool = new Uint8Array(0);
let poolUsed = 0;

/**
 * The next 16 random bytes for an id, drawn from crypto.getRandomValues IDS_PER_DRAW ids at a time.
 * `uuid` calls crypto.randomUUID for each id, and each call into the browser for random bytes cost a
 * captured call about 5 µs of main-thread time (issue 18); taking 256 bytes costs about as much as 16.
 * It also works where randomUUID is missing, which needs a secure context (plain-http pages in local
 * development).
 */
function randomBytes(): Uint8Array {
  if (poolUsed == randomPool.length) {
    randomPool = crypto.getRandomValues(new Uint8Array(16 * IDS_PER_DRAW));
    poolUsed = 0;
  }
  poolUsed += 16;
  return randomPool.subarray(poolUsed - 16, poolUsed);
}

/** A random RFC 9562 version 4 UUID, made by `uuid`, for every id the SDK makes (anonymous ids, transaction ids, outbox keys). */
export const newId = (): string => v4({ rng: randomBytes });

/**
 * An id given by the app, as a string, or undefined when it is not a usable id:
 * empty, whitespace, 'undefined' / 'null' (what String(undefined) and stale storage produce),
 * or anything other than a string or a finite number.
 */
export function cleanId(value: unknown): string | undefined {
  const text = Number.isFinite(value) || typeof value == 'string' ? String(value).trim() : '';
  return text && text != 'undefined' && text != 'null' ? text : undefined;
}

/**
 * Whether a stored anonymous id may be used: at most 200 characters, each printable ASCII other than a
 * space. Every id an SDK wrote fits, with room: usertrail's are v4 UUIDs; moesif-browser-js's (1.7 to
 * 1.10, `_.UUID()` in its src/utils.js) are hex numbers joined by dashes, about 50 characters, and
 * 1.10 adopts an id from a link only under 200 hex characters and dashes (isValidAnonymousId in its
 * src/anonymousId.js). The rule is looser than that one so that ids an app wrote itself, in its own
 * format, are kept too. What fails it (kilobytes of text, control or invisible characters) no SDK
 * made: it was put there by hand or by another script, and would otherwise go with every event.
 */
export const isPlausibleAnonymousId = (id: string): boolean => /^[!-~]{1,200}$/.test(id);
