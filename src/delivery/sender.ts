import { bodyBytes, bodyOf, nextBatch } from './batch.js';
import type { Item, Outbox } from './outbox.js';
import type { Counts } from './stats.js';
import type { Answer } from './transport.js';

const KEEPALIVE_QUOTA = 65_536;

export interface SenderDeps {
  outbox: Outbox;
  /** POSTs one batch body (see transport.ts). */
  post: (kind: Item['kind'], body: string, keepalive: boolean) => Promise<Answer>;
  /** Counts each request, and its body's bytes, as it leaves. */
  counts: Pick<Counts, 'requests' | 'bytesSent'>;
  /** Told of each request as it settles, once its items are no longer in flight. */
  onSettled: (batch: Item[], answer: Answer) => void;
  /** The clock (ms since epoch), for when the last request left. */
  now: () => number;
}

/** Takes batches from the outbox and keeps count of the requests in flight and of their keepalive bytes. */
export function createSender({ outbox, post, counts, onSettled, now }: SenderDeps) {
  /** Requests in flight: while there are any, only a hidden or closing page sends more. */
  let inFlight = 0;
  /** Body bytes of the keepalive requests in flight, which the browser keeps under its 64 KB quota. */
  let keepaliveBytes = 0;
  /** When the last request left (ms since epoch). */
  let lastSentAt = 0;

  /** POSTs one batch, with keepalive when it takes `quota` (its body's bytes) of the keepalive quota. */
  const send = async (batch: Item[], bytes: number, quota: number): Promise<void> => {
    for (const item of batch) item.sending = true;
    // A page that closes before the answer comes has its items written as unanswered once more.
    outbox.markChanged(batch);
    inFlight++;
    lastSentAt = now();
    keepaliveBytes += quota;
    counts.requests++;
    counts.bytesSent += bytes;
    const answer = await post(batch[0].kind, bodyOf(batch), quota > 0);
    inFlight--;
    keepaliveBytes -= quota;
    for (const item of batch) {
      item.sending = false;
      // No answer after pagehide: Chromium fails a page's requests as it unloads, though keepalive ones
      // go on, and most likely arrive; such a send is counted (see GIVE_UP_AFTER in outbox.ts).
      if (outbox.isClosed() && !answer.status) item.unanswered = (item.unanswered ?? 0) + 1;
    }
    outbox.markChanged(batch);
    onSettled(batch, answer);
  };

  return {
    inFlight: (): number => inFlight,
    lastSentAt: (): number => lastSentAt,

    /**
     * Sends the next batch, one request at a time; when the page is hidden or closing (`hidden`),
     * everything waiting leaves at once instead. Each request goes with keepalive, which outlives its
     * page, while it fits the 64 KB quota beside those in flight; a batch that does not fit (a captured
     * call with a large body) still goes, without keepalive, which a hidden page may live to see
     * answered, and the batches after it still get their keepalive. Items stay in the outbox until
     * answered; if no answer comes (the page is gone), the next page load sends them again. Batches carry
     * at most `batchLimit` items.
     */
    sendWaiting(batchLimit: number, hidden: boolean): void {
      let batch: Item[];
      while ((hidden || !inFlight) && (batch = nextBatch(outbox.items(), batchLimit)).length) {
        const bytes = bodyBytes(batch);
        void send(batch, bytes, keepaliveBytes + bytes <= KEEPALIVE_QUOTA ? bytes : 0);
      }
    },
  };
}
