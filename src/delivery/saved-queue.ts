import type { Log } from '../log.js';
import { toJson } from '../serialize.js';
import { attempt, type ListableStore } from '../storage/store.js';
import type { Kind } from '../wire.js';
import type { Item } from './outbox.js';

/**
 * How a tab's outbox queue is kept in storage, and how the queues other tabs left there are read back
 * (the outbox decides what to keep and when to write: outbox.ts). Each tab writes only its own keys:
 * - its lease, `usertrail:v4:lease:<app>:<tab>` (see Lease);
 * - its queue, cut into parts of about PART_BYTES, `usertrail:v4:outbox:<app>:<tab>:<part>`, each a
 *   JSON array of its items (see SavedItems). A write rewrites only the parts that changed.
 * Queues that an earlier version wrote under one key (v3, see LegacySaved) are read too, so that an
 * update loses nothing.
 */

/**
 * Most that a stored item adds to its queue's value besides its event (`{"at":..,"kind":"companies",
 * "unanswered":3,"json":},`): with it, the outbox's byte limit bounds what storage really holds.
 */
export const ITEM_BYTES = 64;
/**
 * A tab's stored queue is cut into parts of about this many bytes of items, each under a key of its
 * own, so that a write rewrites only the parts that changed: a queue at the byte limit offline drops
 * its oldest item and adds the newest at each track() call, which rewrites its first and last parts,
 * not the whole queue.
 */
const PART_BYTES = 32_000;
/** The kinds an item may have: the collector's batch endpoints (see wire.ts). */
const KINDS: readonly unknown[] = ['actions', 'events', 'users', 'companies'] satisfies Kind[];

/**
 * What a tab writes under each key of its queue (one per part): the part's items, each event as JSON
 * within the JSON (as a string of JSON, every quote and backslash would be escaped again: 1.3 to 2
 * times the event's bytes), and a request in flight already counted as unanswered (if the page is
 * gone, its answer never comes). A change to these shapes changes the `v4` in the keys, so no reader
 * ever meets another shape.
 */
type SavedItems = Array<(Partial<Omit<Item, 'json'>> & { json?: unknown }) | null>;
/**
 * What a tab writes under its lease key: `[heartbeat, chars]`, when it last wrote (0 once its page is
 * gone, or in the back/forward cache, so that the next page load adopts its items at once), and the
 * length of its queue's values. Apart from the queue so that the heartbeat, written every few seconds
 * while items wait, costs a few bytes and not the whole queue, and so that a tab weighs the others'
 * queues against the byte limit without reading them.
 */
type Lease = [heartbeat: number, chars: number];
/** How a queue was stored before leases (v3, one key): `[heartbeat, items]`, adopted by the same rules. */
type LegacySaved = [heartbeat: number, items: SavedItems];

/** An item read back from another tab's queue: as it was queued, and how many of its pages went unanswered. */
export type SavedItem = Pick<Item, 'kind' | 'json' | 'at'> & { unanswered: number };

/** Another tab's stored queue, as its lease tells it. */
export interface OtherQueue {
  /** The key whose removal ends the queue: its lease (for an earlier version's queue, the queue's own key). */
  owner: string;
  /** The keys of its parts. */
  parts: string[];
  /** When its tab last wrote; 0 once its page is gone. */
  heartbeat: number;
  /** The length of its stored values. */
  chars: number;
}

/**
 * The prefix of every stored queue of an application, whose keys go on with the tab's id and the part's
 * number (`<prefix><tab>:<part>`); also the name of the Web Lock adoption takes.
 */
export const queuePrefix = (applicationId: string): string => `usertrail:v4:outbox:${applicationId}:`;
/** The prefix of the queues' leases, whose keys go on with the tab's id. */
export const leasePrefix = (applicationId: string): string => `usertrail:v4:lease:${applicationId}:`;
/** Queues that an earlier version wrote (see LegacySaved). */
const legacyPrefix = (applicationId: string): string => `usertrail:v3:outbox:${applicationId}:`;

/** `value` as a number, when it is one JSON can hold (not NaN nor infinite) and not 0; else `fallback`. */
const finiteOr = (value: unknown, fallback: number): number => {
  const number = Number(value);
  return Number.isFinite(number) && number ? number : fallback;
};

/** An item's entry in a stored queue: a request in flight counts as unanswered already (see SavedItems). */
const savedItem = (item: Item): string => {
  const unanswered = (item.unanswered ?? 0) + (item.sending ? 1 : 0);
  return `{"at":${item.at},"kind":"${item.kind}","unanswered":${unanswered},"json":${item.json}}`;
};

/**
 * An entry of a stored queue as an item, or nothing when it is damaged. Rebuilt field by field:
 * savedItem() writes `at`, `kind` and `unanswered` into JSON as they are, so one damaged value (a date in
 * words, "Infinity") would make the adopting tab's whole stored queue unreadable. An unreadable date
 * counts from `now`.
 */
const readEntry = (entry: SavedItems[number], now: number): SavedItem | undefined => {
  // An event is an object, of a kind we send; anything else is damage.
  const json = entry?.json instanceof Object && toJson(entry.json);
  if (!json || !KINDS.includes(entry!.kind)) return;
  return { kind: entry!.kind as Kind, json, at: finiteOr(entry!.at, now), unanswered: finiteOr(entry!.unanswered, 0) };
};

export interface SavedQueueDeps {
  applicationId: string;
  /** This tab's id, in its keys. */
  tabId: string;
  log: Log;
}

/** This tab's stored queue (its lease and parts), and the other tabs' queues, in one application's keys. */
export function createSavedQueue({ applicationId, tabId, log }: SavedQueueDeps) {
  const prefix = queuePrefix(applicationId);
  const leases = leasePrefix(applicationId);
  const legacy = legacyPrefix(applicationId);
  /** The prefix of this tab's parts' keys. */
  const ownPrefix = `${prefix}${tabId}:`;
  const ownLease = leases + tabId;
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

  const markChanged = (items: Item[]): void => {
    for (const item of items) changedParts.add(item.part!);
  };

  /** Removes this tab's queue and lease from `store`. */
  const remove = (store: ListableStore): void => {
    for (const key of store.keys()) if (key.startsWith(ownPrefix)) store.remove(key);
    store.remove(ownLease);
    partChars.clear();
  };

  /** A stored queue's lease, by its owner key: missing or unreadable, [0, 0], a queue whose tab is gone. */
  const leaseOf = (store: ListableStore, owner: string): Lease => {
    // An earlier version's queue is read whole, as that version wrote it.
    const legacyValue = owner.startsWith(legacy) ? store.get(owner) : undefined;
    const saved: unknown = attempt(() => JSON.parse(legacyValue ?? store.get(owner)!));
    const [heartbeat, chars] = Array.isArray(saved) ? saved : [];
    return [finiteOr(heartbeat, 0), legacyValue?.length ?? finiteOr(chars, 0)];
  };

  return {
    /** Gives a new item (pushed, or adopted) its part: the last one, or a new one once the last holds PART_BYTES. */
    place(item: Item): void {
      if (lastPartBytes >= PART_BYTES) {
        lastPart++;
        lastPartBytes = 0;
      }
      item.part = lastPart;
      lastPartBytes += item.bytes + ITEM_BYTES;
      changedParts.add(lastPart);
    },

    /** Items added, removed or changed in place: the next write rewrites their parts. */
    markChanged,

    /** Storage holds nothing of this queue yet (a new store): the next write writes the whole queue (see write()). */
    startOver(): void {
      stored = false;
    },

    /**
     * Writes the lease (`heartbeat`, see Lease), then the parts of `items` that changed: whether it took.
     * `keys` are the store's keys now. A failed write removes the whole copy and warns.
     */
    write(store: ListableStore, items: Item[], heartbeat: number, keys: string[]): boolean {
      // Nothing of it stored (a failed write), or a part gone: a tab that took this one for gone (it was
      // frozen, or hidden long) adopted and removed it. All is written again, for the next page load to
      // adopt if this page goes first (each item is adopted once).
      if (!stored || [...partChars.keys()].some((part) => !keys.includes(ownPrefix + part))) markChanged(items);
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
      stored = !!store.set(ownLease, `[${heartbeat},${chars}]`);
      for (const [part, value] of values) {
        if (!value) store.remove(ownPrefix + part);
        else if (stored) stored = !!store.set(ownPrefix + part, value);
      }
      if (!stored) {
        // A failed write must not leave an older copy behind, whose delivered items the next page would send again.
        remove(store);
        log.warn('storage full: queue kept in memory');
      }
      return stored;
    },

    remove,

    /**
     * Whether another tab adopted this queue: it was stored, and `keys` (the store's keys now) hold none
     * of its parts any more.
     */
    wasAdopted: (keys: string[]): boolean => stored && !keys.some((key) => key.startsWith(ownPrefix)),

    /** Forgets what was written (consent revoked: the caller removes every queue's keys). */
    forget(): void {
      partChars.clear();
      changedParts.clear();
    },

    /** Whether `key` belongs to one of this application's stored queues, of any tab or version. */
    isQueueKey: (key: string): boolean => [prefix, leases, legacy].some((start) => key.startsWith(start)),

    /** The other tabs' stored queues, from `keys` (the store's keys now), each with what its lease says. */
    otherQueues(store: ListableStore, keys: string[]): OtherQueue[] {
      const parts = new Map<string, string[]>();
      for (const key of keys) {
        const owner = key.startsWith(legacy) ? key : key.startsWith(prefix) && !key.startsWith(ownPrefix) ? leases + key.slice(prefix.length).split(':')[0] : '';
        if (owner) parts.set(owner, (parts.get(owner) ?? []).concat(key));
      }
      return [...parts].map(([owner, keys]) => {
        const [heartbeat, chars] = leaseOf(store, owner);
        return { owner, parts: keys, heartbeat, chars };
      });
    },

    /**
     * Takes another tab's queue out of `store`: its items, in stored order, each removed as it is read,
     * so that no part is adopted twice, then its lease, so that no part is ever without its lease. A
     * damaged part or entry is left out (and removed all the same, as it can never be sent).
     */
    take(store: ListableStore, queue: OtherQueue, now: number): SavedItem[] {
      const items: SavedItem[] = [];
      for (const key of queue.parts) {
        const value = store.get(key);
        store.remove(key);
        const saved: unknown = attempt(() => JSON.parse(value!));
        const entries = key.startsWith(legacy) ? (saved as LegacySaved | null)?.[1] : saved;
        for (const entry of (Array.isArray(entries) ? entries : []) as SavedItems) {
          const item = readEntry(entry, now);
          if (item) items.push(item);
        }
      }
      store.remove(queue.owner);
      return items;
    },
  };
}

export type SavedQueue = ReturnType<typeof createSavedQueue>;
