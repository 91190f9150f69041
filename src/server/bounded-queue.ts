/**
 * The events waiting to be sent, oldest first, bounded in items and in characters of JSON, and what
 * those bounds drop: the oldest, counted. The memory a middleware holds while the collector is down
 * is what this bounds.
 */
import { charsOf } from './batch.js';
import type { Log } from './log.js';

export interface BoundedQueueDeps {
  /** Most items kept (the maxQueueSize option). */
  maxItems: number;
  /** Most characters of JSON kept: the memory bound when events carry large bodies. */
  maxChars: number;
  /**
   * A smaller form of an item (an event without its bodies), queued in its place, over the character
   * bound, when the item would not fit within maxChars: a burst of large items keeps them all, in
   * part, instead of dropping some whole. Returns undefined when there is none.
   */
  lighten?: (json: string) => string | undefined;
  log: Log;
}

export function createBoundedQueue({ maxItems, maxChars, lighten, log }: BoundedQueueDeps) {
  const items: string[] = [];
  let chars = 0;
  let dropped = 0;
  // Items at the front owed a request at once, however few: those of a full batch that one request
  // could not carry (the byte or count limit), and batches that came back from the collector.
  let dueItems = 0;

  /** Drops the oldest (at the front) while the queue is over its item bound, or, `withinChars`, its character bound. */
  function dropOldest(withinChars: boolean): void {
    let over = Math.max(0, items.length - maxItems);
    let remaining = chars - charsOf(items, over);
    while (withinChars && over < items.length && remaining > maxChars) {
      remaining -= (items[over] as string).length;
      over += 1;
    }
    if (over <= 0) return;
    chars = remaining;
    dueItems = Math.max(0, dueItems - over);
    // One at a time is the steady state of a full queue (each push drops the oldest): shift() is
    // constant time where splice() measured up to 100 µs on a 10,000-item queue.
    if (over === 1) items.shift();
    else items.splice(0, over);
    dropped += over;
    log.debug(`queue over its bound (${maxItems} events or ${maxChars} characters): dropped ${over} oldest, ${dropped} in total`);
  }

  return {
    /** Queues one item (its lighter form when it would not fit), dropping the oldest for it if needed. */
    push(json: string): void {
      const lighter = lighten && chars + json.length > maxChars ? lighten(json) : undefined;
      const item = lighter ?? json;
      items.push(item);
      chars += item.length;
      // A lighter item is let in over the character bound: dropping the oldest for it would lose a
      // whole call to keep a body. The item bound still holds, and bounds what it adds.
      dropOldest(lighter === undefined);
    },

    /** Takes the first `count` items out, for a request. */
    take(count: number): string[] {
      const batch = items.splice(0, count);
      chars -= charsOf(batch, batch.length);
      dueItems = Math.max(0, dueItems - batch.length);
      return batch;
    },

    /**
     * Puts a batch that must be sent again back at the front, where it came from, and due, without
     * dropping anything (see `trim` for a batch that waits for a retry).
     */
    putBack(batch: readonly string[]): void {
      items.unshift(...batch);
      chars += charsOf(batch, batch.length);
      dueItems += batch.length;
    },

    /** Restores both bounds, oldest first (a failed batch came back and will wait for its retry). */
    trim(): void {
      dropOldest(true);
    },

    /** Everything waiting is due (a full batch waits). */
    markAllDue(): void {
      dueItems = items.length;
    },
    /** Items at the front that leave at once, in as many requests as they need. */
    due: (): number => dueItems,

    /** The items waiting, oldest first; read only, to size the next batch. */
    waiting: (): readonly string[] => items,
    length: (): number => items.length,
    /** Items dropped so far. */
    dropped: (): number => dropped,
  };
}

