import { cleanId, newId } from './ids';
import { toJson } from './serialize';
import type { Store } from './storage';
import type { Attribution, Campaign } from './wire';

/**
 * Storage keys of moesif-browser-js after its `moesif_` prefix (which `persistenceKeyPrefix`
 * replaces), kept as they are so that existing visitors keep their ids. Named by the wire field
 * each one holds.
 */
const KEYS = {
  anonymous_id: 'anonymous_id',
  user_id: 'stored_user_id',
  company_id: 'stored_company_id',
  session_token: 'stored_session_id',
  campaign: 'campaign_data',
} as const;

type IdField = Exclude<keyof typeof KEYS, 'campaign'>;

const storageKey = (field: keyof typeof KEYS, prefix = 'moesif_'): string => prefix + KEYS[field];

/** Every key that holds an id (all but the campaign, which is last), for restoring them together; the anonymous id's first, as it is always written. */
export const idKeys = (prefix: string | undefined): string[] =>
  (Object.keys(KEYS) as Array<keyof typeof KEYS>).slice(0, 4).map((field) => storageKey(field, prefix));

export type Identity = ReturnType<typeof createIdentity>;

/**
 * The visitor: an anonymous id made once, the user, company and session the app identified, and
 * the first-touch campaign. Values are read from storage on every use, so a reset() or sign-in in
 * another tab or on another subdomain of the site is seen at once.
 */
export function createIdentity(ids: Store, local: Store, prefix: string | undefined) {
  const key = (field: keyof typeof KEYS) => storageKey(field, prefix);
  // Any non-empty stored string is accepted: moesif-browser-js's older ids were not all UUIDs.
  const get = (field: IdField) => cleanId(ids.get(key(field)));
  const set = (field: IdField, value: string) => ids.set(key(field), value);
  const renewAnonymousId = (): string => {
    const id = newId();
    set('anonymous_id', id);
    return id;
  };
  const anonymousId = (): string => get('anonymous_id') ?? renewAnonymousId();
  const campaign = (): Campaign | undefined => {
    try {
      const stored = JSON.parse(local.get(key('campaign'))!) as unknown;
      return stored && typeof stored == 'object' ? stored : undefined;
    } catch {
      return undefined;
    }
  };
  /** Removes every id and the campaign from storage. */
  const clear = (): void => {
    for (const field in KEYS) (field == 'campaign' ? local : ids).remove(key(field as keyof typeof KEYS));
  };
  return {
    get,
    set,
    anonymousId,
    campaign,
    clear,
    /** Keeps the first touch: a campaign is stored only when none is. True when it was stored. */
    rememberCampaign: (found: Campaign | undefined): boolean => !!found && !campaign() && (local.set(key('campaign'), toJson(found)!), true),
    /** Who an item belongs to: the identified user or else the anonymous visitor, as moesif sends it. */
    attribution: (): Attribution => {
      const user_id = get('user_id');
      return { user_id, anonymous_id: user_id ? undefined : anonymousId(), company_id: get('company_id'), session_token: get('session_token') };
    },
    /** Log-out: forget user, company, session and campaign, and start a new anonymous visitor. */
    reset(): string {
      clear();
      // Written at once: another subdomain seeing an empty cookie jar would restore the old ids from its localStorage.
      return renewAnonymousId();
    },
  };
}
