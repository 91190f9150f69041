// @ts-check
/**
 * Stores checked items: for each, stitch the ids it carries (stitch.mjs), then keep it (store.mjs),
 * all of one request in one transaction, so that a 2xx answer means every accepted item is on disk.
 */
import { createStitcher } from './stitch.mjs';

/** @typedef {import('./validate.mjs').Kind} Kind */

/**
 * @typedef {object} IngestResult
 * @property {number} stored items newly stored
 * @property {number} duplicates actions or events whose transaction_id was already stored (accepted, not stored again)
 * @property {number} conflicts items that named a second user for an anonymous id already merged into another one
 */

/** @param {import('./store.mjs').Store} store */
export function createIngest(store) {
  const stitcher = createStitcher(store);

  /**
   * @param {Kind} kind
   * @param {any} item a value from checkItem
   * @param {string} now
   * @param {IngestResult} result
   */
  function one(kind, item, now, result) {
    // An action sent without request.time (moesif-browser-js track()) happened about when it arrived.
    if (kind === 'actions' && !item.time) item = { ...item, time: now };
    if (kind === 'users') {
      if (stitcher.observeUser(item, now) === 'conflict') result.conflicts++;
      result.stored++;
      return;
    }
    if (kind === 'companies') {
      stitcher.observeCompany(item, now);
      result.stored++;
      return;
    }
    const isNew = store.insertItem({ ...item, kind: kind === 'actions' ? 'action' : 'event', received_at: now });
    // A duplicate is not stitched again either: its first copy already was.
    if (!isNew) {
      result.duplicates++;
      return;
    }
    if (stitcher.observeItem(item, now) === 'conflict') result.conflicts++;
    result.stored++;
  }

  return {
    /**
     * @param {Kind} kind
     * @param {any[]} items values from checkItem
     * @returns {IngestResult}
     */
    ingest(kind, items) {
      const now = new Date().toISOString();
      /** @type {IngestResult} */
      const result = { stored: 0, duplicates: 0, conflicts: 0 };
      store.transaction(() => {
        for (const item of items) one(kind, item, now, result);
      });
      return result;
    },
  };
}
