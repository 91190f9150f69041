/**
 * The requests under way, each carrying one batch to the collector. A request never rejects: it
 * settles to whether its batch is done with (taken, refused for good, or split to go again at once),
 * or must wait for a retry.
 */
import { batchBody } from './batch.js';
import type { Send, SendResult } from './transport.js';

export interface RequestsDeps {
  send: Send;
  /** The collector path of a batch. */
  path: string;
  /** Acts on a request's result; true when its batch is done with. */
  settle: (batch: string[], result: SendResult) => boolean;
  /** A request has finished, and its batch is no longer under way. */
  onFinished: () => void;
}

export function createRequests({ send, path, settle, onFinished }: RequestsDeps) {
  const underWay = new Set<Promise<boolean>>();
  let items = 0;

  return {
    /** POSTs one batch. */
    start(batch: string[]): void {
      items += batch.length;
      const request: Promise<boolean> = send(path, batchBody(batch))
        .catch((): SendResult => ({ status: 0, error: 'send threw' }))
        .then((result) => settle(batch, result))
        .finally(() => {
          underWay.delete(request);
          items -= batch.length;
          onFinished();
        });
      underWay.add(request);
    },

    /** Requests under way. */
    count: (): number => underWay.size,

    /** Items in the requests under way: still queued, as far as stats() goes. */
    items: (): number => items,

    /** Waits for the requests under way now; true when none of their batches waits for a retry. */
    async settled(): Promise<boolean> {
      const results = await Promise.all(underWay);
      return !results.includes(false);
    },
  };
}
