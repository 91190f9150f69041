import { describe, expect, it } from 'vitest';
import { readCampaign } from '../src/campaign';

const all = { disableUtm: false, disableReferrer: false, disableGclid: false };
const PAGE = 'https://app.acme.test/pricing';
const FULL = `${PAGE}?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=api+analytics&utm_content=hero&gclid=G1&fbclid=F1&msclkid=M1&other=x`;

describe('readCampaign', () => {
  it('reads the five utm parameters', () => {
    expect(readCampaign(`${PAGE}?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=api+analytics&utm_content=hero`, '', all)).toEqual({
      utm_source: 'news',
      utm_medium: 'email',
      utm_campaign: 'spring',
      utm_term: 'api analytics',
      utm_content: 'hero',
    });
  });

  it('reads the gclid, fbclid and msclkid click ids', () => {
    expect(readCampaign(`${PAGE}?gclid=G1&fbclid=F1&msclkid=M1`, '', all)).toEqual({ gclid: 'G1', fbclid: 'F1', msclkid: 'M1' });
  });

  it('ignores query parameters that are not campaign parameters, and empty ones', () => {
    expect(readCampaign(`${PAGE}?ref=x&utm_source=&page=2&utm_medium=cpc`, '', all)).toEqual({ utm_medium: 'cpc' });
  });

  it('records a referrer from another site with its domain', () => {
    expect(readCampaign(PAGE, 'https://news.example.org/article?id=1', all)).toEqual({
      referrer: 'https://news.example.org/article?id=1',
      referring_domain: 'news.example.org',
    });
  });

  it('records a referrer from another subdomain of the site, which is another origin', () => {
    expect(readCampaign(PAGE, 'https://docs.acme.test/guide', all)).toEqual({
      referrer: 'https://docs.acme.test/guide',
      referring_domain: 'docs.acme.test',
    });
  });

  it('does not record a same-origin referrer (navigation inside the site)', () => {
    expect(readCampaign(PAGE, 'https://app.acme.test/home', all)).toBeUndefined();
    expect(readCampaign(`${PAGE}?utm_source=x`, 'https://app.acme.test/home', all)).toEqual({ utm_source: 'x' });
  });

  it('treats another scheme or port as another origin', () => {
    expect(readCampaign(PAGE, 'http://app.acme.test/home', all)?.referring_domain).toBe('app.acme.test');
    // With its port, as moesif sends it.
    expect(readCampaign(PAGE, 'https://app.acme.test:8443/home', all)?.referring_domain).toBe('app.acme.test:8443');
  });

  it('disableUtm leaves out every utm parameter and nothing else', () => {
    const campaign = readCampaign(FULL, 'https://news.example.org/', { ...all, disableUtm: true });
    expect(campaign).toEqual({ gclid: 'G1', fbclid: 'F1', msclkid: 'M1', referrer: 'https://news.example.org/', referring_domain: 'news.example.org' });
  });

  it('disableGclid leaves out every click id and nothing else', () => {
    const campaign = readCampaign(FULL, 'https://news.example.org/', { ...all, disableGclid: true });
    expect(campaign).toEqual({
      utm_source: 'news',
      utm_medium: 'email',
      utm_campaign: 'spring',
      utm_term: 'api analytics',
      utm_content: 'hero',
      referrer: 'https://news.example.org/',
      referring_domain: 'news.example.org',
    });
  });

  it('disableReferrer leaves out the referrer and its domain', () => {
    const campaign = readCampaign(FULL, 'https://news.example.org/', { ...all, disableReferrer: true });
    expect(campaign).not.toHaveProperty('referrer');
    expect(campaign).not.toHaveProperty('referring_domain');
    expect(campaign?.utm_source).toBe('news');
  });

  it('with every switch on, a fully tagged visit records nothing', () => {
    expect(readCampaign(FULL, 'https://news.example.org/', { disableUtm: true, disableReferrer: true, disableGclid: true })).toBeUndefined();
  });

  it('returns undefined for a page without campaign parameters or referrer', () => {
    expect(readCampaign(PAGE, '', all)).toBeUndefined();
    expect(readCampaign(`${PAGE}?page=2#utm_source=hash`, '', all)).toBeUndefined();
  });

  it('returns undefined for a malformed page URL instead of throwing', () => {
    expect(readCampaign('not a url?utm_source=x', 'https://news.example.org/', all)).toBeUndefined();
    expect(readCampaign('', '', all)).toBeUndefined();
  });

  it('ignores a malformed referrer but keeps the page parameters', () => {
    expect(readCampaign(`${PAGE}?utm_source=x`, 'not a url', all)).toEqual({ utm_source: 'x' });
    expect(readCampaign(PAGE, '::::', all)).toBeUndefined();
  });

  it('decodes percent-encoded values', () => {
    expect(readCampaign(`${PAGE}?utm_campaign=black%20friday%20%E2%82%AC`, '', all)).toEqual({ utm_campaign: 'black friday €' });
  });
});
