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
  /** Failed attempts so far; drives the backoff, and is saved with the item so that it survives a reload. */
  attempts: number;
  /** In a request whose answer has not come yet. */
  sending?: boolean;
}

/**
 * What a tab writes under its own key. `closed` marks a page that is gone (or in the back/forward cache).
 * A change to this shape changes the `v1` in the key, so no reader ever meets another shape.
 */
interface Saved {
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

/** A tab that has not written for this long is taken for closed and its items are adopted. */
const LEASE_MS = 15_000;
const HEARTBEAT_MS = 5_000;

const encoder = /* @__PURE__ */ new TextEncoder();
/** UTF-8 size of an item's JSON: what it adds to a request body and to the outbox's byte limit. */
const utf8Bytes = (json: string): number => encoder.encode(json).length;

/**
 * The queue of items waiting for the collector, persisted in localStorage so that a reload or a crash
 * loses nothing. Each tab writes only its own key, so tabs never overwrite each other's queues;
 * the queue a closed tab left behind is adopted by the next tab or page load that finds it.
 * Bounded by bytes and by age: the oldest items go first, and every drop is counted.
 * Until `attach()` names a store (consent), the queue lives in memory only.
 */
export function createOutbox(applicationId: string, maxBytes: number, maxAge: number, log: Log, stats: OutboxStats, now: () => number) {
  const prefix = `usertrail:v1:outbox:${applicationId}:`;
  const ownKey = prefix + newId();
  let store: ListableStore | undefined;
  let closed = false;
  let saveQueued = false;
  let lastSave = 0;
  let heartbeat: ReturnType<typeof setTimeout> | undefined;

  const save = (): void => {
    saveQueued = false;
    if (!store) return;
    if (!outbox.items.length) return store.remove(ownKey);
    lastSave = now();
    const saved: Saved = { heartbeat: lastSave, closed, items: outbox.items };
    if (!store.set(ownKey, JSON.stringify(saved))) log.warn('storage full: queue kept in memory');
    // Rewriting the timestamp tells other tabs this queue still has a living owner.
    heartbeat ||= closed ? undefined : setTimeout(() => ((heartbeat = undefined), outbox.items.length && save()), HEARTBEAT_MS);
  };

  /** Bytes of the items queued: kept up to date on push, where counting again would cost O(n) per call. */
  let totalBytes = 0;
  /** Replaces the queue, and counts its bytes again. */
  const replace = (items: Item[]): void => {
    outbox.items = items;
    totalBytes = items.reduce((sum, item) => sum + item.bytes, 0);
  };

  /** The oldest items go first, past the age or byte limit. */
  const evict = (): void => {
    for (let oldest; (oldest = outbox.items[0]); totalBytes -= oldest.bytes) {
      const expired = oldest.queuedAt < now() - maxAge;
      if (!expired && totalBytes <= maxBytes) break;
      outbox.items.shift();
      outbox.drop(1, expired ? 'expired' : 'outbox full');
    }
  };

  const outbox = {
    /** Oldest first. Replaced, never mutated in place, when items leave. */
    items: [] as Item[],

    push(kind: Kind, id: string, json: string): void {
      const bytes = utf8Bytes(json);
      if (bytes > maxBytes) return outbox.drop(1, 'too large');
      outbox.items.push({ id, kind, json, bytes, queuedAt: now(), attempts: 0 });
      totalBytes += bytes;
      stats.queued++;
      evict();
      outbox.saveSoon();
    },

    /** The collector has them (or refused them for good): forget them. */
    remove(batch: Item[]): void {
      const gone = new Set(batch);
      replace(outbox.items.filter((item) => !gone.has(item)));
      outbox.saveSoon();
    },

    drop(count: number, reason: string): void {
      stats.dropped += count;
      log.warn(`dropped items: ${reason}`);
    },

    /** Writes the queue now (the page is being hidden). */
    save,

    /**
     * Saving once per task: a loop of 10,000 track() calls writes storage once, not 10,000 times.
     * Writes after the first are spaced (200 ms; 1 s once the queue is large, as when the collector is
     * down), since each serializes the whole queue: a page making many API calls would otherwise pay
     * one localStorage write per captured call. The pagehide and hidden handlers write at once.
     */
    saveSoon(): void {
      if (saveQueued) return;
      saveQueued = true;
      const later = () => saveQueued && save();
      const wait = lastSave + (totalBytes < 64_000 ? 200 : 1_000) - now();
      if (wait > 0) setTimeout(later, wait);
      else queueMicrotask(later);
    },

    /** Takes over the queues of tabs that are gone. True when it adopted anything. */
    adopt(): boolean {
      const before = outbox.items.length;
      const known = new Set(outbox.items.map((item) => item.id));
      for (const key of store?.keys() ?? []) {
        if (!key.startsWith(prefix) || key == ownKey) continue;
        let saved: Saved | undefined;
        try {
          saved = JSON.parse(store!.get(key)!);
        } catch {
          /* unreadable: dropped below, as it can never be sent */
        }
        if (saved && !saved.closed && now() - saved.heartbeat < LEASE_MS) continue;
        store!.remove(key);
        for (const item of Array.isArray(saved?.items) ? saved.items : []) {
          // Its requests died with its page: they are ours to send again. Sizes are counted again, so that
          // an entry damaged in storage cannot upset the byte limit and evict the whole queue.
          if (typeof item?.json == 'string' && !known.has(item.id)) outbox.items.push({ ...item, bytes: utf8Bytes(item.json), sending: false });
          known.add(item?.id);
        }
      }
      const adopted = outbox.items.length - before;
      if (adopted) {
        stats.adopted += adopted;
        replace(outbox.items.sort((a, b) => a.queuedAt - b.queuedAt));
        evict();
        save();
      }
      return adopted > 0;
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
      if (store && !store.get(ownKey)) replace([]);
      save();
    },

    /** Starts persisting to `next` (consent granted), with what was queued in memory so far; undefined: memory only. */
    attach(next: ListableStore | undefined): void {
      store = next;
      save();
    },

    /** Empties the queue and removes every queue of this application from storage (consent revoked). */
    clear(): void {
      replace([]);
      for (const key of store?.keys() ?? []) if (key.startsWith(prefix)) store!.remove(key);
    },
  };
  return outbox;
}

export type Outbox = ReturnType<typeof createOutbox>;
