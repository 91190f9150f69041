/**
 * Actions and API calls: stored counting for whom they count for (attribution.ts), and moved when a
 * merge or a company membership back in time changes that (one profile's index range). Every store
 * and move goes through the tallies, so the kept figures follow.
 */
import type Database from 'better-sqlite3';
import type { NewItem } from '../store.js';
import type { JsonObject } from '../validate.js';
import type { Attribution } from './attribution.js';
import { packPayload } from './payload.js';
import type { Refs } from './refs.js';
import { kindIndex, type ItemRecord } from './rows.js';
import type { Tallies } from './tallies.js';

/**
 * A 53-bit hash of an item's kind and transaction id (cyrb53): the duplicate check's index holds one
 * integer per item rather than the id's text. Not unique: a hit is checked against the stored
 * item's own transaction id (hasItem).
 */
export function transactionHash(kind: 'action' | 'event', transactionId: string): number {
  const text = `${kind}:${transactionId}`;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

export interface Items {
  /** Whether an action or event with this transaction id is stored. */
  hasItem(kind: 'action' | 'event', transactionId: string): boolean;
  insertItem(item: NewItem): void;
  /**
   * The items that carry only `anonymousId` now count for `toProfile` (a merge, or a first merge in
   * time replacing another).
   */
  moveAnonymousItems(anonymousId: string, toProfile: string): void;
  /** A profile's memberships changed: the items naming no company follow them. */
  reattributeCompanies(profileId: string): void;
}

interface Dependencies {
  db: Database.Database;
  refs: Refs;
  attribution: Attribution;
  tallies: Tallies;
}

export function createItems({ db, refs, attribution, tallies }: Dependencies): Items {
  const s = {
    itemsWithHash: db.prepare('SELECT payload FROM items WHERE tx_hash = ? AND kind = ?').pluck(),
    insertItem: db.prepare(`INSERT INTO items (kind, time, received_at, tx_hash, sent_user, anon, sent_company, name, profile, company, packed, user_agent, session, payload)
      VALUES (@kind, @time, @received_at, @tx_hash, @sent_user, @anon, @sent_company, @name, @profile, @company, @packed, @user_agent, @session, @payload)`),
    anonymousItems: db.prepare('SELECT * FROM items WHERE anon = ? AND sent_user IS NULL'),
    profileItemsWithoutCompany: db.prepare('SELECT * FROM items WHERE profile = ? AND sent_company IS NULL'),
    moveItem: db.prepare('UPDATE items SET profile = ?, company = ? WHERE seq = ?'),
    setCompany: db.prepare('UPDATE items SET company = ? WHERE seq = ?'),
  };

  return {
    hasItem(kind, transactionId) {
      const stored = s.itemsWithHash.all(transactionHash(kind, transactionId), kindIndex(kind)) as string[];
      return stored.some((payload) => (JSON.parse(payload) as JsonObject).transaction_id === transactionId);
    },

    insertItem(item) {
      const profileId = attribution.profileOf(item.user_id, item.anonymous_id);
      const time = Date.parse(item.time);
      const record = {
        kind: kindIndex(item.kind),
        time,
        received_at: Date.parse(item.received_at),
        tx_hash: item.transaction_id === undefined ? null : transactionHash(item.kind, item.transaction_id),
        sent_user: item.user_id === undefined ? null : refs.profileRef(item.user_id),
        anon: item.anonymous_id === undefined ? null : refs.profileRef(item.anonymous_id),
        sent_company: item.company_id === undefined ? null : refs.companyRef(item.company_id),
        name: item.kind === 'action' && item.action_name !== undefined ? refs.nameRef(item.action_name) : null,
        profile: profileId === null ? null : refs.profileRef(profileId),
        company: null as number | null,
        ...packPayload(item.payload, { ...item, time }, refs),
      };
      record.company = record.sent_company ?? attribution.companyAt(profileId)(time);
      s.insertItem.run(record);
      tallies.countItem(record, profileId ?? undefined);
    },

    moveAnonymousItems(anonymousId, toProfile) {
      const anon = refs.findProfile(anonymousId);
      if (anon === undefined) return;
      const to = refs.profileRef(toProfile);
      const companyAt = attribution.companyAt(toProfile);
      for (const row of s.anonymousItems.all(anon) as ItemRecord[]) {
        const company = row.sent_company ?? companyAt(row.time);
        if (row.profile === to && row.company === company) continue;
        tallies.uncountItem(row);
        s.moveItem.run(to, company, row.seq);
        tallies.countItem({ ...row, profile: to, company });
      }
    },

    reattributeCompanies(profileId) {
      attribution.forgetMemberships(profileId);
      const ref = refs.findProfile(profileId);
      if (ref === undefined) return;
      const companyAt = attribution.companyAt(profileId);
      for (const row of s.profileItemsWithoutCompany.all(ref) as ItemRecord[]) {
        const company = companyAt(row.time);
        if (row.company === company) continue;
        tallies.uncountItem(row);
        s.setCompany.run(company, row.seq);
        tallies.countItem({ ...row, company });
      }
    },
  };
}
