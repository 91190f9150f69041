import type { ResolvedOptions } from './options.js';
import type { Store } from './storage/store.js';

/**
 * Publishing consent. 'granted': the SDK stores and sends as usual. 'pending': it works in memory
 * only, keeping what happens for when consent comes. 'revoked': it keeps and sends nothing.
 */
export type Consent = 'granted' | 'pending' | 'revoked';

/** Our own key (moesif's keys stay as they are); it holds only the decision, never an id. */
export const CONSENT_KEY = 'usertrail_consent';

/**
 * The decision stored by this page, another tab or a subdomain: one of the two values decide() writes.
 * Anything else (a cookie edited by hand or by another script) is no decision, read the same way at
 * load and afterwards: with `requirePublishingConsent` the page then waits for one.
 */
const storedDecision = (decision: Store): 'granted' | 'revoked' | undefined => {
  const stored = decision.get(CONSENT_KEY);
  return stored == 'granted' || stored == 'revoked' ? stored : undefined;
};

/**
 * The state a page starts in. A stored decision wins; Do Not Track or Global Privacy Control count
 * as a refusal when `respectDoNotTrack` is set, unless the visitor granted consent on this site.
 */
const initialConsent = (options: ResolvedOptions, stored: Consent | undefined): Consent =>
  stored ??
  (options.respectDoNotTrack && (navigator.doNotTrack == '1' || (navigator as { globalPrivacyControl?: boolean }).globalPrivacyControl)
    ? 'revoked'
    : options.requirePublishingConsent
      ? 'pending'
      : 'granted');

export interface ConsentDeps {
  /** Where the decision is kept: its own store, written at once (it is not an id). */
  decision: Store;
  /** Consent granted: store what was held in memory, and start sending. */
  persist(): void;
  /** Consent revoked: remove the ids, the campaign and the queue, and send nothing more. */
  forget(): void;
}

/**
 * The consent state of one instance: the decision made here (`decide`), or stored by another tab or
 * subdomain of the site (`follow`), acted on once each time it changes.
 */
export function createConsent({ decision, persist, forget }: ConsentDeps) {
  let state: Consent | undefined;
  /** Acts on a decision, made here or stored elsewhere. */
  const apply = (choice: Consent): void => {
    if (choice == 'revoked') forget();
    else if (state != 'granted' && choice == 'granted') persist();
    state = choice;
  };
  /**
   * Follows a decision another tab or subdomain stored. Called before any id is read: a tab still
   * running on an old decision would otherwise restore the ids another tab just removed (from its own
   * localStorage) and go on sending.
   */
  const follow = (): void => {
    const stored = storedDecision(decision);
    if (stored && stored != state) apply(stored);
  };
  return {
    state: (): Consent | undefined => state,
    /** The state a page starts in. Not decide(): a site that asks for no consent gets no consent cookie, nor does a Do Not Track refusal. */
    start(options: ResolvedOptions): void {
      apply(initialConsent(options, storedDecision(decision)));
    },
    /** The visitor's decision, made on this page: stored, then acted on. */
    decide(choice: 'granted' | 'revoked'): void {
      decision.set(CONSENT_KEY, choice);
      apply(choice);
    },
    follow,
    /** Whether consent is granted now, as this page decided it or (followed first) another tab or subdomain. */
    granted(): boolean {
      follow();
      return state == 'granted';
    },
  };
}

export type ConsentController = ReturnType<typeof createConsent>;
