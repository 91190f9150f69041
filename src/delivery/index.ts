import { newId } from '../ids.js';
import type { Log } from '../log.js';
import type { ResolvedOptions } from '../options.js';
import type { ListableStore } from '../storage.js';
import { APPLICATION_ID_HEADER, SDK_HEADER_VALUE, type DeliveryOutcome, type Kind } from '../wire.js';
import { backoffDelay, isRetryable, parseRetryAfter } from './backoff.js';

/** Largest request body: under the browser's 64 KB keepalive quota, so any batch can outlive its page. */
export const MAX_BATCH_BYTES = 60_000;
const KEEPALIVE_QUOTA = 65_536;
/** Requests that get no answer at all this many times in a row are taken as blocked (an ad blocker). */
const BLOCKED_AFTER = 3;
/** A tab that has not written its queue for this long is taken for closed, and its items are adopted. */
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
 * Most that a stored item adds to its queue's value besides its event (`{"at":..,"kind":"companies",
 * "unanswered":3,"json":},`): with it, the byte limit bounds what storage really holds.
 */
const ITEM_BYTES = 64;

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
}

/**
 * What a tab writes under its own key: when it last wrote (0 once its page is gone, or in the
 * back/forward cache, so that the next page load adopts its items at once), and its queue: each event
 * as JSON within the JSON (as a string of JSON, every quote and backslash would be escaped again: 1.3
 * to 2 times the event's bytes), and a request in flight already counted as unanswered (if the page is
 * gone, its answer never comes). A change to this shape changes the `v3` in the key, so no reader ever
 * meets another shape.
 */
type Saved = [heartbeat: number, items: Array<(Partial<Omit<Item, 'json'>> & { json?: unknown }) | null>];

export interface DeliveryStats {
  queued: number;
  sent: number;
  retried: number;
  dropped: number;
  /** Items picked up from a closed tab; some may have arrived already and reach the collector twice. */
  adopted: number;
  bytesSent: number;
  requests: number;
  inOutbox: number;
}

const encoder = /* @__PURE__ */ new TextEncoder();

/** UTF-8 bytes of a batch's body: its items, the commas between them and the brackets. */
const bodyBytes = (batch: Item[]): number => batch.reduce((sum, item) => sum + item.bytes + 1, 1);

/**
 * The next request's items: the oldest waiting item and the waiting items of its kind after it,
 * at most `limit` of them and `MAX_BATCH_BYTES` of body (an item larger than that goes alone).
 */
export function nextBatch(items: Item[], limit: number): Item[] {
  const batch: Item[] = [];
  let bytes = 1;
  for (const item of items) {
    if (item.sending || item.kind != (batch[0] ?? item).kind) continue;
    bytes += item.bytes + 1;
    if (batch.length && (batch.length >= limit || bytes > MAX_BATCH_BYTES)) break;
    batch.push(item);
  }
  return batch;
}

/**
 * The delivery engine: one outbox, one send timer, one request in flight.
 * A batch leaves when `batchSize` items wait (and then carries all that wait, up to 60 KB: fewer,
 * fuller requests), when its oldest item has waited `batchMaxTime`, or at once without batching;
 * failures are retried with backoff; when the page hides or closes, everything waiting leaves with
 * keepalive requests that outlive the page.
 *
 * The outbox is persisted in localStorage so that a reload or a crash loses nothing. Each tab writes
 * only its own key, so tabs never overwrite each other's queues; the queue a closed tab left behind is
 * adopted by the next tab or page load that finds it. Bounded by age and by the bytes that all of the
 * application's tabs store together: the oldest items go first, and every drop is counted. It starts
 * paused, holding items in memory, until `resume()` (consent) names where they persist.
 *
 * Arguments by position, not an object of dependencies: the object's property names would be in the
 * bundle twice (18 B gzip). `fetchImpl` is the fetch that existed before capture wrapped it.
 */
export function createDelivery(options: ResolvedOptions, log: Log, fetchImpl: typeof fetch, now = Date.now) {
  const { applicationId, batchEnabled, maxOutboxBytes } = options;
  const stats = { queued: 0, sent: 0, retried: 0, dropped: 0, adopted: 0, bytesSent: 0, requests: 0 };
  const prefix = `usertrail:v3:outbox:${applicationId}:`;
  const ownKey = prefix + newId();
  // Written out here, as the URL in send() is: see wire.ts. 'X-Moesif-SDK' is wire.ts's SDK_HEADER
  // spelled out: terser keeps the constant as a variable (12 B gzip); the tests' recorder checks the name.
  const headers = { 'Content-Type': 'application/json', [APPLICATION_ID_HEADER]: applicationId, 'X-Moesif-SDK': SDK_HEADER_VALUE };
  const maxItems = batchEnabled ? Infinity : 1;

  /** Oldest first. */
  let items: Item[] = [];
  let store: ListableStore | undefined;
  /**
   * Nothing is sent: until consent (`resume()`; items are held in memory until then), after it is
   * revoked, and for the rest of the page view once the collector looks blocked (items are still
   * queued and saved then, for the next page).
   */
  let paused = true;
  /** The page is gone (or in the back/forward cache): its queue is saved for others to adopt. */
  let closed = false;
  /** When the queue was last written. */
  let savedAt = 0;
  /** Whether the last write took: if not, storage holds no copy of this tab's queue. */
  let stored = false;
  /** Requests in flight: while there are any, only a closing page sends more. */
  let inFlight = 0;
  /** Body bytes of the keepalive requests in flight, which the browser keeps under its 64 KB quota. */
  let keepaliveBytes = 0;
  let retryAt = 0;
  /** Failed requests in a row: drives the backoff. */
  let failures = 0;
  /** Requests in a row that got no answer at all. */
  let unanswered = 0;
  let offline = false;
  /** After a 413, batches are halved until one gets through. */
  let batchLimit = maxItems;
  const flushWaiters: Array<() => void> = [];

  /**
   * One timer that runs `run` at a time given to it, unless it will already run sooner: only ever
   * brought forward, so that calls on every push never pile up timers, nor reset one (which costs
   * more than a push).
   */
  const timerFor = (run: () => void): ((at: number) => void) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let due = 0;
    return (at) => {
      if (timer && due <= at) return;
      clearTimeout(timer);
      due = at;
      timer = setTimeout(() => {
        timer = undefined;
        run();
      }, at - now());
    };
  };

  /** The keys of the queues other tabs of this application wrote. */
  const otherQueues = (): string[] => (store?.keys() ?? []).filter((key) => key.startsWith(prefix) && key != ownKey);

  const settleFlush = (): void => {
    for (const resolve of flushWaiters.splice(0)) resolve();
  };

  const drop = (count: number, reason: string): void => {
    stats.dropped += count;
    log.warn(`dropped items: ${reason}`);
  };

  /**
   * Drops what is past the age or byte limit (the oldest first), then writes the queue. Rewriting the
   * timestamp every few seconds while items wait tells other tabs this queue still has a living owner.
   * The byte limit is shared by all of the application's tabs, not each tab's: the other queues count
   * against it, so that tabs left open through a long outage cannot fill the origin's storage and make
   * the app's own writes fail. Each tab may still keep an equal share, which the others make room for
   * at their next write.
   */
  const save = (): void => {
    const others = otherQueues();
    // What the other queues leave of the byte limit, or an equal share of it if that is more.
    const limit = Math.max(
      others.reduce((left, key) => left - String(store!.get(key)).length, maxOutboxBytes),
      maxOutboxBytes / (others.length + 1),
    );
    // 20: the brackets and the heartbeat.
    for (
      let total = items.reduce((sum, item) => sum + item.bytes + ITEM_BYTES, 20);
      items[0] && (total > limit || items[0].at < now() - options.maxOutboxAge);
      total -= items.shift()!.bytes + ITEM_BYTES
    )
      drop(1, 'over the outbox limits');
    if (!store) return;
    if (!items.length) return store.remove(ownKey);
    const saved = `[${closed ? 0 : (savedAt = now())},[${items.map(
      (item) => `{"at":${item.at},"kind":"${item.kind}","unanswered":${~~(item.unanswered as number) + +!!item.sending},"json":${item.json}}`,
    )}]]`;
    // A failed write must not leave an older copy behind, whose delivered items the next page would send again.
    if (!(stored = !!store.set(ownKey, saved))) {
      store.remove(ownKey);
      log.warn('storage full: queue kept in memory');
    }
    if (!closed) saveBy(savedAt + HEARTBEAT_MS);
  };

  /**
   * Saving is coalesced: a loop of 10,000 track() calls writes storage once, not 10,000 times; the
   * heartbeat and pushes share one timer.
   */
  const saveBy = timerFor(save);
  /**
   * After a change: at once if the last write is old, else 200 ms plus 1 ms per item after it, since
   * each write serializes the whole queue (a page making many API calls while the collector is down
   * would otherwise pay for large writes often).
   */
  const saveSoon = (): void => saveBy(savedAt + 200 + items.length);

  /** The collector has them (or refused them for good): forget them. */
  const remove = (batch: Item[]): void => {
    // A Set: a recovering collector answers batches of up to thousands of items from an outbox of as many more.
    const gone = new Set(batch);
    items = items.filter((item) => !gone.has(item));
    // A hidden page may not live 200 ms more, and the next page load would send them again.
    closed || document.hidden ? save() : saveSoon();
  };

  /**
   * POSTs one batch and handles its outcome. With `useBeacon`, the browser queues the body, which as a
   * string goes as text/plain;charset=UTF-8 (no CORS preflight, which could not finish while a page
   * closes), with the application id as a query parameter, since a beacon carries no headers; it only
   * says whether it took the beacon, so a queued beacon counts as delivered (202), and a refused one
   * goes by fetch, with keepalive when it takes `quota` (its body's bytes) of the keepalive quota.
   */
  const send = async (batch: Item[], bytes: number, quota: number): Promise<void> => {
    const { kind } = batch[0];
    const count = batch.length;
    const url = `${options.baseUrl}/v1/${kind}/batch`;
    const body = `[${batch.map((item) => item.json)}]`;
    const outcome: DeliveryOutcome = { status: 0, kind, count };
    let retryAfter: string | null | undefined;
    for (const item of batch) item.sending = true;
    inFlight++;
    keepaliveBytes += quota;
    stats.requests++;
    stats.bytesSent += bytes;
    try {
      if (options.useBeacon && navigator.sendBeacon?.(`${url}?${APPLICATION_ID_HEADER}=${encodeURIComponent(applicationId)}`, body))
        outcome.status = 202;
      else {
        // A hung connection would hold the queue behind it: abandoned after batchTimeout, and retried.
        const signal = AbortSignal.timeout?.(options.batchTimeout);
        const response = await fetchImpl(url, { method: 'POST', headers, body, keepalive: !!quota, credentials: 'omit', signal });
        outcome.status = response.status;
        retryAfter = response.headers.get('Retry-After');
      }
    } catch (error) {
      outcome.error = String(error);
    }
    const { status } = outcome;
    const delivered = status > 199 && status < 300;
    inFlight--;
    keepaliveBytes -= quota;
    // No answer after pagehide: Chromium fails a page's requests as it unloads, though keepalive ones
    // go on, and most likely arrive; such a send is counted (see GIVE_UP_AFTER).
    for (const item of batch) (item.sending = false), closed && !status && (item.unanswered = ~~(item.unanswered as number) + 1);
    log.debug('sent', kind, status, outcome);
    try {
      // As moesif calls it: nothing first when the request succeeded, so an `if (error)` callback stays quiet.
      options.callback?.(delivered ? undefined : outcome, outcome);
    } catch {
      log.warn('callback option threw');
    }
    // Offline, a request without an answer says nothing of a blocker: the `online` event is awaited instead.
    offline = !status && !navigator.onLine;
    unanswered = status || offline ? 0 : unanswered + 1;
    if (delivered) {
      remove(batch);
      stats.sent += count;
      retryAt = failures = 0;
      batchLimit = maxItems;
    } else if (status == 413 && count > 1) {
      batchLimit = Math.ceil(count / 2);
    } else if (!isRetryable(status)) {
      // A poison batch must not block the queue behind it.
      remove(batch);
      drop(count, status == 413 ? 'too large' : `refused with status ${status}`);
    } else {
      stats.retried += count;
      retryAt = now() + backoffDelay(++failures, parseRetryAfter(retryAfter, now()));
      settleFlush();
      if (unanswered >= BLOCKED_AFTER) {
        paused = true;
        log.warn('collector unreachable (blocked?): retried on the next page');
      }
    }
    schedule();
  };

  /**
   * Sends the next batch, one request at a time. When the page is hidden or closing (`closing`),
   * everything waiting leaves at once instead, in keepalive requests that outlive the page while they
   * fit its 64 KB quota; a batch that does not fit (a captured call with a large body) still goes,
   * without keepalive, which a hidden page may live to see answered, and the batches after it still
   * get their keepalive. Items stay in the outbox until answered; if no answer comes (the
   * page is gone), the next page load sends them again. Batches are as large as the collector took
   * (see 413) either way.
   */
  const pump = (closing?: boolean): void => {
    for (let batch; !paused && (closing || !inFlight) && (batch = nextBatch(items, batchLimit)).length; ) {
      const bytes = bodyBytes(batch);
      // Only keepalive bodies use the quota: a batch that does not fit goes without keepalive, beside the others.
      void send(batch, bytes, keepaliveBytes + bytes <= KEEPALIVE_QUOTA ? bytes : 0);
    }
    schedule();
  };

  const pumpBy = timerFor(pump);
  /**
   * Decides when the next request leaves. Cheap: called on every push. While a request is in flight
   * nothing is waiting to be decided: its answer calls this again.
   */
  const schedule = (): void => {
    if (paused || inFlight || offline) return;
    if (!items[0]) return settleFlush();
    pumpBy(Math.max(flushWaiters.length || items.length >= (batchEnabled ? options.batchSize : 1) ? 0 : items[0].at + options.batchMaxTime, retryAt));
  };

  /**
   * Takes over the queues of tabs that are gone: closed, or silent for longer than the lease. Under a
   * Web Lock where the browser has them, so two tabs opening at once do not both adopt (and send) the
   * same items; elsewhere the lease keeps living tabs' queues apart.
   */
  const adopt = (): void => {
    // No store while paused: nothing is adopted before consent, or after it is revoked.
    const run = (): void => {
      const before = items.length;
      for (const key of otherQueues()) {
        let saved: Saved | undefined;
        try {
          saved = JSON.parse(store!.get(key)!);
        } catch {
          /* unreadable: removed below, as it can never be sent */
        }
        if (saved && now() - saved[0] < LEASE_MS) continue;
        // Removed as it is read, so that no queue is adopted twice.
        store!.remove(key);
        // Its requests died with its page: they are ours to send again. Sizes are counted again, and none
        // is taken for in flight, so that an entry damaged in storage cannot upset the byte limit, nor
        // wait for an answer for ever.
        for (const item of Array.isArray(saved?.[1]) ? saved[1] : []) {
          // An event is an object; anything else is damage.
          const json = item?.json instanceof Object && JSON.stringify(item.json);
          if (json)
            ~~(item!.unanswered as number) < GIVE_UP_AFTER
              ? items.push({ ...(item as Item), json, bytes: encoder.encode(json).length, sending: false })
              : drop(1, 'never answered');
        }
      }
      stats.adopted += items.length - before;
      // Due at once, as if flush() were called: a closed page's items may have waited their batchMaxTime
      // already, and a page that closes before it would send them again at its own close.
      if (items.length > before) flushWaiters.push(() => {});
      // Whether or not anything was adopted: writing renews our own lease, and sorting a sorted queue is cheap.
      items.sort((a, b) => a.at - b.at);
      save();
      schedule();
    };
    const locks = navigator.locks;
    if (!locks) return run();
    // Named like the queues' keys (locks have names of their own): one lock per application and outbox version.
    locks.request(prefix, { ifAvailable: true }, (lock) => lock && run()).catch(run);
  };

  /**
   * The page is hidden, or gone (closed, navigated away or into the back/forward cache): everything
   * leaves, and the queue is written now. Not during a backoff, which a server may have asked for
   * (Retry-After): the written queue is sent when the wait ends, or by the next page.
   */
  const hide = (): void => {
    if (retryAt <= now()) pump(true);
    save();
  };

  addEventListener('online', () => {
    offline = false;
    // Failures just before the browser noticed it was offline were the network's, not a blocker's:
    // a page taken for blocked by them sends again (a consent pause has no such count, see pause()).
    if (unanswered >= BLOCKED_AFTER) paused = false;
    unanswered = 0;
    schedule();
  });
  addEventListener('pagehide', () => {
    closed = true;
    hide();
  });
  addEventListener('pageshow', (event) => {
    if (!event.persisted) return;
    // Back from the back/forward cache. If another page adopted our queue meanwhile, those items are
    // its to send now; otherwise (or if storage never held them: it was full) we own them again.
    closed = false;
    if (store && stored && !store.get(ownKey)) items = [];
    save();
    schedule();
  });
  document.addEventListener('visibilitychange', () => (document.hidden ? hide() : adopt()));

  /** Queues one item. */
  const push = (kind: Kind, json: string): void => {
    const bytes = encoder.encode(json).length;
    if (bytes > maxOutboxBytes) return drop(1, 'too large');
    items.push({ kind, json, at: now(), bytes });
    stats.queued++;
    saveSoon();
    schedule();
  };

  /** Sends everything now; settles when the outbox is empty or an attempt failed. */
  const flush = (): Promise<void> =>
    new Promise<void>((resolve) => {
      // Offline, nothing is tried until the `online` event: the attempt has failed already.
      if (paused || offline || !items.length) return resolve();
      flushWaiters.push(resolve);
      retryAt = 0;
      schedule();
    });

  const getStats = (): DeliveryStats => ({ ...stats, inOutbox: items.length });

  /** Starts persisting and sending (consent granted), beginning with what was held so far. */
  const resume = (next: ListableStore | undefined): void => {
    paused = false;
    store = next;
    save();
    adopt();
    schedule();
  };

  /**
   * Sends nothing and forgets everything queued, in memory and in `purged` (consent revoked): every
   * tab's queue, and what earlier visits left there.
   */
  const pause = (purged: ListableStore | undefined): void => {
    paused = true;
    unanswered = 0;
    items = [];
    for (const key of purged?.keys() ?? []) if (key.startsWith(prefix)) purged!.remove(key);
    store = undefined;
  };

  // A tuple, which the instance names as it takes them (as identity.ts's): terser does not shorten
  // property names, and an object cost 6 B gzip more.
  return [push, flush, getStats, resume, pause] as const;
}

export type Delivery = ReturnType<typeof createDelivery>;
