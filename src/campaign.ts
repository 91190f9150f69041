import type { Campaign } from './wire.js';

const UTM_PARAMETERS = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'] as const;
const CLICK_IDS = ['gclid', 'fbclid', 'msclkid'] as const;

export interface CampaignSwitches {
  disableUtm: boolean;
  disableReferrer: boolean;
  disableGclid: boolean;
}

/**
 * The marketing attribution of this page view: utm parameters, ad click ids and, when the visitor
 * came from another site, the referrer. Undefined when there is nothing to attribute.
 * Same-origin referrers are navigation inside the site, not attribution.
 */
export function readCampaign(pageUrl: string, referrer: string, switches: CampaignSwitches): Campaign | undefined {
  const campaign: Campaign = {};
  try {
    const page = new URL(pageUrl);
    // A hash-routed app's landing address (`/#/pricing?utm_source=news`) has its query in the hash,
    // read there when the address has none, as moesif-browser-js reads it.
    const query = new URLSearchParams(page.search || page.hash.replace(/^[^?]*/, ''));
    for (const name of [...(switches.disableUtm ? [] : UTM_PARAMETERS), ...(switches.disableGclid ? [] : CLICK_IDS)]) {
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
