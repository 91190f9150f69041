/**
 * Stores checked items: for each, stitch the ids it carries (stitch.ts), then keep it (store.ts),
 * all of one request in one transaction, so that a 2xx answer means every accepted item is on disk.
 */
import { createStitcher } from './stitch.js';
import type { CollectorStore } from './store.js';
import type { CheckedByKind, CheckedItem, Kind } from './validate.js';

export interface IngestResult {
  /** items newly stored */
  stored: number;
  /** actions or events whose transaction_id was already stored (accepted, not stored again) */
  duplicates: number;
  /**
   * items that named a user with an anonymous id another user was seen with (stitch.ts, rule 4):
   * a second user on a shared browser, or the first one arriving late and taking the id back
   */
  conflicts: number;
}

export interface Ingest {
  ingest<K extends Kind>(kind: K, items: CheckedByKind[K][]): IngestResult;
}

export function createIngest(store: CollectorStore): Ingest {
  const stitcher = createStitcher(store);

  function oneItem(item: CheckedItem, now: string, result: IngestResult): void {
    // An action sent without request.time (moesif-browser-js track()) happened about when it arrived.
    const timed = { ...item, time: item.time ?? now };
    // A duplicate is not stitched again either: its first copy already was.
    if (timed.transaction_id !== undefined && store.hasItem(timed.kind, timed.transaction_id)) {
      result.duplicates++;
      return;
    }
    // Stitched first, so that the item is stored counting for the profile and company its own ids make.
    if (stitcher.observeItem(timed) === 'conflict') result.conflicts++;
    store.insertItem({ ...timed, received_at: now });
    result.stored++;
  }

  const byKind: { [K in Kind]: (item: CheckedByKind[K], now: string, result: IngestResult) => void } = {
    users(user, now, result) {
      if (stitcher.observeUser(user, now) === 'conflict') result.conflicts++;
      result.stored++;
    },
    companies(company, now, result) {
      stitcher.observeCompany(company, now);
      result.stored++;
    },
    actions: oneItem,
    events: oneItem,
  };

  function one<K extends Kind>(kind: K, item: CheckedByKind[K], now: string, result: IngestResult): void {
    byKind[kind](item, now, result);
  }

  return {
    ingest(kind, items) {
      const now = new Date().toISOString();
      const result: IngestResult = { stored: 0, duplicates: 0, conflicts: 0 };
      store.transaction(() => {
        for (const item of items) one(kind, item, now, result);
      });
      return result;
    },
  };
}
