/**
 * The identity rows stitching reads and writes: identified users, anonymous ids (and the user each
 * was merged into), companies; each with its metadata, metadata times and first-touch campaign.
 */
import type Database from 'better-sqlite3';
import type { AnonymousRow, CompanyRow, IdentityStore, UserRow } from '../store.js';
import type { Figures } from './figures.js';

type IdentityRows = Pick<IdentityStore, 'getUser' | 'getAnonymous' | 'getCompany' | 'putUser' | 'putAnonymous' | 'putCompany'>;

/** A row as SQLite gives it: JSON columns as text. */
type RawRow = Record<string, unknown> & { metadata?: string | null; metadata_times?: string | null; campaign?: string | null };

const json = (value: unknown): string | null => (value === undefined || value === null ? null : JSON.stringify(value));

/** A row's JSON columns as text. */
const jsonColumns = (row: Pick<UserRow, 'metadata' | 'metadata_times' | 'campaign'>) => ({
  metadata: json(row.metadata ?? {}),
  metadata_times: json(row.metadata_times ?? {}),
  campaign: json(row.campaign),
});

/** A row object with its JSON columns parsed. */
function parseRow<T>(row: unknown): T | undefined {
  if (!row) return undefined;
  const raw = row as RawRow;
  return {
    ...raw,
    metadata: JSON.parse(raw.metadata ?? '{}'),
    metadata_times: JSON.parse(raw.metadata_times ?? '{}'),
    campaign: raw.campaign ? JSON.parse(raw.campaign) : null,
  } as T;
}

interface Dependencies {
  db: Database.Database;
  figures: Pick<Figures, 'touchProfile' | 'touchCompany' | 'moveAnonymousItems'>;
}

export function createIdentityRows({ db, figures }: Dependencies): IdentityRows {
  const s = {
    getUser: db.prepare('SELECT * FROM users WHERE user_id = ?'),
    getAnonymous: db.prepare('SELECT * FROM anonymous_ids WHERE anonymous_id = ?'),
    getCompany: db.prepare('SELECT * FROM companies WHERE company_id = ?'),
    putUser: db.prepare(`
    INSERT INTO users (user_id, company_id, metadata, metadata_times, campaign, campaign_at, identified_at)
    VALUES (@user_id, @company_id, @metadata, @metadata_times, @campaign, @campaign_at, @identified_at)
    ON CONFLICT (user_id) DO UPDATE SET company_id = excluded.company_id,
      metadata = excluded.metadata, metadata_times = excluded.metadata_times, campaign = excluded.campaign, campaign_at = excluded.campaign_at,
      identified_at = excluded.identified_at`),
    putAnonymous: db.prepare(`
    INSERT INTO anonymous_ids (anonymous_id, merged_into, merged_at, company_id, metadata, metadata_times, campaign, campaign_at, first_seen)
    VALUES (@anonymous_id, @merged_into, @merged_at, @company_id, @metadata, @metadata_times, @campaign, @campaign_at, @first_seen)
    ON CONFLICT (anonymous_id) DO UPDATE SET merged_into = excluded.merged_into, merged_at = excluded.merged_at,
      company_id = excluded.company_id, metadata = excluded.metadata,
      metadata_times = excluded.metadata_times,
      campaign = excluded.campaign, campaign_at = excluded.campaign_at, first_seen = excluded.first_seen`),
    putCompany: db.prepare(`
    INSERT INTO companies (company_id, company_domain, company_domain_at, metadata, metadata_times, campaign, campaign_at, first_seen)
    VALUES (@company_id, @company_domain, @company_domain_at, @metadata, @metadata_times, @campaign, @campaign_at, @first_seen)
    ON CONFLICT (company_id) DO UPDATE SET company_domain = excluded.company_domain, company_domain_at = excluded.company_domain_at,
      metadata = excluded.metadata, metadata_times = excluded.metadata_times, campaign = excluded.campaign, campaign_at = excluded.campaign_at,
      first_seen = excluded.first_seen`),
    mergedInto: db.prepare('SELECT merged_into FROM anonymous_ids WHERE anonymous_id = ?').pluck(),
  };

  return {
    getUser: (userId) => parseRow<UserRow>(s.getUser.get(userId)),
    getAnonymous: (anonymousId) => parseRow<AnonymousRow>(s.getAnonymous.get(anonymousId)),
    getCompany: (companyId) => parseRow<CompanyRow>(s.getCompany.get(companyId)),
    putUser(row) {
      s.putUser.run({ company_id: null, campaign_at: null, ...row, ...jsonColumns(row) });
      figures.touchProfile(row.user_id);
    },
    putAnonymous(row) {
      const before = (s.mergedInto.get(row.anonymous_id) as string | null | undefined) ?? null;
      s.putAnonymous.run({ merged_into: null, merged_at: null, company_id: null, campaign_at: null, ...row, ...jsonColumns(row) });
      const after = row.merged_into ?? null;
      figures.touchProfile(row.anonymous_id);
      if (after) figures.touchProfile(after);
      // A merge, or a first merge in time replacing another: its anonymous-only items follow.
      if (before !== after) figures.moveAnonymousItems(row.anonymous_id, after ?? row.anonymous_id);
    },
    putCompany(row) {
      s.putCompany.run({ company_domain: null, company_domain_at: null, campaign_at: null, ...row, ...jsonColumns(row) });
      figures.touchCompany(row.company_id);
    },
  };
}
