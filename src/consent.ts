import type { ResolvedOptions } from './options';

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
export function initialConsent(options: ResolvedOptions, stored: string | null): Consent {
  if (stored === 'revoked') return 'revoked';
  if (stored === 'granted') return 'granted';
  const signals = navigator as Navigator & { globalPrivacyControl?: boolean };
  if (options.respectDoNotTrack && (signals.doNotTrack === '1' || signals.globalPrivacyControl === true)) return 'revoked';
  return options.requirePublishingConsent ? 'pending' : 'granted';
}
