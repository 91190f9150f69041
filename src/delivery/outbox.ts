import { newId } from '../ids';
import type { Log } from '../log';
import type { ListableStore } from '../storage';
import type { Kind } from '../wire';

/** One queued item: its JSON, ready to be joined into a batch body without serializing again. */
export interface Item {
  /** Unique id; the transaction id for actions and events. */
  id: string;
  kind: Kind;
  json: string;
  /** UTF-8 size of `json`. */
  bytes: number;
  /** When it was queued (ms since epoch). */
  queuedAt: number;
  /** Failed attempts so far; drives the backoff. */
  attempts: number;
}

/** What a tab writes under its own key. `closed` marks a page that is gone (or in the back/forward cache). */
interface Saved {
  version: 1;
  heartbeat: number;
  closed: boolean;
  items: Item[];
}

export interface OutboxStats {
  queued: number;
  dropped: number;
  /** Items picked up from a closed tab; some may have arrived already and reach the collector twice. */
  adopted: number;
}

export interface OutboxOptions {
  store: ListableStore | undefined;
  applicationId: string;
  maxBytes: number;
  maxAge: number;
  log: Log;
  now: () => number;
}

/** A tab that has not written for this long is taken for closed and its items are adopted. */
const LEASE_MS = 15_000;
const HEARTBEAT_MS = 5_000;
const CHEAP_SAVE_BYTES = 64_000;
const SAVE_SPACING_MS = 200;
const SLOW_SAVE_MS = 1_000;

export function utf8Bytes(text: string): number {
  let bytes = text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    // Surrogate pairs are 2 UTF-16 units and 4 UTF-8 bytes, so each unit adds 1.
    if (code > 0x7f) bytes += code > 0x7ff ? (code >= 0xd800 && code <= 0xdfff ? 1 : 2) : 1;
  }
  return bytes;
}

/**
 * The queue of items waiting for the collector, persisted in localStorage so that a reload or a crash
 * loses nothing. Each tab writes only its own key, so tabs never overwrite each other's queues;
 * the queue a closed tab left behind is adopted by the next tab or page load that finds it.
 * Bounded by bytes and by age: the oldest items go first, and every drop is counted.
 */
export function createOutbox({ store, applicationId, maxBytes, maxAge, log, now }: OutboxOptions) {
  // Replaced when consent arrives: until then the queue lives in memory only.
  const prefix = `usertrail:v1:outbox:${applicationId}:`;
  const ownKey = prefix + newId();
  let items: Item[] = [];
  let totalBytes = 0;
  const inFlight = new Set<string>();
  const stats: OutboxStats = { queued: 0, dropped: 0, adopted: 0 };
  let closed = false;
  let saveQueued = false;
  let lastSave = 0;
  let heartbeat: ReturnType<typeof setTimeout> | undefined;

  const drop = (count: number, reason: string): void => {
    stats.dropped += count;
    log.warn(`dropped items: ${reason} (see getStats())`);
  };

  const save = (): void => {
    saveQueued = false;
    if (!store) return;
    if (!items.length) {
      store.remove(ownKey);
      return;
    }
    lastSave = now();
    const saved: Saved = { version: 1, heartbeat: now(), closed, items };
    if (!store.set(ownKey, JSON.stringify(saved))) {
      log.warn('localStorage full: queue kept in memory.');
    }
    if (!heartbeat && !closed) {
      // Rewriting the timestamp tells other tabs this queue still has a living owner.
      heartbeat = setTimeout(() => {
        heartbeat = undefined;
        if (items.length) save();
      }, HEARTBEAT_MS);
    }
  };

  /**
   * Saving once per task: a loop of 10,000 track() calls writes storage once, not 10,000 times.
   * Writes after the first are spaced (200 ms; 1 s once the queue is large, as when the collector is
   * down), since each serializes the whole queue: a page making many API calls would otherwise pay
   * one localStorage write per captured call. The pagehide and hidden handlers write at once.
   */
  const saveSoon = (): void => {
    if (saveQueued) return;
    saveQueued = true;
    const later = () => saveQueued && save();
    const wait = lastSave + (totalBytes < CHEAP_SAVE_BYTES ? SAVE_SPACING_MS : SLOW_SAVE_MS) - now();
    if (wait > 0) setTimeout(later, wait);
    else Promise.resolve().then(later);
  };

  const evict = (): void => {
    const oldestAllowed = now() - maxAge;
    let expired = 0;
    while (items.length && (items[0].queuedAt < oldestAllowed || totalBytes > maxBytes)) {
      const [oldest] = items;
      if (inFlight.has(oldest.id) && totalBytes <= maxBytes) break;
      items.shift();
      inFlight.delete(oldest.id);
      totalBytes -= oldest.bytes;
      if (oldest.queuedAt < oldestAllowed) expired++;
      else drop(1, 'outbox full');
    }
    if (expired) drop(expired, 'expired');
  };

  const append = (incoming: Item[]): void => {
    for (const item of incoming) {
      items.push(item);
      totalBytes += item.bytes;
    }
  };

  const readSaved = (key: string): Saved | undefined => {
    try {
      const saved = JSON.parse(store?.get(key) ?? 'null') as Saved | null;
      return saved && saved.version === 1 && Array.isArray(saved.items) ? saved : undefined;
    } catch {
      return undefined;
    }
  };

  return {
    push(kind: Kind, id: string, json: string): void {
      const bytes = utf8Bytes(json);
      if (bytes > maxBytes) {
        drop(1, 'too large');
        return;
      }
      append([{ id, kind, json, bytes, queuedAt: now(), attempts: 0 }]);
      stats.queued++;
      evict();
      saveSoon();
    },

    /** Items not in flight, oldest first. */
    waiting: (): Item[] => items.filter((item) => !inFlight.has(item.id)),

    /** How many items wait, and since when the oldest has: cheap enough to ask on every push. */
    waitingCount: (): number => items.length - inFlight.size,
    oldestWaitingSince(): number | undefined {
      for (const item of items) if (!inFlight.has(item.id)) return item.queuedAt;
      return undefined;
    },

    /** Marks items as sent and waiting for an answer. */
    begin(batch: Item[]): void {
      for (const item of batch) inFlight.add(item.id);
    },

    /** The collector has them (or refused them for good): forget them. */
    remove(batch: Item[]): void {
      const ids = new Set(batch.map((item) => item.id));
      items = items.filter((item) => {
        if (!ids.has(item.id)) return true;
        totalBytes -= item.bytes;
        inFlight.delete(item.id);
        return false;
      });
      saveSoon();
    },

    /** The attempt failed: back in the queue, with one more attempt counted. */
    retry(batch: Item[]): void {
      for (const item of batch) {
        item.attempts++;
        inFlight.delete(item.id);
      }
      saveSoon();
    },

    drop,

    /** Takes over the queues of tabs that are gone. Returns how many items were adopted. */
    adoptOrphans(): number {
      if (!store) return 0;
      let count = 0;
      for (const key of store.keys()) {
        if (!key.startsWith(prefix) || key === ownKey) continue;
        const saved = readSaved(key);
        if (saved && !saved.closed && now() - saved.heartbeat < LEASE_MS) continue;
        store.remove(key);
        const known = new Set(items.map((item) => item.id));
        const fresh = (saved?.items ?? []).filter((item) => !known.has(item.id));
        append(fresh);
        count += fresh.length;
      }
      if (count) {
        stats.adopted += count;
        items.sort((a, b) => a.queuedAt - b.queuedAt);
        evict();
        save();
      }
      return count;
    },

    /**
     * The page is going away (closed, navigated, or into the back/forward cache): write now, marked
     * closed so the next page load adopts at once what is still unconfirmed.
     */
    close(): void {
      closed = true;
      clearTimeout(heartbeat);
      heartbeat = undefined;
      save();
    },

    /**
     * Back from the back/forward cache. If another page adopted our queue meanwhile, those items are
     * its to send now; otherwise we own them again.
     */
    reopen(): void {
      closed = false;
      if (store && !store.get(ownKey)) {
        items = [];
        totalBytes = 0;
        inFlight.clear();
      }
      save();
    },

    /** Writes the queue now (the page is being hidden). */
    save,

    /** Starts persisting to `next` (consent granted), with what was queued in memory so far. */
    attach(next: ListableStore | undefined): void {
      store = next;
      save();
    },

    /** Empties the queue and removes every queue of this application from storage (consent revoked). */
    clear(): void {
      items = [];
      totalBytes = 0;
      inFlight.clear();
      for (const key of store?.keys() ?? []) if (key.startsWith(prefix)) store?.remove(key);
    },

    stats: (): OutboxStats & { inOutbox: number } => ({ ...stats, inOutbox: items.length }),
  };
}

