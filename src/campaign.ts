import type { Campaign } from './wire';

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
  let page: URL;
  try {
    page = new URL(pageUrl);
  } catch {
    return undefined;
  }
  const take = (names: readonly (keyof Campaign)[]): void => {
    for (const name of names) {
      const value = page.searchParams.get(name);
      if (value) campaign[name] = value;
    }
  };
  if (!switches.disableUtm) take(UTM_PARAMETERS);
  if (!switches.disableGclid) take(CLICK_IDS);
  if (!switches.disableReferrer && referrer) {
    try {
      const from = new URL(referrer);
      if (from.origin !== page.origin) {
        campaign.referrer = referrer;
        campaign.referring_domain = from.hostname;
      }
    } catch {
      /* not a URL: nothing to attribute */
    }
  }
  return Object.keys(campaign).length ? campaign : undefined;
}
