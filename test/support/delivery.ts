import { vi } from 'vitest';
import type { Log } from '../../src/log';
import type { ListableStore } from '../../src/storage/store';

/**
 * A store in a Map that counts its writes and keeps the keys written, in order, and whose writes can be
 * made to fail (storage full).
 */
export type MemoryStore = ListableStore & { full: boolean; writes: number; written: string[]; map: Map<string, string> };

export const memoryStore = (): MemoryStore => {
  const map = new Map<string, string>();
  const store: MemoryStore = {
    full: false,
    writes: 0,
    written: [],
    map,
    get: (key: string) => map.get(key) ?? null,
    set: (key: string, value: string) => (store.full ? undefined : (store.writes++, store.written.push(key), map.set(key, value), true)),
    remove: (key: string) => void map.delete(key),
    keys: () => [...map.keys()],
  };
  return store;
};

/** What the collector would answer: a status (0 fails), a status with headers, or no answer at all. */
export type Answer = number | [number, Record<string, string>] | 'never';

/** One request the engine made. */
export interface Call {
  url: string;
  /** The body as sent. */
  text: string;
  /** The body's items (the tests push `{ n }` items). */
  items: Array<{ n: number }>;
  keepalive?: boolean;
  at: number;
}

/** A fetch that answers each request with the next of `answers` (then 200), and the requests it saw. */
export function fakeFetch(answers: Answer[]) {
  const calls: Call[] = [];
  const fetchImpl = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    const text = String(init?.body);
    calls.push({ url: String(url), text, items: JSON.parse(text), keepalive: init?.keepalive, at: Date.now() });
    const next = answers.shift() ?? 200;
    if (next == 'never') return new Promise<Response>(() => {});
    const [status, headers] = typeof next == 'number' ? [next, {}] : next;
    if (!status) throw new TypeError('Failed to fetch');
    return new Response(null, { status, headers });
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

export const quietLog = () => ({ warn: vi.fn(), error: vi.fn(), debug: vi.fn() }) satisfies Log;

/** Whether a storage key holds a tab's queue (not its lease). */
export const isQueueKey = (key: string): boolean => key.includes(':outbox:');

/** The values of the queues in `store` (not their leases), as stored. */
export const queueValues = (store: MemoryStore): string[] => [...store.map].filter(([key]) => isQueueKey(key)).map(([, value]) => value);

/**
 * Stores a queue as another tab of `applicationId` writes it: its items (`items`, as JSON text or a value)
 * as the one part of its queue, and its lease (`heartbeat`: 0 for a closed page).
 */
export function storeQueue(store: ListableStore, applicationId: string, tab: string, heartbeat: number, items: unknown): void {
  const value = typeof items == 'string' ? items : JSON.stringify(items);
  store.set(`usertrail:v4:lease:${applicationId}:${tab}`, JSON.stringify([heartbeat, value.length]));
  store.set(`usertrail:v4:outbox:${applicationId}:${tab}:0`, value);
}
