import type { Campaign } from './wire.js';

/** Google Analytics' (urchin's) campaign cookie, which moesif-browser-js reads utm values from. */
export const GA_CAMPAIGN_COOKIE = '__utmz';

/** The utm parameters, each with the field of Google Analytics' `__utmz` cookie that holds the same value. */
const UTM_PARAMETERS = { utm_source: 'utmcsr', utm_medium: 'utmcmd', utm_campaign: 'utmccn', utm_term: 'utmctr', utm_content: 'utmcct' } as const;
const CLICK_IDS = ['gclid', 'fbclid', 'msclkid'] as const;

/**
 * The fields of Google Analytics' (urchin's) `__utmz` cookie, `173272373.1700000000.2.1.utmcsr=news|utmcmd=email`:
 * counts joined by dots, then fields joined by `|`. They start after the last dot before the first `=`;
 * moesif-browser-js reads from the last dot on, which loses a source with dots (`google.com`).
 */
const utmzFields = (cookie: string): URLSearchParams =>
  new URLSearchParams(cookie.slice(cookie.lastIndexOf('.', cookie.indexOf('=')) + 1).replace(/\|/g, '&'));

export interface CampaignSwitches {
  disableUtm: boolean;
  disableReferrer: boolean;
  disableGclid: boolean;
}

/** What a page view's campaign is read from. */
export interface CampaignSources {
  /** The page's address (its query, or a hash-routed app's query in its hash): utm parameters and click ids. */
  pageUrl: string;
  /** `document.referrer`, '' when there is none (a typed address, a bookmark). */
  referrer: string;
  /** Which parts to leave out: the options of the same names. */
  switches: CampaignSwitches;
  /** Google Analytics' `__utmz` cookie, '' (the default) when the site has none. */
  gaCookie?: string;
}

/**
 * The marketing attribution of this page view: utm parameters, ad click ids and, when the visitor
 * came from another site, the referrer. Undefined when there is nothing to attribute.
 * Same-origin referrers are navigation inside the site, not attribution.
 * As moesif-browser-js, each utm parameter the address lacks is taken from Google Analytics' `__utmz`
 * cookie (`gaCookie`), when the site has one.
 */
export function readCampaign({ pageUrl, referrer, switches, gaCookie = '' }: CampaignSources): Campaign | undefined {
  const campaign: Campaign = {};
  try {
    const page = new URL(pageUrl);
    // A hash-routed app's landing address (`/#/pricing?utm_source=news`) has its query in the hash,
    // read there when the address has none, as moesif-browser-js reads it.
    const query = new URLSearchParams(page.search || page.hash.replace(/^[^?]*/, ''));
    const gaFields = utmzFields(gaCookie);
    const utm = switches.disableUtm ? [] : (Object.entries(UTM_PARAMETERS) as Array<[keyof typeof UTM_PARAMETERS, string]>);
    for (const [name, gaField] of utm) {
      const value = query.get(name) || gaFields.get(gaField);
      if (value) campaign[name] = value;
    }
    for (const name of switches.disableGclid ? [] : CLICK_IDS) {
      const value = query.get(name);
      if (value) campaign[name] = value;
    }
    // No referrer (a typed address, a bookmark) is checked first rather than thrown by `new URL`: an
    // exception cost init() about a millisecond on such a first visit.
    const from = referrer && !switches.disableReferrer ? new URL(referrer) : undefined;
    if (from && from.origin != page.origin) {
      campaign.referrer = referrer;
      // host, port included, as moesif sends it.
      campaign.referring_domain = from.host;
    }
  } catch {
    /* a malformed page address or referrer: nothing more to attribute */
  }
  return Object.keys(campaign).length ? campaign : undefined;
}
