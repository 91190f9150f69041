import { cleanId, newId } from './ids';
import { toJson } from './serialize';
import type { Store } from './storage';
import type { Attribution, Campaign } from './wire';

/** Storage keys of moesif-browser-js, kept as they are so that existing visitors keep their ids. */
const KEYS = {
  anonymousId: 'moesif_anonymous_id',
  userId: 'moesif_stored_user_id',
  companyId: 'moesif_stored_company_id',
  sessionToken: 'moesif_stored_session_id',
  campaign: 'moesif_campaign_data',
} as const;

type IdField = 'userId' | 'companyId' | 'sessionToken';

/** Every key that holds an id, for restoring them together. */
export const idKeys = (prefix: string | undefined): string[] =>
  (['anonymousId', 'userId', 'companyId', 'sessionToken'] as const).map((name) => storageKey(name, prefix));

/** moesif's `persistenceKeyPrefix` replaces the leading `moesif_` of each key. */
export const storageKey = (name: keyof typeof KEYS, prefix: string | undefined): string =>
  prefix ? KEYS[name].replace('moesif_', prefix) : KEYS[name];

export type Identity = ReturnType<typeof createIdentity>;

/**
 * The visitor: an anonymous id made once, the user, company and session the app identified, and
 * the first-touch campaign. Values are read from storage on every use, so a reset() or sign-in in
 * another tab or on another subdomain of the site is seen at once.
 */
export function createIdentity(ids: Store, local: Store, prefix: string | undefined) {
  const key = (name: keyof typeof KEYS) => storageKey(name, prefix);
  const read = (name: IdField | 'anonymousId') => cleanId(ids.get(key(name)));
  const renewAnonymousId = (): string => {
    const id = newId();
    ids.set(key('anonymousId'), id);
    return id;
  };
  const identity = {
    // Any non-empty stored string is accepted: moesif-browser-js's older ids were not all UUIDs.
    anonymousId: (): string => read('anonymousId') ?? renewAnonymousId(),
    userId: () => read('userId'),
    companyId: () => read('companyId'),
    sessionToken: () => read('sessionToken'),
    set(field: IdField, value: string): void {
      ids.set(key(field), value);
    },
    campaign(): Campaign | undefined {
      try {
        const stored = JSON.parse(local.get(key('campaign')) ?? 'null') as unknown;
        return stored && typeof stored === 'object' ? (stored as Campaign) : undefined;
      } catch {
        return undefined;
      }
    },
    /** Keeps the first touch: a campaign is stored only when none is. True when it was stored. */
    rememberCampaign(campaign: Campaign | undefined): boolean {
      if (!campaign || identity.campaign()) return false;
      local.set(key('campaign'), toJson(campaign) ?? '{}');
      return true;
    },
    /** Who an item belongs to: the identified user or else the anonymous visitor, as moesif sends it. */
    attribution(): Attribution {
      const userId = identity.userId();
      return {
        user_id: userId,
        anonymous_id: userId ? undefined : identity.anonymousId(),
        company_id: identity.companyId(),
        session_token: identity.sessionToken(),
      };
    },
    /** Removes every id and the campaign from storage. */
    clear(): void {
      for (const name of ['userId', 'companyId', 'sessionToken', 'anonymousId'] as const) ids.remove(key(name));
      local.remove(key('campaign'));
    },
    /** Log-out: forget user, company, session and campaign, and start a new anonymous visitor. */
    reset(): string {
      identity.clear();
      // Written at once: another subdomain seeing an empty cookie jar would restore the old ids from its localStorage.
      return renewAnonymousId();
    },
  };
  return identity;
}
