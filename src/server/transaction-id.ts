/** The X-Moesif-Transaction-Id that ties an event to the call a client or gateway can name. */
import { randomUUID } from 'node:crypto';

/** moesif-nodejs's header name, lower-cased as it sets it (lib/index.js, TRANSACTION_ID_HEADER). */
export const TRANSACTION_ID_HEADER = 'x-moesif-transaction-id';

/**
 * The longest id taken from a client, as our reference collector takes ids: a longer one would have
 * the event refused. moesif-nodejs takes any; a longer one is replaced by a fresh id here.
 */
export const MAX_TRANSACTION_ID_LENGTH = 512;

/** The client's transaction id (`given`, its X-Moesif-Transaction-Id) when it is one we take, else a new UUID. */
export const takenTransactionId = (given: string | null): string =>
  given && given.length <= MAX_TRANSACTION_ID_LENGTH ? given : randomUUID();
