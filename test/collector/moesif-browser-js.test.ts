// @vitest-environment node
/**
 * The real moesif-browser-js 1.8.13 (its moesif.min.js from node_modules) in a jsdom page at
 * app.example.test, sending to the collector on 127.0.0.1 over real cross-origin XHR (preflights
 * included): what a site that has not migrated yet sends, the collector must take and stitch.
 */
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_APP_ID, startTestCollector, type TestCollector } from './support';

const MOESIF_JS = readFileSync(new URL('../../node_modules/moesif-browser-js/moesif.min.js', import.meta.url), 'utf8');

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

/** A page running moesif-browser-js; `answers` collects what its callback option received (null: a 2xx). */
function page(url: string, referrer?: string) {
  const dom = new JSDOM('<!doctype html><html><body></body></html>', { url, referrer, runScripts: 'outside-only' });
  const w = dom.window as any;
  // jsdom has no blob URLs, from which moesif's uuid4() (its transaction ids) reads a UUID.
  w.URL.createObjectURL = () => `blob:${url}/${crypto.randomUUID()}`;
  w.URL.revokeObjectURL = () => {};
  w.eval(MOESIF_JS);
  const answers: unknown[] = [];
  return { moesif: w.moesif, answers, callback: (answer: unknown) => answers.push(answer ?? null), close: () => dom.window.close() };
}

const profile = async (id: string) => (await c.get(`/api/users/${encodeURIComponent(id)}`)).body;

describe('moesif-browser-js 1.8.13 against the collector', () => {
  it.each([
    ['one request per call', {}],
    ['batches', { batchEnabled: true, batchMaxTime: 50 }],
  ])('stitches a docs visit, a sign-up with identifyUser(number) then identifyCompany(), and a second visitor after reset() (%s)', async (label, options) => {
    const tag = label === 'batches' ? 'b' : 's';
    const p = page(`http://app.example.test/docs/?utm_source=newsletter-${tag}`, 'https://search.example.test/');
    const { moesif } = p;
    try {
      moesif.init({ applicationId: DEFAULT_APP_ID, host: new URL(c.url).host, callback: p.callback, ...options });
      const anonymous = moesif._anonymousId;
      moesif.track('Read Docs');
      // Sign-up: the app's database id is a number; the company is known only after the user.
      const userId = tag === 's' ? 1001 : 2002;
      moesif.identifySession(`session-${tag}`);
      moesif.identifyUser(userId, { email: `${tag}@acme.example` });
      moesif.identifyCompany(`acme-${tag}`, { plan: 'team' }, 'acme.example');
      await vi.waitFor(async () => expect((await profile(String(userId))).company_id).toBe(`acme-${tag}`), { timeout: 5000 });
      moesif.track('Signed Up');
      // Log-out, then someone else browses anonymously on the same browser.
      moesif.reset();
      const next = moesif._anonymousId;
      expect(next).not.toBe(anonymous);
      moesif.track('Read Docs');

      await vi.waitFor(
        async () => {
          expect(await profile(String(userId))).toMatchObject({
            user_id: String(userId),
            anonymous_ids: [anonymous],
            company_id: `acme-${tag}`,
            action_count: 2,
            campaign: { utm_source: `newsletter-${tag}`, referring_domain: 'search.example.test' },
            metadata: { email: `${tag}@acme.example` },
          });
          expect(await profile(next)).toMatchObject({ user_id: next, identified_user_id: null, action_count: 1 });
        },
        { timeout: 5000 },
      );
      expect(p.answers.every((a) => a === null)).toBe(true);
      // One request per call: 'Signed Up' only, since 'Read Docs' came before identifyCompany() and
      // only later traffic is the company's. With batches it depends on arrival: track() sends no
      // time, so the collector times 'Read Docs' when its batch arrives, after identifyCompany()'s call.
      const actions = tag === 's' ? { action_count: 1 } : {};
      expect((await c.get(`/api/companies/acme-${tag}`)).body).toMatchObject({ company_domain: 'acme.example', user_count: 1, ...actions });
    } finally {
      p.close();
    }
  });
});
