import { newId } from '../ids.js';
import type { Log } from '../log.js';
import type { ResolvedOptions } from '../options.js';
import type { ListableStore } from '../storage/store.js';
import type { Kind } from '../wire.js';
import { createSavedQueue, ITEM_BYTES, queuePrefix } from './saved-queue.js';
import { createTimer } from './timer.js';

/**
 * A tab that has not renewed its lease for this long is taken for closed, and its items are adopted. A
 * lease renewed further ahead than this (the clock was set back since) was not renewed since either: a
 * living tab renews its own on the clock as it is now.
 */
const LEASE_MS = 15_000;
const HEARTBEAT_MS = 5_000;
/**
 * An item whose requests went unanswered because their page was gone this many times is not sent
 * again. Pages that close before an answer can come (a visitor clicking through, high latency) would
 * otherwise each send every item the pages before them sent, a number of repeats that grows with the
 * square of the pages. A keepalive request outlives its page, so each of these most likely arrived;
 * what is lost is an item that a collector hanging without an answer missed three pages in a row.
 */
const GIVE_UP_AFTER = 3;
/**
 * How long a change waits before the queue is written. While the collector answers, most items are
 * sent and answered within it, so they are never written at all, and a page making a burst of API
 * calls spends no main-thread time writing them (issue 18). What it risks is the items of the last
 * second when the browser crashes; a page that is hidden, closed or reloaded writes at once.
 */
export const SAVE_DELAY_MS = 1_000;
/**
 * After storage refused a write (full), how long until the queue is tried again, however often it
 * changes meanwhile: each try builds every part and writes until one is refused, and a page offline
 * tried at every change (about once a second while it tracks). Trying at a time, not at the next change,
 * also saves a queue that stopped changing once the app frees space. A closing page tries once more.
 */
const STORAGE_FULL_RETRY_MS = 60_000;

/** One queued item: its JSON, ready to be joined into a batch body without serializing again. */
export interface Item {
  kind: Kind;
  json: string;
  /** When it was queued (ms since epoch). */
  at: number;
  /** UTF-8 size of `json`: what it adds to a request body, and (with ITEM_BYTES) to the outbox's byte limit. */
  bytes: number;
  /** In a request whose answer has not come yet. */
  sending?: boolean;
  /** Requests that carried it and whose page was gone before their answer came. */
  unanswered?: number;
  /** The part of this tab's stored queue that holds it (see saved-queue.ts); given by the outbox. */
  part?: number;
}

/**
 * UTF-8 bytes of `text`: its length when it is all ASCII (most events are), without encoding it. The
 * encoder is made when needed, not when the script loads: the first one a page makes costs it about
 * 0.5 ms (the browser sets up TextEncoder then), which every page load paid.
 */
export const utf8Bytes = (text: string): number => (/[^\0-\x7f]/.test(text) ? new TextEncoder().encode(text).length : text.length);

export interface OutboxDeps {
  /** `applicationId` names the queues; `maxOutboxBytes` (all of the application's tabs together) and `maxOutboxAge` bound them. */
  options: Pick<ResolvedOptions, 'applicationId' | 'maxOutboxBytes' | 'maxOutboxAge'>;
  now: () => number;
  log: Log;
  /** Told of every item dropped, and why. */
  onDrop: (count: number, reason: string) => void;
}

/**
 * This tab's queue, oldest first, and its copy in storage, so that a reload or a crash loses nothing.
 * Each tab writes only its own keys, so tabs never overwrite each other's queues; the queue a closed
 * tab left behind is adopted by the next tab or page load that finds it. Bounded by age and by the
 * bytes that all of the application's tabs store together: the oldest items go first, and every drop
 * is told to `onDrop`. Until `use()` names a store (consent), items are held in memory only.
 */
export function createOutbox({ options, now, log, onDrop }: OutboxDeps) {
  const { applicationId, maxOutboxBytes: maxBytes, maxOutboxAge: maxAge } = options;
  const saved = createSavedQueue({ applicationId, tabId: newId(), log });
  let items: Item[] = [];
  let store: ListableStore | undefined;
  /** The page is gone (or in the back/forward cache): its queue is saved for others to adopt. */
  let closed = false;
  /** When the queue was last written. */
  let savedAt = 0;
  /** After storage refused a write, no write is tried before this time (see STORAGE_FULL_RETRY_MS). */
  let retryFullAt = 0;

  /** Drops the oldest items while the queue is over `limit` bytes or its oldest item is past the age limit. */
  const evict = (limit: number): void => {
    // 20: the brackets, and the lease.
    let total = items.reduce((sum, item) => sum + item.bytes + ITEM_BYTES, 20);
    let dropped = 0;
    while (items[dropped] && (total > limit || items[dropped].at < now() - maxAge)) {
      total -= items[dropped].bytes + ITEM_BYTES;
      dropped++;
      onDrop(1, 'over the outbox limits');
    }
    // At once: one shift() per item moves the whole queue each time.
    saved.markChanged(items.splice(0, dropped));
  };

  /**
   * Drops what is past the age or byte limit (the oldest first), then writes the lease, and the parts
   * of the queue that changed. Renewing the lease every few seconds while items wait tells other tabs
   * this queue still has a living owner. The byte limit is shared by all of the application's tabs, not
   * each tab's: the other queues count against it (as their leases tell), so that tabs left open through
   * a long outage cannot fill the origin's storage and make the app's own writes fail. Each tab may
   * still keep an equal share, which the others make room for at their next write.
   */
  const save = (): void => {
    const keys = store?.keys() ?? [];
    const others = store ? saved.otherQueues(store, keys) : [];
    const othersChars = others.reduce((sum, queue) => sum + queue.chars, 0);
    evict(Math.max(maxBytes - othersChars, maxBytes / (others.length + 1)));
    if (!store) return;
    if (!items.length) return saved.remove(store);
    if (now() < retryFullAt) {
      // A retry "in the future" by more than the wait (the clock was set back since) is due a wait from now.
      retryFullAt = Math.min(retryFullAt, now() + STORAGE_FULL_RETRY_MS);
      if (!closed) saveTimer.runBy(retryFullAt);
      return;
    }
    if (!closed) savedAt = now();
    const written = saved.write(store, items, closed ? 0 : savedAt, keys);
    if (!written) retryFullAt = now() + STORAGE_FULL_RETRY_MS;
    if (!closed) saveTimer.runBy(written ? savedAt + HEARTBEAT_MS : retryFullAt);
  };

  /**
   * Saving is coalesced: a loop of 10,000 track() calls writes storage once, not 10,000 times; the
   * heartbeat and changes share one timer.
   */
  const saveTimer = createTimer(save, now);
  /**
   * After a change: SAVE_DELAY_MS after it, and at least 200 ms plus 1 ms per item after the last write,
   * since each write still goes through the whole queue (to find the changed parts' items) and writes
   * at least one part. A last write "in the future" (the clock was set back since) counts as now, or
   * the write, and the heartbeat it replaces, would wait for the clock.
   */
  const saveSoon = (): void => saveTimer.runBy(Math.max(now() + SAVE_DELAY_MS, Math.min(savedAt, now()) + 200 + items.length));

  /** Takes the queues of tabs that are gone (closed, or silent for longer than the lease); gives back how many items. */
  const takeAbandoned = (): number => {
    const before = items.length;
    // A living tab can look abandoned: one the browser froze, or hidden for minutes, whose timers Chromium
    // runs once a minute, writes its heartbeat too late. It wakes holding the same items, and writes them
    // again, for the next page load to adopt again: each item is taken once (and a repeated identical
    // users or companies call is no loss), or copies would pile up through an outage and crowd out real
    // items at the byte limit. Made when a queue is taken, not on every adoption check (each time the page is shown).
    let queued: Set<string> | undefined;
    for (const queue of store ? saved.otherQueues(store, store.keys()) : []) {
      if (Math.abs(now() - queue.heartbeat) < LEASE_MS) continue;
      queued ??= new Set(items.map((item) => item.json));
      // Its requests died with its page: they are ours to send again. Sizes are counted again, and none
      // is taken for in flight, so that an entry damaged in storage cannot upset the byte limit, nor
      // wait for an answer for ever.
      for (const { json, ...entry } of saved.take(store!, queue, now())) {
        if (queued.has(json)) continue;
        queued.add(json);
        if (entry.unanswered >= GIVE_UP_AFTER) {
          onDrop(1, 'never answered');
          continue;
        }
        const item: Item = { ...entry, json, bytes: utf8Bytes(json) };
        saved.place(item);
        items.push(item);
      }
    }
    if (items.length > before) items.sort((a, b) => a.at - b.at);
    // Whether or not anything was adopted: writing renews our own lease.
    save();
    return items.length - before;
  };

  return {
    /** The queue, oldest first. */
    items: (): Item[] => items,
    /** The page is gone: every write from now on says so (heartbeat 0), for the next page to adopt at once. */
    isClosed: (): boolean => closed,

    add(item: Item): void {
      saved.place(item);
      items.push(item);
      saveSoon();
    },

    /**
     * The collector has them (or refused them for good): forget them. Gives back how many were still
     * queued: the limits may have dropped (and counted) some while their request was under way.
     */
    remove(batch: Item[]): number {
      // A Set: a recovering collector answers batches of up to thousands of items from an outbox of as many more.
      const gone = new Set(batch);
      const before = items.length;
      items = items.filter((item) => !gone.has(item));
      saved.markChanged(batch);
      // A hidden page may not live 200 ms more, and the next page load would send them again.
      if (closed || document.hidden) save();
      else saveSoon();
      return before - items.length;
    },

    /**
     * Replaces `text` with `replacement` in the JSON of every item queued: an id this page made, given
     * its stored value (see Delivery's `replaceHeld`).
     */
    replaceInItems(text: string, replacement: string): void {
      for (const item of items) {
        if (!item.json.includes(text)) continue;
        item.json = item.json.split(text).join(replacement);
        item.bytes = utf8Bytes(item.json);
        saved.markChanged([item]);
      }
    },

    /** Items changed in place (a request took them, or settled): the next write includes them. */
    markChanged: saved.markChanged,

    save,

    /** Starts persisting in `next` (consent granted), beginning with what was held so far. */
    use(next: ListableStore | undefined): void {
      store = next;
      retryFullAt = 0;
      saved.startOver();
      save();
    },

    /**
     * Takes over the queues of tabs that are gone, then calls `adopted` with how many items it took.
     * Under a Web Lock where the browser has them, so two tabs opening at once do not both adopt (and
     * send) the same items; elsewhere the lease keeps living tabs' queues apart. Without a store (before
     * consent, or after it is revoked) nothing is adopted.
     */
    adopt(adopted: (count: number) => void): void {
      const run = (): void => adopted(takeAbandoned());
      const locks = navigator.locks;
      if (!locks) return run();
      // Named like the queues' keys (locks have names of their own): one lock per application and outbox version.
      locks.request(queuePrefix(applicationId), { ifAvailable: true }, (lock) => lock && run()).catch(run);
    },

    /**
     * Forgets everything queued, in memory and in `purged` (consent revoked): every tab's queue and lease,
     * and what earlier visits (and versions) left there; nothing is stored from now on.
     */
    purge(purged: ListableStore | undefined): void {
      items = [];
      for (const key of purged?.keys() ?? []) if (saved.isQueueKey(key)) purged!.remove(key);
      store = undefined;
      saved.forget();
    },

    /** The page is gone (pagehide): the queue is tried once more, even if storage was full, for the next page load. */
    close(): void {
      closed = true;
      retryFullAt = 0;
    },

    /**
     * Back from the back/forward cache. If another page adopted our queue meanwhile, those items are its
     * to send now; otherwise (or if storage never held them: it was full) we own them again.
     */
    reopen(): void {
      closed = false;
      if (store && saved.wasAdopted(store.keys())) items = [];
      save();
    },

    /** Stops the save timer (the engine is disposed). */
    dispose: (): void => saveTimer.cancel(),
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
