import { cleanId, isPlausibleAnonymousId, newId } from './ids.js';
import type { Log } from './log.js';
import { toJson } from './serialize.js';
import { attempt, type Store } from './storage/store.js';
import type { Attribution, Campaign } from './wire.js';

/**
 * Storage keys of moesif-browser-js after its `moesif_` prefix (which `persistenceKeyPrefix`
 * replaces), kept as they are so that existing visitors keep their ids. Named by the wire field
 * each one holds; the campaign is last. The campaign is kept with the ids, in a cookie as moesif-browser-js
 * keeps it, so that a visitor who lands on docs.acme.com and signs up on app.acme.com is sent with it
 * (issue 17).
 */
const KEYS = {
  anonymous_id: 'anonymous_id',
  user_id: 'stored_user_id',
  company_id: 'stored_company_id',
  session_token: 'stored_session_id',
  campaign: 'campaign_data',
} as const;

/**
 * Keys of moesif-browser-js that usertrail writes none of, removed with the ids as moesif's own reset()
 * removed them. The first touch it keeps apart for the company (emptied once sent with identifyCompany,
 * so a visitor identified only as a user has it there alone), read when no other is kept.
 */
const MOESIF_COMPANY_CAMPAIGN = 'campaign_company';
/** (1.10) The calls it held while consent was pending, which carry the app's metadata. */
const MOESIF_PENDING_CALLS = 'pending_requests';

type Field = keyof typeof KEYS;
type IdField = Exclude<Field, 'campaign'>;

/** Every key the id store holds (the ids and the campaign), the anonymous id's first, as it is always written. */
export const idKeys = (prefix: string): string[] => Object.values(KEYS).map((name) => prefix + name);

export interface IdentityDeps {
  /** The visitor's ids and first-touch campaign: cookies and their localStorage mirror (see id-store.ts). */
  ids: Store;
  /** The prefix of every key: `moesif_`, or `persistenceKeyPrefix`. */
  prefix: string;
  log: Log;
}

/**
 * The visitor: an anonymous id made once, the user, company and session the app identified, and
 * the first-touch campaign. Values are read from storage on every use, so a reset() or sign-in in
 * another tab or on another subdomain of the site is seen at once (by captured calls and automatic
 * page views within 100 ms: see `createCallerCache` in moesif.ts).
 */
export function createIdentity({ ids, prefix, log }: IdentityDeps) {
  const key = (field: Field): string => prefix + KEYS[field];
  // Any non-empty stored string is accepted: user, company and session ids are the app's, in its own
  // formats (a session token may be a 5 KB JWT). The anonymous id is checked where it is read, below.
  const getId = (field: IdField): string | undefined => cleanId(ids.get(key(field)));
  /** Stores an id. The returned setId() also notes that this page chose the anonymous id on purpose. */
  const writeId = (field: IdField, value: string): void => {
    ids.set(key(field), value);
  };
  /**
   * This page chose the visitor's anonymous id on purpose: reset(), resetAnonymousId(), another user
   * signing in, an id adopted from a link (cross-domain tracking).
   */
  let chosen = false;
  // Written at once, also after clear(): another subdomain seeing an empty cookie jar would restore the old ids from its localStorage.
  const makeAnonymousId = (): string => {
    const id = newId();
    writeId('anonymous_id', id);
    return id;
  };
  const anonymousId = (): string => {
    const stored = getId('anonymous_id');
    if (stored && isPlausibleAnonymousId(stored)) return stored;
    // The value stays out of the log: it may be anything, a secret pasted by mistake included.
    if (stored) log.warn('stored anonymous id is malformed: replaced with a new one');
    return makeAnonymousId();
  };
  const storedCampaign = (name: string): Campaign | undefined => {
    // Unreadable (damaged, or written by something else): no campaign.
    const stored: unknown = attempt(() => JSON.parse(ids.get(prefix + name)!));
    return stored && typeof stored == 'object' ? stored : undefined;
  };
  const campaign = (): Campaign | undefined => storedCampaign(KEYS.campaign) ?? storedCampaign(MOESIF_COMPANY_CAMPAIGN);
  return {
    getId,
    setId(field: IdField, value: string): void {
      if (field == 'anonymous_id') chosen = true;
      writeId(field, value);
    },
    anonymousId,
    renewAnonymousId(): string {
      chosen = true;
      return makeAnonymousId();
    },
    campaign,
    /** Keeps the first touch, on every subdomain: a campaign is stored only when none is. True when it was stored. */
    rememberCampaign(found: Campaign | undefined): boolean {
      if (!found || campaign()) return false;
      ids.set(key('campaign'), toJson(found)!);
      return true;
    },
    /** Removes every id and the campaign from storage, and what moesif-browser-js kept beside them. */
    clear(): void {
      for (const name of [...Object.values(KEYS), MOESIF_COMPANY_CAMPAIGN, MOESIF_PENDING_CALLS]) ids.remove(prefix + name);
    },
    /**
     * A returning visitor goes on as the visitor an earlier visit stored (`earlier`: the stored ids,
     * which a page waiting for consent does not read): its anonymous id, user, company and session
     * (each unless this page set its own) and its first touch. Not when this page chose its anonymous
     * id on purpose (see `chosen`), nor when another user signed in here. Gives back the anonymous id this page had
     * used instead, for what it kept to be given the earlier one; or nothing.
     */
    continueEarlierVisit(earlier: Store): string | undefined {
      // This page used no visitor yet (a page load with consent already given): the stored ids stay as
      // they are anyway, and are not read before the app asks for them.
      const used = getId('anonymous_id');
      if (!used || chosen) return;
      const stored = (field: IdField): string | undefined => cleanId(earlier.get(key(field)));
      const earlierAnonymousId = stored('anonymous_id');
      if (!earlierAnonymousId || !isPlausibleAnonymousId(earlierAnonymousId)) return;
      const user = getId('user_id');
      const earlierUser = stored('user_id');
      if (user && earlierUser && user != earlierUser) return;
      for (const field of ['user_id', 'company_id', 'session_token'] as const) {
        const value = stored(field);
        if (value && !getId(field)) writeId(field, value);
      }
      writeId('anonymous_id', earlierAnonymousId);
      const firstTouch = earlier.get(key('campaign'));
      if (firstTouch) ids.set(key('campaign'), firstTouch);
      return used;
    },
    /** Who an item belongs to: the identified user or else the anonymous visitor, as moesif sends it. */
    attribution(): Attribution {
      const user_id = getId('user_id');
      return { user_id, anonymous_id: user_id ? undefined : anonymousId(), company_id: getId('company_id'), session_token: getId('session_token') };
    },
  };
}

export type Identity = ReturnType<typeof createIdentity>;
