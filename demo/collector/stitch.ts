/**
 * Identity stitching, as the seed "Identifying Customers" (section "User merging" and its table of
 * five scenarios) specifies it. Two ids per profile, named as in the seed:
 *
 * - Identified User Id: the id given to identifyUser(); null while the visitor is anonymous.
 * - User Id: the Identified User Id when there is one, otherwise the generated anonymous id.
 *
 * The rules:
 * 1. Anonymous traffic counts for its anonymous id's profile (User Id = anonymous id, Identified
 *    User Id = null).
 * 2. An item of any kind (users call, action, API call) that carries both `anonymous_id` and
 *    `user_id` merges that anonymous id into the user: the anonymous profile disappears, and all of
 *    its items, earlier and later, count for the user.
 * 3. Same user on two devices: each device's anonymous id is merged the same way, so one profile.
 * 4. An anonymous id belongs to one user at most; a merge never joins two identified users. When an
 *    anonymous id merged into user A arrives with user B (a shared device where log-out did not call
 *    `moesif.reset()`, scenarios 4 and 5 of the seed), the first merge in time stands: items that
 *    name B count for B, items that carry only the anonymous id keep counting for A, and B never
 *    absorbs A's history. "First" is by the time items say they happened (a users call: its
 *    modified_time, or its arrival), so that batches arriving out of order give the same profiles.
 *    This is the defensible reading of "no merging will occur", and `moesif.reset()` on log-out
 *    (which gives the next user a fresh anonymous id) avoids the case.
 * 5. A user (or a still-anonymous profile) belongs to a company from the time a users call or an
 *    item names it, or a companies call with a session token the profile was seen with, until
 *    the next company named (sqlite/memberships.ts). An item counts for the company it names, or
 *    else for the company its profile belonged to when it happened, and for NO company when it
 *    happened before the profile's first link: "Moesif will associate any future web or API
 *    traffic from a user to that company". Linking looks forward; only merging (rule 2) looks back.
 *    An anonymous id's memberships are its own; the user it is merged into gets copies, which
 *    follow the id if another user claims it.
 *
 * createStitcher applies rules 2-5 to the identity rows as items arrive; the store then counts each
 * item for the profile and company these rows give, and when a merge or a membership changes them,
 * moves the items concerned (sqlite/items.ts).
 */
import type { AnonymousRow, CompanyRow, IdentityStore, UserRow } from './store.js';
import type { CheckedCompany, CheckedUser, JsonObject } from './validate.js';

export type MergeOutcome = 'merged' | 'already-merged' | 'conflict' | 'none';

const earlier = (a: string | null | undefined, b: string): string => (a && a < b ? a : b);

const hasCampaign = (campaign: unknown): campaign is JsonObject =>
  typeof campaign === 'object' && campaign !== null && Object.values(campaign).some((v) => typeof v === 'string' && v !== '');

/**
 * Whether a value set by a call at `at` replaces one set at `before` (undefined: set before times
 * were kept, or never): the newest call by its own time wins, since SDKs retry and outboxes adopt
 * old items, so an older call can arrive later. Two calls of the same time: the greater value (as
 * JSON), so that arrival order never decides.
 */
function isNewer(at: string, before: string | undefined, value: unknown, current: unknown): boolean {
  if (before === undefined || at > before) return true;
  return at === before && JSON.stringify(value) > JSON.stringify(current);
}

/** Merges a call's metadata over a row's, field by field, keeping each field of the newest call. */
function mergeMetadata(row: { metadata: JsonObject; metadata_times?: Record<string, string> }, metadata: JsonObject, at: string): void {
  // Spread copies, not assignment into the row's objects: a "__proto__" key sent as metadata stays a key.
  const merged: JsonObject = { ...row.metadata };
  const times: Record<string, string> = { ...row.metadata_times };
  for (const [key, value] of Object.entries(metadata)) {
    if (!isNewer(at, Object.hasOwn(times, key) ? times[key] : undefined, value, merged[key])) continue;
    Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
    Object.defineProperty(times, key, { value: at, enumerable: true, writable: true, configurable: true });
  }
  row.metadata = merged;
  row.metadata_times = times;
}

/**
 * First touch: a profile keeps the campaign of its earliest call, by the call's time rather than
 * its arrival, so that calls arriving out of order do not change it.
 */
function keepFirstCampaign(row: UserRow | AnonymousRow | CompanyRow, campaign: unknown, at: string): void {
  if (hasCampaign(campaign) && (!row.campaign || !row.campaign_at || at < row.campaign_at)) {
    row.campaign = campaign;
    row.campaign_at = at;
  }
}

/** The ids an item of any kind carries. */
interface Ids {
  user_id?: string;
  anonymous_id?: string;
  company_id?: string;
  session_token?: string;
}

export function createStitcher(store: IdentityStore) {
  /** The identified user's row, created on first sight. `at` is when the item says it happened. */
  function touchUser(userId: string, at: string): UserRow {
    const row: UserRow = store.getUser(userId) ?? { user_id: userId, metadata: {}, campaign: null, identified_at: at };
    row.identified_at = earlier(row.identified_at, at);
    return row;
  }

  function touchAnonymous(anonymousId: string, at: string): AnonymousRow {
    const row: AnonymousRow = store.getAnonymous(anonymousId) ?? { anonymous_id: anonymousId, metadata: {}, campaign: null, first_seen: at };
    row.first_seen = earlier(row.first_seen, at);
    return row;
  }

  function touchCompany(companyId: string, at: string): CompanyRow {
    const row: CompanyRow = store.getCompany(companyId) ?? { company_id: companyId, metadata: {}, campaign: null, first_seen: at };
    row.first_seen = earlier(row.first_seen, at);
    return row;
  }

  /**
   * Makes an anonymous id a member of a company from `at`, and gives the user it was merged into a
   * copy: the membership stays the id's own, so that it moves with the id if the id turns out to be
   * another user's (batches out of order). Always kept: among the user's own memberships, one the
   * id already had may mark a change again. Returns the id's latest company.
   */
  function joinAnonymous(anonymousId: string, mergedInto: string | null | undefined, companyId: string, at: string): string | null {
    const latest = store.join(anonymousId, companyId, at, true);
    if (mergedInto) store.copyMemberships(anonymousId, mergedInto);
    return latest;
  }

  /** A profile as an item names it: its user, its anonymous id, or both. */
  type Profile = { user?: UserRow; anonymous?: AnonymousRow };

  /**
   * The profile joins a company from `since` (rule 5): the user, or else the anonymous id (and the
   * user it was merged into, by copy).
   */
  function joinCompany({ user, anonymous }: Profile, companyId: string, since: string, always: boolean): void {
    if (user) user.company_id = store.join(user.user_id, companyId, since, always);
    else if (anonymous) anonymous.company_id = joinAnonymous(anonymous.anonymous_id, anonymous.merged_into, companyId, since);
  }

  /**
   * Rules 2 to 4: an item that carries a user id and an anonymous id merges the id into the user,
   * unless another user was seen with it first.
   */
  function mergeAnonymous(user: UserRow, anonymous: AnonymousRow, at: string): MergeOutcome {
    if (anonymous.merged_into === user.user_id) {
      // merged_at is the earliest time the owner was seen with the id, whatever order items arrive in.
      anonymous.merged_at = earlier(anonymous.merged_at, at);
      return 'already-merged';
    }
    // Claimed by another user earlier in time than this item: that merge stands.
    if (anonymous.merged_into && anonymous.merged_at && at >= anonymous.merged_at) return 'conflict';
    // Unclaimed, or claimed by another user later in time than this item (batches arrive out of
    // order, e.g. from an offline outbox): the id belongs to whoever was seen with it first.
    const outcome: MergeOutcome = anonymous.merged_into ? 'conflict' : 'merged';
    // The user who had the id gives back the memberships it brought.
    if (anonymous.merged_into) store.dropCopiedMemberships(anonymous.anonymous_id, anonymous.merged_into);
    anonymous.merged_into = user.user_id;
    anonymous.merged_at = at;
    // The profile that ends is anonymous; the user gets its memberships too (copies), each from its own time.
    if (anonymous.company_id) user.company_id = store.copyMemberships(anonymous.anonymous_id, user.user_id);
    return outcome;
  }

  /**
   * Every session token seen with each id: a companies call carrying one links the profile to the
   * company (observeCompany), whichever session it was and whenever it arrives.
   */
  function recordSession(sessionToken: string, profile: Profile): void {
    const { user, anonymous } = profile;
    const sessionProfile = user ? { user_id: user.user_id } : anonymous ? { anonymous_id: anonymous.anonymous_id } : undefined;
    if (!sessionProfile || !store.putProfileSession(sessionToken, sessionProfile)) return;
    // moesif-browser-js sends identifyUser() and identifyCompany() at once, so the companies call
    // may have arrived first: link the profile now, once per session, as observeCompany would have
    // (from the companies call's time).
    for (const { company_id, since } of store.companiesWithSession(sessionToken)) joinCompany(profile, company_id, since, true);
  }

  /**
   * Applies rules 2-5 for the ids one item carries, and lets `update` change the rows before they
   * are written (users and companies calls use it for metadata and campaign). `at` is when the item
   * says it happened.
   */
  function observe(ids: Ids, at: string, usersCall?: { update: (rows: Profile) => void }): MergeOutcome {
    const profile: Profile = {
      ...(ids.user_id ? { user: touchUser(ids.user_id, at) } : {}),
      ...(ids.anonymous_id ? { anonymous: touchAnonymous(ids.anonymous_id, at) } : {}),
    };
    const { user, anonymous } = profile;
    const outcome = user && anonymous ? mergeAnonymous(user, anonymous, at) : 'none';
    if (ids.company_id) {
      store.putCompany(touchCompany(ids.company_id, at));
      // A users call's membership is always kept: unlike an item, it cannot be read again (store.join).
      joinCompany(profile, ids.company_id, at, usersCall !== undefined);
    }
    if (ids.session_token) recordSession(ids.session_token, profile);
    usersCall?.update(profile);
    if (user) store.putUser(user);
    if (anonymous) store.putAnonymous(anonymous);
    return outcome;
  }

  return {
    /** An action or event arrived: stitch the ids it carries. */
    observeItem: (item: Ids & { time: string }) => observe(item, item.time),

    /**
     * A users call: stitch, then keep its metadata (merged over what is known, field by field, the
     * newest call by its own time winning each) and its campaign (first touch). Its session token is
     * recorded by observe(), as any item's.
     */
    observeUser(call: CheckedUser, now: string): MergeOutcome {
      const at = call.modified_time ?? now;
      return observe(call, at, { update: ({ user, anonymous }) => {
        // Metadata and campaign describe the person: the identified profile when there is one.
        // checkItem makes sure a users call carries one of the two ids.
        const target = (user ?? anonymous) as UserRow | AnonymousRow;
        if (call.metadata) mergeMetadata(target, call.metadata, at);
        // Only there: an anonymous id claimed later by a user seen with it earlier (batches out of
        // order) must not take this user's first touch along.
        keepFirstCampaign(target, call.campaign, at);
      } });
    },

    /** A companies call. */
    observeCompany(call: CheckedCompany, now: string): void {
      const at = call.modified_time ?? now;
      const row = touchCompany(call.company_id, at);
      if (call.company_domain !== undefined && isNewer(at, row.company_domain_at ?? undefined, call.company_domain, row.company_domain)) {
        row.company_domain = call.company_domain;
        row.company_domain_at = at;
      }
      if (call.metadata) mergeMetadata(row, call.metadata, at);
      keepFirstCampaign(row, call.campaign, at);
      store.putCompany(row);
      // moesif-browser-js sends identifyUser() and identifyCompany() as two calls, and the companies
      // call names no user; "if you call both in the same session, Moesif will automatically
      // associate the user with the company" (its README). The session token is what they share.
      if (call.session_token) {
        store.putCompanySession(call.session_token, call.company_id, at);
        const { users, anonymous } = store.profilesWithSession(call.session_token);
        for (const userId of users) store.join(userId, call.company_id, at, true);
        for (const anon of anonymous) joinAnonymous(anon.anonymous_id, anon.merged_into, call.company_id, at);
      }
    },
  };
}
