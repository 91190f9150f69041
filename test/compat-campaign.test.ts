import { describe, expect, it } from 'vitest';
import { readCampaign } from '../src/campaign';

/**
 * Migration audit of the first-touch campaign: what moesif-browser-js 1.8.13 records from the landing
 * address (its src/campaign.js and utils.js `getUrlParams`), usertrail records too.
 */

const all = { disableUtm: false, disableReferrer: false, disableGclid: false };

describe('a hash-routed app (Angular, Vue hash mode): the query in the hash', () => {
  // moesif reads `location.search || location.href.substring(location.href.indexOf('?'))`: a
  // marketing link to `/#/pricing?utm_source=news` carries its campaign after the hash.
  it('is read when the address has no query of its own, as moesif reads it', () => {
    expect(readCampaign({ pageUrl: 'https://app.acme.test/#/landing?utm_source=news&utm_campaign=spa&gclid=G1', referrer: '', switches: all })).toEqual({
      utm_source: 'news',
      utm_campaign: 'spa',
      gclid: 'G1',
    });
  });

  it('is not read when the address has a query (moesif reads location.search then)', () => {
    expect(readCampaign({ pageUrl: 'https://app.acme.test/?utm_source=query#/landing?utm_source=hash', referrer: '', switches: all })).toEqual({ utm_source: 'query' });
  });

  it('a hash with no query, or a plain anchor, gives no campaign', () => {
    expect(readCampaign({ pageUrl: 'https://app.acme.test/#/landing', referrer: '', switches: all })).toBeUndefined();
    expect(readCampaign({ pageUrl: 'https://app.acme.test/docs#utm_source', referrer: '', switches: all })).toBeUndefined();
  });
});
