import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromiumArgs } from '../scripts/chromium.mjs';
import { chromiumLaunchOptions } from './support/browser';
import { startHttpsSite } from './support/https';
import { startRecorder, umdPage, type Recorder } from './support/recorder';

/**
 * Adversarial audit of the anonymous id and its storage in the places real pages run: storage that
 * throws or is refused, frames of every kind, unusual hosts, ids left by others, and the order in which
 * apps call the identity methods. The journey before and after sign-in must stay one visitor, no id
 * may outlive a reset(), the page never sees a throw, and every cookie is SameSite=Lax (Secure on https).
 */

// Beside the subdomains of example.test and acme.github.io (e2e/support/browser.ts), hosts of other kinds.
test.use({
  launchOptions: {
    ...chromiumLaunchOptions,
    args: [
      ...chromiumArgs,
      '--host-resolver-rules=MAP *.example.test 127.0.0.1,MAP *.github.io 127.0.0.1,MAP intranet 127.0.0.1,MAP *.co.uk 127.0.0.1,MAP app.example.test. 127.0.0.1',
    ],
  },
});

let collector: Recorder;
let https: Awaited<ReturnType<typeof startHttpsSite>>;
test.beforeAll(async () => {
  collector = await startRecorder();
  https = await startHttpsSite();
});
test.afterAll(async () => {
  await https.close();
  await collector.close();
});

const init = (extra = '') => `moesif.init({ applicationId: 'edges', host: 'http://127.0.0.1:${collector.port}', batchMaxTime: 50${extra} });`;

/** Console warnings and errors, and uncaught errors, of a page (favicon 404s left out). */
const problemsOf = (page: Page): string[] => {
  const problems: string[] = [];
  page.on('console', (message) => {
    if ((message.type() == 'warning' || message.type() == 'error') && !message.text().includes('404')) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  return problems;
};

/** Opens a new page of `context` at `origin` that loads the UMD build (after `head`) and runs `script`. */
async function open(context: BrowserContext, origin: string, script: string, head = '') {
  const path = `/edges-${Math.random().toString(36).slice(2)}`;
  collector.page(path, umdPage(script, head));
  const page = await context.newPage();
  const problems = problemsOf(page);
  await page.goto(origin + path);
  return { page, problems };
}

/** The ids the SDK gives: anonymous, user, company, session. */
const idsOf = (page: Page, global = 'moesif') =>
  page.evaluate((name) => {
    const sdk = (window as unknown as Record<string, typeof window.moesif>)[name];
    return [sdk.getAnonymousId(), sdk.getUserId(), sdk.getCompanyId(), sdk.getSessionToken()];
  }, global);

/** The action named `name`, once the collector has it (each test names its actions apart). */
const action = async (name: string) => {
  await expect.poll(() => collector.items('actions').some((item) => item.action_name == name), { message: `action ${name}` }).toBe(true);
  return collector.items('actions').find((item) => item.action_name == name)!;
};

/** Records in `window.cookieWrites` every string a frame of the page writes to document.cookie. */
const recordCookieWrites = (page: Page) =>
  page.addInitScript(() => {
    const cookie = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie')!;
    const writes: string[] = [];
    Object.assign(window, { cookieWrites: writes });
    Object.defineProperty(Document.prototype, 'cookie', {
      ...cookie,
      set(value: string) {
        writes.push(value);
        cookie.set!.call(this, value);
      },
    });
  });
/** Runs `script` with the SDK in an about:srcdoc frame that `page` adds; resolves once the frame has loaded. */
const inSrcdocFrame = (page: Page, script: string) =>
  page.evaluate(
    (script) =>
      new Promise<void>((resolve) => {
        const frame = document.createElement('iframe');
        frame.srcdoc = `<script src="/dist/moesif.min.js"></script><script>${script}</script>`;
        frame.onload = () => resolve();
        document.body.append(frame);
      }),
    script,
  );

const cookieWrites = (page: Page) => page.evaluate(() => (window as unknown as { cookieWrites: string[] }).cookieWrites);

/** The browser's cookies, polled: context.cookies() can lag a moment behind document.cookie. */
const cookiesOf = async (context: BrowserContext, count: number) => {
  await expect.poll(async () => (await context.cookies()).length).toBe(count);
  return context.cookies();
};

test.describe('cookie attributes', () => {
  test('on https every cookie written, the domain probe included, is SameSite=Lax and Secure', async ({ browser }) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await recordCookieWrites(page);
      https.page('/secure', umdPage(`${init()} moesif.identifyUser('tls-user');`));
      await page.goto(https.at('app.example.test') + '/secure');
      for (const cookie of await cookiesOf(context, 2)) expect(cookie, cookie.name).toMatchObject({ domain: '.example.test', sameSite: 'Lax', secure: true });
      // The probe is removed at once, so the browser's list never shows it: what the page wrote does.
      const stored = (await cookieWrites(page)).filter((write) => /max-age=[1-9]/.test(write));
      expect(stored.some((write) => write.startsWith('usertrail_probe='))).toBe(true);
      for (const write of stored) expect(write).toMatch(/; sameSite=lax; secure/i);
    } finally {
      await context.close();
    }
  });

  test('an about:srcdoc frame of an https page writes to the site-wide cookies, Secure, as its page does', async ({ browser }) => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      https.page('/with-frame', umdPage(init()));
      await page.goto(https.at('app.example.test') + '/with-frame');
      const pageId = (await idsOf(page))[0];
      await inSrcdocFrame(page, `${init()} moesif.identifyCompany('framed-company'); parent.frameId = moesif.getAnonymousId();`);
      expect(await page.evaluate(() => (window as unknown as { frameId: string }).frameId)).toBe(pageId);
      const company = (await cookiesOf(context, 2)).find((cookie) => cookie.name == 'moesif_stored_company_id');
      expect(company).toMatchObject({ value: 'framed-company', domain: '.example.test', sameSite: 'Lax', secure: true });
    } finally {
      await context.close();
    }
  });
});

test.describe('frames', () => {
  test('an about:srcdoc frame does not take the page that made it for a campaign referrer', async ({ context }) => {
    const { page } = await open(context, collector.at('app.example.test'), init());
    await inSrcdocFrame(page, `${init()} parent.framed = [document.referrer, moesif.getAnonymousId()];`);
    const [referrer, frameId] = await page.evaluate(() => (window as unknown as { framed: string[] }).framed);
    // Chromium gives the frame its page's address as referrer: the same site, no campaign.
    expect(new URL(referrer).host).toBe(new URL(page.url()).host);
    expect(frameId).toBe((await idsOf(page))[0]);
    expect((await cookiesOf(context, 1)).map((cookie) => cookie.name)).toEqual(['moesif_anonymous_id']);
  });
});

test.describe('ids left by others', () => {
  test('behind the cookies moesif-browser-js 1.8.13 set on the whole host name, identifyUser, identifySession and resetAnonymousId still change the ids', async ({ context }) => {
    // As moesif's _.cookie.set writes them on hosts like app.abc.io (see compat-api.spec.ts): the browser lists them before ours.
    const moesifCookies = ['moesif_anonymous_id=1a24ea5-moesif', 'moesif_stored_user_id=alice', 'moesif_stored_session_id=alice-session']
      .map((cookie) => `document.cookie = '${cookie}; max-age=86400; path=/; domain=.app.example.test';`)
      .join(' ');
    const { page } = await open(context, collector.at('app.example.test'), `${moesifCookies} ${init()}`);
    expect(await idsOf(page)).toEqual(['1a24ea5-moesif', 'alice', undefined, 'alice-session']);
    await page.evaluate(() => {
      window.moesif.identifyUser('bob');
      window.moesif.identifySession('bob-session');
    });
    const [afterLogIn, user, , session] = await idsOf(page);
    expect([user, session]).toEqual(['bob', 'bob-session']);
    expect(afterLogIn).not.toBe('1a24ea5-moesif');
    const renewed = await page.evaluate(() => window.moesif.resetAnonymousId());
    expect(renewed).not.toBe(afterLogIn);
    await page.reload();
    expect(await idsOf(page)).toEqual([renewed, 'bob', undefined, 'bob-session']);
    await page.evaluate(() => window.moesif.track('Bob behind moesif cookies'));
    expect(await action('Bob behind moesif cookies')).toMatchObject({ user_id: 'bob', session_token: 'bob-session' });
  });

  test('cookies and localStorage disagreeing: the cookie wins and localStorage is repaired; either one lost, the other restores it', async ({ context }) => {
    const { page } = await open(context, collector.at('app.example.test'), `${init()} moesif.identifyUser('carol');`);
    const [anonymousId] = await idsOf(page);
    await page.evaluate(() => {
      localStorage.setItem('moesif_anonymous_id', 'stale-anonymous-id');
      localStorage.setItem('moesif_stored_user_id', 'mallory');
    });
    await page.reload();
    expect(await idsOf(page)).toEqual([anonymousId, 'carol', undefined, undefined]);
    expect(await page.evaluate(() => [localStorage.moesif_anonymous_id, localStorage.moesif_stored_user_id])).toEqual([anonymousId, 'carol']);
    // Safari's ITP ends script-written cookies after 7 days: localStorage brings them all back.
    await context.clearCookies();
    await page.reload();
    expect(await idsOf(page)).toEqual([anonymousId, 'carol', undefined, undefined]);
    expect((await cookiesOf(context, 2)).map((cookie) => cookie.value).sort()).toEqual([anonymousId, 'carol'].sort());
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    expect(await idsOf(page)).toEqual([anonymousId, 'carol', undefined, undefined]);
    expect(await page.evaluate(() => [localStorage.moesif_anonymous_id, localStorage.moesif_stored_user_id])).toEqual([anonymousId, 'carol']);
  });

  test('an id cookie that cannot be decoded is restored from localStorage, and an empty one means a new visitor, never a throw', async ({ context }) => {
    const { page, problems } = await open(context, collector.at('app.example.test'), init());
    const [anonymousId] = await idsOf(page);
    await page.evaluate(() => {
      document.cookie = 'moesif_anonymous_id=%E0%A4%A; path=/; domain=.example.test';
    });
    await page.reload();
    expect((await idsOf(page))[0]).toBe(anonymousId);
    await page.evaluate(() => {
      localStorage.clear();
      document.cookie = 'moesif_anonymous_id=; path=/; domain=.example.test';
    });
    await page.reload();
    expect((await idsOf(page))[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect((await idsOf(page))[0]).not.toBe(anonymousId);
    expect(problems).toEqual([]);
  });

  test('a tampered anonymous id (10 KB in localStorage, a control character in the cookie) is replaced by a new one, sent and kept, with one warning that does not show it', async ({ context }) => {
    const { page, problems } = await open(context, collector.at('app.example.test'), init());
    const [first] = await idsOf(page);
    // 10 KB, far over any id an SDK makes; too long for a cookie, so localStorage alone can hold it.
    await page.evaluate(() => localStorage.setItem('moesif_anonymous_id', 'ab-'.repeat(3_400)));
    await context.clearCookies();
    await page.reload();
    const [second] = await idsOf(page);
    // Sliced: a failure shows 40 characters, not 10 KB.
    expect(second!.slice(0, 40)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(second).not.toBe(first);
    await page.evaluate(() => window.moesif.track('After 10 KB of anonymous id'));
    expect((await action('After 10 KB of anonymous id')).anonymous_id).toBe(second);
    expect((await context.cookies()).find((cookie) => cookie.name == 'moesif_anonymous_id')?.value).toBe(second);
    expect(await page.evaluate(() => localStorage.getItem('moesif_anonymous_id'))).toBe(second);

    // A bell character, as a cookie on the site's domain (another subdomain or a script could write it).
    await page.evaluate(() => {
      document.cookie = `moesif_anonymous_id=${encodeURIComponent('c0ffee-\u0007-beef')}; path=/; domain=.example.test`;
    });
    await page.reload();
    const [third] = await idsOf(page);
    expect(third).toMatch(/^[0-9a-f-]{36}$/);
    expect(third).not.toBe(second);
    await page.evaluate(() => window.moesif.track('After a bell in the anonymous id'));
    expect((await action('After a bell in the anonymous id')).anonymous_id).toBe(third);
    expect((await context.cookies()).find((cookie) => cookie.name == 'moesif_anonymous_id')?.value).toBe(third);
    await page.reload();
    expect((await idsOf(page))[0]).toBe(third);
    const malformed = problems.filter((problem) => problem.includes('malformed'));
    // One warning per page that met a tampered id; never the value.
    expect(malformed).toEqual(Array(2).fill('[usertrail] stored anonymous id is malformed: replaced with a new one'));
    expect(problems.join('\n')).not.toMatch(/ab-ab|c0ffee/);
  });
});

test.describe('log-out', () => {
  test("clearCookies() and clearStorage() at log-out: another subdomain's localStorage does not bring the old user back", async ({ context }) => {
    const docs = await open(context, collector.at('docs.example.test'), init());
    const app = await open(context, collector.at('app.example.test'), init());
    await app.page.evaluate(() => window.moesif.identifyUser('dave'));
    // docs mirrors the signed-in ids in its own localStorage.
    await docs.page.reload();
    expect((await idsOf(docs.page))[1]).toBe('dave');
    // The log-out page goes straight on to docs: nothing on app reads an id after the calls.
    await app.page.evaluate(() => {
      window.moesif.clearCookies();
      window.moesif.clearStorage();
    });
    await docs.page.reload();
    const [afterLogOut, user] = await idsOf(docs.page);
    expect(user).toBeUndefined();
    await app.page.reload();
    expect(await idsOf(app.page)).toEqual([afterLogOut, undefined, undefined, undefined]);
  });

  test("two copies of the SDK on one page: after reset() in one, the other's next call is the new anonymous visitor", async ({ context }) => {
    const { page } = await open(
      context,
      collector.at('app.example.test'),
      `${init()} window.second = moesif.new(); ${init().replace('moesif.', 'second.')} moesif.identifyUser('erin');`,
    );
    await page.evaluate(() => {
      const second = (window as unknown as { second: typeof window.moesif }).second;
      // The second copy has just read the cookie jar.
      second.track('Second copy, signed in');
      window.moesif.reset();
      second.track('Second copy, after log-out');
    });
    expect(await action('Second copy, signed in')).toMatchObject({ user_id: 'erin' });
    const afterLogOut = await action('Second copy, after log-out');
    expect(afterLogOut.user_id).toBeUndefined();
    expect(afterLogOut.anonymous_id).toBe((await idsOf(page))[0]);
  });

  test('a page view still waiting for its title when reset() and another identifyUser() come is sent as the visitor who navigated', async ({ context }) => {
    const { page } = await open(context, collector.at('app.example.test'), `${init(', trackPageViews: true')} moesif.identifyUser('liam');`);
    const liamPath = `/goodbye-${Math.random().toString(36).slice(2)}`;
    // The app navigates to its log-out route, then logs out and a colleague logs in, before the route sets its title.
    await page.evaluate((path) => {
      history.pushState(null, '', path);
      window.moesif.reset();
      window.moesif.identifyUser('mia');
    }, liamPath);
    await expect.poll(() => collector.items('actions').some((item) => (item.metadata as { pathname?: string } | undefined)?.pathname == liamPath)).toBe(true);
    const view = collector.items('actions').find((item) => (item.metadata as { pathname?: string } | undefined)?.pathname == liamPath)!;
    expect(view.user_id).toBe('liam');
  });

  test('identifyUser, reset(), identifyUser as another: nothing of the first user goes with the second; the same id twice is one users call', async ({ context }) => {
    const { page } = await open(
      context,
      collector.at('app.example.test'),
      `moesif.reset(); moesif.identifyCompany('frank-co'); ${init()}
       moesif.identifyUser('frank'); moesif.identifyUser('frank'); moesif.identifySession('frank-session'); moesif.track('Frank');
       moesif.reset(); moesif.identifyUser('grace'); moesif.track('Grace');`,
    );
    const frank = await action('Frank');
    const grace = await action('Grace');
    expect(frank).toMatchObject({ user_id: 'frank', company_id: 'frank-co', session_token: 'frank-session' });
    expect(grace).toMatchObject({ user_id: 'grace' });
    expect(grace).not.toHaveProperty('company_id');
    expect(grace).not.toHaveProperty('session_token');
    await collector.settled(page);
    const users = collector.items('users').filter((user) => user.user_id == 'frank' || user.user_id == 'grace');
    expect(users.map((user) => user.user_id)).toEqual(['frank', 'grace']);
    const [, graceUser] = users;
    expect(graceUser.anonymous_id).not.toBe(users[0].anonymous_id);
    expect(graceUser).not.toHaveProperty('company_id');
  });
});

test.describe('cross-domain tracking', () => {
  test("a signed-in visitor who comes back from the other site brings its anonymous id, and that visit is linked to the user", async ({ context }) => {
    const options = ", enableCrossDomainTracking: true, crossDomainTargets: ['acme.github.io']";
    const { page } = await open(context, collector.at('app.example.test'), `${init(options)} moesif.identifyUser('kate');`);
    const path = new URL(page.url()).pathname;
    // The id the other site (acme.github.io) gave this visitor, who read its docs anonymously.
    const otherSiteId = '3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f';
    await page.goto(collector.at('app.example.test') + path + '?__mt=' + otherSiteId);
    expect(await idsOf(page)).toEqual([otherSiteId, 'kate', undefined, undefined]);
    await expect.poll(() => collector.items('users').some((user) => user.user_id == 'kate' && user.anonymous_id == otherSiteId)).toBe(true);
  });
});

test.describe('storage refused or failing', () => {
  const failing = {
    'localStorage full (setItem throws QuotaExceededError)': `Storage.prototype.setItem = function () { throw new DOMException('full', 'QuotaExceededError'); };`,
    'localStorage blocked (reading it throws)': `Object.defineProperty(window, 'localStorage', { get() { throw new DOMException('denied', 'SecurityError'); } });`,
    'cookies refused (the document.cookie setter does nothing)': `Object.defineProperty(Document.prototype, 'cookie', { get() { return ''; }, set() {} });`,
  };
  for (const [name, script] of Object.entries(failing)) {
    test(`${name}: one anonymous id through the page, actions arrive, nothing thrown or warned`, async ({ context }) => {
      const { page, problems } = await open(context, collector.at('app.example.test'), `${init()} moesif.track('${name}');`, `<script>${script}</script>`);
      const [anonymousId] = await idsOf(page);
      await page.evaluate(() => {
        for (let i = 0; i < 20; i++) window.moesif.track('More');
        window.moesif.identifyUser('heidi');
      });
      expect(await idsOf(page)).toEqual([anonymousId, 'heidi', undefined, undefined]);
      expect(await action(name)).toMatchObject({ anonymous_id: anonymousId });
      expect(problems).toEqual([]);
    });
  }

  test("persistence: 'cookie' where Chromium refuses the page cookies: the ids hold for this page only, and one warning says so", async ({ context }) => {
    const page = await context.newPage();
    const problems = problemsOf(page);
    // Chromium's own switch for a document without cookies (navigator.cookieEnabled false, document.cookie
    // empty and unwritable), as a visitor's cookie block gives it; localStorage stays, which 'cookie' keeps the ids out of.
    await (await context.newCDPSession(page)).send('Emulation.setDocumentCookieDisabled', { disabled: true });
    collector.page('/cookies-refused', umdPage(`${init(", persistence: 'cookie'")} moesif.identifyUser('kim'); moesif.track('Cookies refused');`));
    await page.goto(collector.at('app.example.test') + '/cookies-refused');
    expect(await action('Cookies refused')).toMatchObject({ user_id: 'kim' });
    expect(await page.evaluate(() => navigator.cookieEnabled)).toBe(false);
    const warning = "[usertrail] no cookies (persistence 'cookie'): ids kept for this page only";
    expect(problems).toEqual([warning]);
    // Nothing outlives the page: a reload is a new visitor, told again.
    const [anonymousId] = await idsOf(page);
    await page.reload();
    await page.evaluate(() => window.moesif.track('After the reload'));
    expect(await action('After the reload')).not.toMatchObject({ anonymous_id: anonymousId });
    expect(await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('moesif_')))).toEqual([]);
    expect(problems).toEqual([warning, warning]);
  });

  test('in a sandboxed frame (no allow-same-origin), where storage and cookies throw, tracking goes on with one warning', async ({ context }) => {
    collector.page('/sandboxed', umdPage(`${init()} moesif.track('From the sandbox'); moesif.track('Again from the sandbox');`));
    collector.page('/sandbox-parent', '<!doctype html><iframe sandbox="allow-scripts" src="/sandboxed"></iframe>');
    const page = await context.newPage();
    const problems = problemsOf(page);
    await page.goto(collector.at('app.example.test') + '/sandbox-parent');
    const [first, second] = [await action('From the sandbox'), await action('Again from the sandbox')];
    expect(second.anonymous_id).toBe(first.anonymous_id);
    expect(problems).toEqual(['[usertrail] no cookies or localStorage: ids kept for this page only']);
  });

  test('in a third-party frame, where this Chromium gives neither cookies nor localStorage, the ids hold for the page with no warning', async ({ context }) => {
    const page = await context.newPage();
    const problems = problemsOf(page);
    collector.page('/widget', umdPage(`${init()} moesif.identifyUser('ivan'); moesif.track('Widget');`));
    collector.page('/embedding', `<!doctype html><iframe src="${collector.at('widget.github.io')}/widget"></iframe>`);
    await page.goto(collector.at('app.example.test') + '/embedding');
    const widget = await action('Widget');
    expect(widget).toMatchObject({ user_id: 'ivan' });
    const frame = page.frames().find((candidate) => candidate.url().includes('/widget'))!;
    await frame.evaluate(() => {
      for (let i = 0; i < 20; i++) window.moesif.track('Widget again');
    });
    expect(await frame.evaluate(() => [window.moesif.getUserId(), window.moesif.getAnonymousId() == window.moesif.getAnonymousId()])).toEqual(['ivan', true]);
    expect(await context.cookies()).toEqual([]);
    expect(problems).toEqual([]);
  });

  test('on a file:// page, where Chromium keeps no cookie and keeps localStorage, the ids survive a reload and calls write no cookie', async ({ context }) => {
    const dir = mkdtempSync(join(tmpdir(), 'usertrail-file-'));
    try {
      const file = join(dir, 'page.html');
      writeFileSync(file, `<!doctype html><script src="${pathToFileURL('dist/moesif.min.js').href}"></script><script>${init()} moesif.identifyUser('judy');</script>`);
      const page = await context.newPage();
      const problems = problemsOf(page);
      await recordCookieWrites(page);
      await page.goto(pathToFileURL(file).href);
      const ids = await idsOf(page);
      const writesBefore = (await cookieWrites(page)).length;
      await page.evaluate(() => {
        for (let i = 0; i < 20; i++) window.moesif.track('From a file');
      });
      expect((await cookieWrites(page)).length).toBe(writesBefore);
      await page.reload();
      expect(await idsOf(page)).toEqual(ids);
      expect(problems.filter((problem) => problem.includes('usertrail') || problem.startsWith('uncaught'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test.describe('hosts', () => {
  for (const [host, domain] of [
    ['localhost', 'localhost'],
    ['127.0.0.1', '127.0.0.1'],
    ['www.example.test', '.example.test'],
    ['APP.EXAMPLE.TEST', '.example.test'],
    // bücher.example.test, as the address bar sends it.
    ['xn--bcher-kva.example.test', '.example.test'],
    ['intranet', 'intranet'],
    // The probe tries co.uk first, which the browser refuses (a public suffix), then the site.
    ['shop.co.uk', '.shop.co.uk'],
    // A fully qualified name, with its trailing dot: a site of its own for the browser.
    ['app.example.test.', '.example.test.'],
  ] as const) {
    test(`on ${host} the id cookie is on ${domain}, SameSite=Lax, and the probe is gone`, async ({ context }) => {
      const { page, problems } = await open(context, collector.at(host), `${init()} moesif.track('On ${host}');`);
      const [anonymousId] = await idsOf(page);
      const [cookie] = await cookiesOf(context, 1);
      expect(cookie).toMatchObject({ name: 'moesif_anonymous_id', value: anonymousId, domain, sameSite: 'Lax' });
      expect(await action(`On ${host}`)).toMatchObject({ anonymous_id: anonymousId });
      expect(problems).toEqual([]);
    });
  }

  test('on [::1] the id cookie is host-only', async ({ context }) => {
    const umd = readFileSync('dist/moesif.min.js');
    const server = createServer((req, res) => {
      if (req.url == '/dist/moesif.min.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(umd);
      else res.writeHead(200, { 'Content-Type': 'text/html' }).end(umdPage(init()));
    });
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    try {
      const page = await context.newPage();
      await page.goto(`http://[::1]:${(server.address() as AddressInfo).port}/`);
      const [anonymousId] = await idsOf(page);
      expect(await cookiesOf(context, 1)).toMatchObject([{ name: 'moesif_anonymous_id', value: anonymousId, domain: '[::1]', sameSite: 'Lax' }]);
    } finally {
      server.close();
    }
  });
});

