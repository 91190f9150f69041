/**
 * Items and the figures kept about them, in SQLite: the half of the store that grows with traffic.
 *
 * Each item row carries whom it counts for (`profile`, `company`: attribution.ts), as the stitching
 * rules say now (items.ts moves it when they change); `profiles`, `company_figures`,
 * `profile_actions` and `activity` hold counts, first and last times and per-hour counts, changed by
 * every item stored or moved, tallied during a transaction (tallies.ts) and written once at its end
 * (settle.ts), with what the users and companies pages list (listings.ts). Items are stored compactly
 * (payload.ts), ids and repeated strings by reference (refs.ts). recount.ts rebuilds it all from
 * the raw rows.
 */
import type Database from 'better-sqlite3';
import { createAttribution } from './attribution.js';
import { createItems, type Items } from './items.js';
import { createListings } from './listings.js';
import { recount } from './recount.js';
import type { Refs } from './refs.js';
import { createSettle } from './settle.js';
import { createTallies } from './tallies.js';

export interface Figures extends Items {
  /** A profile's or company's identity rows changed: refresh its listing when the transaction settles. */
  touchProfile(id: string): void;
  touchCompany(id: string): void;
  /** The transaction's writes are done: write the figures they changed, then forget what it tallied and looked up. */
  settle(): void;
  /** The transaction was rolled back: forget what it tallied and looked up. */
  discard(): void;
  /** Every figure again from the raw rows (recount.ts). */
  recount(): void;
}

export function createFigures({ db, refs }: { db: Database.Database; refs: Refs }): Figures {
  const tallies = createTallies({ refs });
  const { settle } = createSettle({ db, refs, listings: createListings({ db, refs }) });
  const attribution = createAttribution({ db, refs });
  const items = createItems({ db, refs, attribution, tallies });

  const forgetTransaction = (): void => {
    tallies.discard();
    attribution.forgetMemberships();
    refs.forget();
  };

  return {
    ...items,
    touchProfile: tallies.touchProfile,
    touchCompany: tallies.touchCompany,
    settle() {
      settle(tallies.changes);
      forgetTransaction();
    },
    discard: forgetTransaction,
    recount() {
      try {
        recount(db, refs);
      } finally {
        refs.forget();
      }
    },
  };
}
