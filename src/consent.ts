import type { ResolvedOptions } from './options.js';

/**
 * Publishing consent. 'granted': the SDK stores and sends as usual. 'pending': it works in memory
 * only, keeping what happens for when consent comes. 'revoked': it keeps and sends nothing.
 */
export type Consent = 'granted' | 'pending' | 'revoked';

/** Our own key (moesif's keys stay as they are); it holds only the decision, never an id. */
export const CONSENT_KEY = 'usertrail_consent';

/**
 * The state a page starts in. A stored decision wins; Do Not Track or Global Privacy Control count
 * as a refusal when `respectDoNotTrack` is set, unless the visitor granted consent on this site.
 */
export const initialConsent = (options: ResolvedOptions, stored: string | null): Consent =>
  stored == 'revoked' || stored == 'granted'
    ? stored
    : options.respectDoNotTrack && (navigator.doNotTrack == '1' || (navigator as { globalPrivacyControl?: boolean }).globalPrivacyControl)
      ? 'revoked'
      : options.requirePublishingConsent
        ? 'pending'
        : 'granted';
