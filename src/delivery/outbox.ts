import { newId } from '../ids.js';
import type { Log } from '../log.js';
import type { ResolvedOptions } from '../options.js';
import { attempt, type ListableStore } from '../storage/store.js';
import type { Kind } from '../wire.js';
import { createTimer } from './timer.js';

/** A tab that has not renewed its lease for this long is taken for closed, and its items are adopted. */
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
 * sent and answered within it, so they are never written at all: a page making a burst of API calls
 * wrote its whole queue (about 100 KB) three times per 150 calls, about 10 µs of main-thread time per
 * call (issue 18). What it risks is the items of the last second when the browser crashes; a page
 * that is hidden, closed or reloaded writes at once.
 */
export const SAVE_DELAY_MS = 1_000;
/**
 * Most that a stored item adds to its queue's value besides its event (`{"at":..,"kind":"companies",
 * "unanswered":3,"json":},`): with it, the byte limit bounds what storage really holds.
 */
const ITEM_BYTES = 64;
/**
 * A tab's stored queue is cut into parts of about this many bytes of items, each under a key of its
 * own, so that a write rewrites only the parts that changed. Written whole, a queue at the byte limit
 * offline was rewritten to drop its oldest item and add the newest: 32 KB written per track() call
 * with 10,000 items queued (10 KB with 1,000).
 */
const PART_BYTES = 32_000;
/** The kinds an item may have: the collector's batch endpoints (see wire.ts). */
const KINDS: readonly unknown[] = ['actions', 'events', 'users', 'companies'] satisfies Kind[];

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
  /** The part of this tab's stored queue that holds it (see PART_BYTES); given by the outbox. */
  part?: number;
}

/**
 * What a tab writes under each key of its queue (one per part): the part's items, each event as JSON
 * within the JSON (as a string of JSON, every quote and backslash would be escaped again: 1.3 to 2
 * times the event's bytes), and a request in flight already counted as unanswered (if the page is
 * gone, its answer never comes). A change to these shapes changes the `v4` in the keys, so no reader
 * ever meets another shape.
 */
type SavedItems = Array<(Partial<Omit<Item, 'json'>> & { json?: unknown }) | null>;
/**
 * What a tab writes under its lease key: when it last wrote (0 once its page is gone, or in the
 * back/forward cache, so that the next page load adopts its items at once), and the length of its
 * queue's values. Apart from the queue so that the heartbeat, written every few seconds while items
 * wait, costs a few bytes and not the whole queue (an offline page holding 1 MB of items wrote 12 MB
 * a minute), and so that a tab weighs the others' queues against the byte limit without reading them.
 */
type Lease = [heartbeat: number, chars: number];
/** How a queue was stored before leases (v3, one key): `[heartbeat, items]`, adopted by the same rules. */
type LegacySaved = [heartbeat: number, items: SavedItems];

/**
 * UTF-8 bytes of `text`: its length when it is all ASCII (most events are), without encoding it. The
 * encoder is made when needed, not when the script loads: the first one a page makes costs it about
 * 0.5 ms (the browser sets up TextEncoder then), which every page load paid.
 */
export const utf8Bytes = (text: string): number => (/[^\0-\x7f]/.test(text) ? new TextEncoder().encode(text).length : text.length);

/** `value` as a number, when it is one JSON can hold (not NaN nor infinite) and not 0; else `fallback`. */
const finiteOr = (value: unknown, fallback: number): number => {
  const number = Number(value);
  return Number.isFinite(number) && number ? number : fallback;
};

/**
 * The prefix of every stored queue of an application, whose keys go on with the tab's id and the part's
 * number (`<prefix><tab>:<part>`); also the name of the Web Lock adoption takes.
 */
export const queuePrefix = (applicationId: string): string => `usertrail:v4:outbox:${applicationId}:`;
/** The prefix of the queues' leases, whose keys go on with the tab's id. */
export const leasePrefix = (applicationId: string): string => `usertrail:v4:lease:${applicationId}:`;
/** Queues that an earlier version wrote (see LegacySaved): adopted once their tab is gone, so that an update loses nothing. */
const legacyPrefix = (applicationId: string): string => `usertrail:v3:outbox:${applicationId}:`;

/** An item's entry in a stored queue: a request in flight counts as unanswered already (see Saved). */
const savedItem = (item: Item): string => {
  const unanswered = (item.unanswered ?? 0) + (item.sending ? 1 : 0);
  return `{"at":${item.at},"kind":"${item.kind}","unanswered":${unanswered},"json":${item.json}}`;
};

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
  const prefix = queuePrefix(applicationId);
  const leases = leasePrefix(applicationId);
  const legacy = legacyPrefix(applicationId);
  const tabId = newId();
  /** The prefix of this tab's parts' keys. */
  const ownPrefix = `${prefix}${tabId}:`;
  const ownLease = leases + tabId;
  let items: Item[] = [];
  let store: ListableStore | undefined;
  /** The page is gone (or in the back/forward cache): its queue is saved for others to adopt. */
  let closed = false;
  /** When the queue was last written. */
  let savedAt = 0;
  /** Whether the last write took: if not, storage holds no copy of this tab's queue. */
  let stored = false;
  /** The part new items go to, and the bytes placed in it. */
  let lastPart = 0;
  let lastPartBytes = 0;
  /**
   * The parts changed since they were last written: only they are written again. A heartbeat, or a
   * write when nothing changed (the page hidden, shown, hidden again), renews only the lease.
   */
  const changedParts = new Set<number>();
  /** The length of each part's value as last written: the lease tells the other tabs their sum. */
  const partChars = new Map<number, number>();

  const touch = (item: Item): void => {
    changedParts.add(item.part!);
  };
  /** Gives a new item (pushed, or adopted) its part: the last one, or a new one once the last holds PART_BYTES. */
  const place = (item: Item): void => {
    if (lastPartBytes >= PART_BYTES) {
      lastPart++;
      lastPartBytes = 0;
    }
    item.part = lastPart;
    lastPartBytes += item.bytes + ITEM_BYTES;
    touch(item);
  };

  /**
   * The other tabs' stored queues, from the store's keys: the keys of each tab's parts, by the key that
   * tells whether the tab lives (its lease key; for an earlier version's queue, the queue's own key).
   */
  const otherQueues = (keys: string[]): Map<string, string[]> => {
    const queues = new Map<string, string[]>();
    for (const key of keys) {
      const owner = key.startsWith(legacy) ? key : key.startsWith(prefix) && !key.startsWith(ownPrefix) ? leases + key.slice(prefix.length).split(':')[0] : '';
      if (owner) queues.set(owner, (queues.get(owner) ?? []).concat(key));
    }
    return queues;
  };

  /**
   * A stored queue's lease, by its owner key (see otherQueues): from the lease, or from the queue itself
   * for an earlier version's (read whole, as that version wrote it). Missing or unreadable: [0, 0], a
   * queue whose tab is gone.
   */
  const leaseOf = (owner: string): Lease => {
    const legacyValue = owner.startsWith(legacy) ? store!.get(owner) : undefined;
    const saved: unknown = attempt(() => JSON.parse(legacyValue ?? store!.get(owner)!));
    const [heartbeat, chars] = Array.isArray(saved) ? saved : [];
    return [finiteOr(heartbeat, 0), legacyValue?.length ?? finiteOr(chars, 0)];
  };

  /** Drops the oldest items while the queue is over `limit` bytes or its oldest item is past the age limit. */
  const evict = (limit: number): void => {
    // 20: the brackets, and the lease.
    let total = items.reduce((sum, item) => sum + item.bytes + ITEM_BYTES, 20);
    let dropped = 0;
    while (items[dropped] && (total > limit || items[dropped].at < now() - maxAge)) {
      total -= items[dropped].bytes + ITEM_BYTES;
      touch(items[dropped++]);
      onDrop(1, 'over the outbox limits');
    }
    // At once: one shift() per item moves the whole queue each time.
    items.splice(0, dropped);
  };

  /** Removes this tab's queue and lease from storage. */
  const removeOwn = (): void => {
    for (const key of store!.keys()) if (key.startsWith(ownPrefix)) store!.remove(key);
    store!.remove(ownLease);
    partChars.clear();
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
    const others = otherQueues(keys);
    let othersChars = 0;
    for (const owner of others.keys()) othersChars += leaseOf(owner)[1];
    evict(Math.max(maxBytes - othersChars, maxBytes / (others.size + 1)));
    if (!store) return;
    if (!items.length) return removeOwn();
    // After a failed write (storage full), the next try waits for a change: each try writes the whole
    // queue, and the heartbeat would try every 5 s for as long as the page stays offline.
    if (!stored && !changedParts.size) return;
    // Nothing of it stored (a failed write), or a part gone: a tab that took this one for gone (it was
    // frozen, or hidden long) adopted and removed it. All is written again, for the next page load to
    // adopt if this page goes first (each item is adopted once).
    if (!stored || [...partChars.keys()].some((part) => !keys.includes(ownPrefix + part))) items.forEach(touch);
    if (!closed) savedAt = now();
    // The changed parts' values: a part left without items is removed.
    const entries = new Map<number, string[]>();
    for (const part of changedParts) entries.set(part, []);
    for (const item of items) entries.get(item.part!)?.push(savedItem(item));
    const values = new Map<number, string>();
    for (const [part, list] of entries) {
      const value = list.length ? `[${list.join(',')}]` : '';
      values.set(part, value);
      if (value) partChars.set(part, value.length);
      else partChars.delete(part);
    }
    changedParts.clear();
    let chars = 0;
    for (const length of partChars.values()) chars += length;
    // The lease first: a queue stored without one would be taken for a closed tab's, and adopted.
    stored = !!store.set(ownLease, `[${closed ? 0 : savedAt},${chars}]`);
    for (const [part, value] of values) {
      if (!value) store.remove(ownPrefix + part);
      else if (stored) stored = !!store.set(ownPrefix + part, value);
    }
    if (!stored) {
      // A failed write must not leave an older copy behind, whose delivered items the next page would send again.
      removeOwn();
      log.warn('storage full: queue kept in memory');
    }
    if (!closed) saveTimer.runBy(savedAt + HEARTBEAT_MS);
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
    for (const [owner, parts] of otherQueues(store?.keys() ?? [])) {
      if (now() - leaseOf(owner)[0] < LEASE_MS) continue;
      for (const key of parts) {
        const value = store!.get(key);
        // Removed as it is read, so that no part is adopted twice. Unreadable: removed all the same, as
        // it can never be sent.
        store!.remove(key);
        const saved: unknown = attempt(() => JSON.parse(value!));
        const entries = key.startsWith(legacy) ? (saved as LegacySaved | null)?.[1] : saved;
        queued ??= new Set(items.map((item) => item.json));
        // Its requests died with its page: they are ours to send again. Sizes are counted again, and none
        // is taken for in flight, so that an entry damaged in storage cannot upset the byte limit, nor
        // wait for an answer for ever.
        for (const entry of (Array.isArray(entries) ? entries : []) as SavedItems) {
          // An event is an object, of a kind we send; anything else is damage.
          const json = entry?.json instanceof Object && JSON.stringify(entry.json);
          if (!json || !KINDS.includes(entry!.kind) || queued.has(json)) continue;
          queued.add(json);
          const unanswered = finiteOr(entry!.unanswered, 0);
          // Rebuilt field by field: savedItem() writes `at`, `kind` and `unanswered` into JSON as they are, so
          // one damaged value (a date in words, "Infinity") would make this tab's whole stored queue
          // unreadable. An unreadable date counts from now.
          const item: Item = { kind: entry!.kind as Kind, json, at: finiteOr(entry!.at, now()), bytes: utf8Bytes(json), unanswered };
          if (unanswered >= GIVE_UP_AFTER) onDrop(1, 'never answered');
          else {
            place(item);
            items.push(item);
          }
        }
      }
      // Its lease after its parts, so that no part is ever without its lease.
      store!.remove(owner);
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
      place(item);
      items.push(item);
      saveSoon();
    },

    /** The collector has them (or refused them for good): forget them. */
    remove(batch: Item[]): void {
      // A Set: a recovering collector answers batches of up to thousands of items from an outbox of as many more.
      const gone = new Set(batch);
      items = items.filter((item) => !gone.has(item));
      batch.forEach(touch);
      // A hidden page may not live 200 ms more, and the next page load would send them again.
      if (closed || document.hidden) save();
      else saveSoon();
    },

    /** Items changed in place (a request took them, or settled): the next write includes them. */
    markChanged(batch: Item[]): void {
      batch.forEach(touch);
    },

    save,

    /** Starts persisting in `next` (consent granted), beginning with what was held so far. */
    use(next: ListableStore | undefined): void {
      store = next;
      stored = false;
      items.forEach(touch);
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
      locks.request(prefix, { ifAvailable: true }, (lock) => lock && run()).catch(run);
    },

    /**
     * Forgets everything queued, in memory and in `purged` (consent revoked): every tab's queue and lease,
     * and what earlier visits (and versions) left there; nothing is stored from now on.
     */
    purge(purged: ListableStore | undefined): void {
      items = [];
      for (const key of purged?.keys() ?? []) if ([prefix, leases, legacy].some((start) => key.startsWith(start))) purged!.remove(key);
      store = undefined;
      partChars.clear();
      changedParts.clear();
    },

    /** The page is gone (pagehide). */
    close(): void {
      closed = true;
    },

    /**
     * Back from the back/forward cache. If another page adopted our queue meanwhile, those items are its
     * to send now; otherwise (or if storage never held them: it was full) we own them again.
     */
    reopen(): void {
      closed = false;
      if (store && stored && !store.keys().some((key) => key.startsWith(ownPrefix))) items = [];
      save();
    },

    /** Stops the save timer (the engine is disposed). */
    dispose: (): void => saveTimer.cancel(),
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
