import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { startRecorder, type Recorder } from './support/recorder';

/**
 * Migration audit: moesif-browser-js 1.8.13 (its real moesif.min.js, from node_modules) and
 * usertrail's dist/moesif.min.js run the same page script in Debian's Chromium, each against its own
 * recorder on 127.0.0.1, and what each one sends, stores or answers is compared.
 *
 * Every test first asserts what moesif-browser-js does (the contract a migrating site relies on;
 * these assertions pass), then that usertrail does the same. The tests that fail are the audit's
 * findings; the ones that pass record what was checked and found compatible.
 */

type Sdk = 'moesif' | 'usertrail';
type Item = Record<string, any>;

const SOURCE: Record<Sdk, string> = {
  moesif: '/node_modules/moesif-browser-js/moesif.min.js',
  usertrail: '/dist/moesif.min.js',
};

const APP_ID = 'compat-app';

/** moesif's `host` form (`host:port`, following the page's scheme), which both SDKs take. */
const init = (extra = '') => `moesif.init({ applicationId: '${APP_ID}', host: '127.0.0.1:' + location.port, batchMaxTime: 50${extra} });`;

const html = (sdk: Sdk, script: string) =>
  `<!doctype html><html><head><title>compat</title><script src="${SOURCE[sdk]}"></script></head><body><script>${script}</script></body></html>`;

interface Run {
  collector: Recorder;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Opens app.example.test/compat with `sdk` and `script`, in a fresh browser context and against a fresh recorder. */
async function run(browser: Browser, sdk: Sdk, script: string, { query = '', referer }: { query?: string; referer?: string } = {}): Promise<Run> {
  const collector = await startRecorder();
  const context = await browser.newContext();
  const page = await context.newPage();
  collector.page('/compat', html(sdk, script));
  await page.goto(collector.at('app.example.test') + '/compat' + query, referer ? { referer } : {});
  return {
    collector,
    context,
    page,
    close: async () => {
      await context.close();
      await collector.close();
    },
  };
}

/** Runs the same script with both SDKs; `check` gets each run in turn, moesif's first. */
async function bothSdks(browser: Browser, script: string, check: (sdk: Sdk, r: Run) => Promise<void>, options?: { query?: string; referer?: string }) {
  for (const sdk of ['moesif', 'usertrail'] as const) {
    const r = await run(browser, sdk, script, options);
    try {
      await check(sdk, r);
    } finally {
      await r.close();
    }
  }
}

/** The captured API calls for `path` (an /api/... path of the recorder's app API), once `count` have arrived. */
async function eventsFor(collector: Recorder, path: string, count = 1): Promise<Item[]> {
  const matching = () => collector.items('events').filter((event) => new URL(event.request.uri).pathname === path);
  await expect.poll(() => matching().length, { message: `${count} event(s) for ${path}` }).toBeGreaterThanOrEqual(count);
  return matching();
}

test.describe('wire format of identifyUser, identifyCompany and track', () => {
  test('users, companies and actions carry the same fields as moesif sends (compatible)', async ({ browser }) => {
    const script = `${init()}
      moesif.identifySession('sess-1');
      moesif.identifyUser('user-1', { email: 'a@example.com' });
      moesif.identifyCompany('company-1', { plan: 'team' }, 'acme.com');
      moesif.track('Clicked', { button: 'hero' });`;
    const sent: Record<Sdk, { user: Item; company: Item; action: Item }> = {} as never;
    await bothSdks(
      browser,
      script,
      async (sdk, { collector }) => {
        await expect.poll(() => collector.items('actions').length).toBe(1);
        await expect.poll(() => collector.items('companies').length).toBe(1);
        const user = collector.items('users').find((u) => u.user_id === 'user-1')!;
        expect(user, `${sdk} sent identifyUser`).toBeTruthy();
        for (const r of collector.received) expect(r.headers['x-moesif-application-id'], `${sdk} ${r.path}`).toBe(APP_ID);
        sent[sdk] = { user, company: collector.items('companies')[0], action: collector.items('actions')[0] };
      },
      { query: '?utm_source=news&utm_campaign=launch&gclid=G1' },
    );
    const { moesif, usertrail } = sent;
    // Values that are random per run (anonymous and transaction ids) are compared by presence.
    const withoutIds = ({ anonymous_id, transaction_id, ...rest }: Item) => ({ ...rest, anonymous_id: typeof anonymous_id, transaction_id: typeof transaction_id });
    expect(withoutIds(usertrail.user)).toEqual(withoutIds(moesif.user));
    expect(usertrail.company).toEqual(moesif.company);
    // moesif sends no request.time for actions (Moesif sets it on arrival); usertrail adds an ISO time, which the API accepts.
    const { time, ...request } = usertrail.action.request;
    expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(withoutIds({ ...usertrail.action, request: { ...request, uri: new URL(request.uri).search } })).toEqual(
      withoutIds({ ...moesif.action, request: { ...moesif.action.request, uri: new URL(moesif.action.request.uri).search } }),
    );
  });

  test('the campaign referring_domain keeps the referrer\'s port, as moesif sends it', async ({ browser }) => {
    await bothSdks(
      browser,
      `${init()} moesif.identifyUser('user-1');`,
      async (sdk, { collector }) => {
        await expect.poll(() => collector.items('users').find((u) => u.user_id === 'user-1')).toBeTruthy();
        const user = collector.items('users').find((u) => u.user_id === 'user-1')!;
        expect(user.campaign, sdk).toMatchObject({ referrer: 'http://news.example.org:8080/post', referring_domain: 'news.example.org:8080' });
      },
      { referer: 'http://news.example.org:8080/post' },
    );
  });
});

test.describe('identity calls in the order a moesif app makes them', () => {
  test('a log-in without reset() keeps the session token and company given just before identifyUser', async ({ browser }) => {
    // A shared browser: alice was identified and the app never called reset() at log-out (moesif's
    // README asks for it, usertrail warns). bob logs in; the app sets his session and company first.
    const script = `${init()}
      moesif.identifyUser('alice');
      moesif.identifySession('bob-session');
      moesif.identifyCompany('bob-company');
      moesif.identifyUser('bob');
      moesif.track('Logged In');`;
    await bothSdks(browser, script, async (sdk, { collector }) => {
      await expect.poll(() => collector.items('actions').length).toBe(1);
      const action = collector.items('actions')[0];
      expect({ sdk, user_id: action.user_id, session_token: action.session_token ?? 'none', company_id: action.company_id ?? 'none' }).toEqual({
        sdk,
        user_id: 'bob',
        session_token: 'bob-session',
        company_id: 'bob-company',
      });
    });
  });
});

test.describe('wire format of captured API calls', () => {
  const CALLS = `
    fetch('/api/echo', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Tenant-Id': 't1' }, body: '{"a":1}' });
    var x = new XMLHttpRequest();
    x.open('POST', '/api/echo?via=xhr');
    x.setRequestHeader('Content-Type', 'application/json');
    x.setRequestHeader('X-Tenant-Id', 't1');
    x.send('{"b":2}');`;

  test('captured calls carry the browser User-Agent in request.headers (Moesif reads device and browser from it)', async ({ browser }) => {
    await bothSdks(browser, `${init()} moesif.start(); ${CALLS}`, async (sdk, { collector, page }) => {
      const userAgent = await page.evaluate(() => navigator.userAgent);
      const events = await eventsFor(collector, '/api/echo', 2);
      for (const event of events) {
        const headers = Object.fromEntries(Object.entries(event.request.headers as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
        expect(headers['user-agent'], `${sdk} ${event.request.uri}`).toBe(userAgent);
      }
    });
  });

  test('XMLHttpRequest request headers keep the names the app set, so hooks reading headers["X-Tenant-Id"] still work', async ({ browser }) => {
    const script = `${init(", getMetadata: function (e) { return { tenant: e.request.headers['X-Tenant-Id'] || null }; }")} moesif.start(); ${CALLS}`;
    await bothSdks(browser, script, async (sdk, { collector }) => {
      const [event] = (await eventsFor(collector, '/api/echo', 2)).filter((e) => e.request.uri.includes('via=xhr'));
      expect(Object.keys(event.request.headers), sdk).toEqual(expect.arrayContaining(['Content-Type', 'X-Tenant-Id']));
      expect(event.metadata, sdk).toEqual({ tenant: 't1' });
    });
  });

  test('maskContent and getMetadata see who made the call, and what maskContent removes stays removed', async ({ browser }) => {
    // A site that masks its session token (a JWT, say) out of API events, and tags calls by user.
    const hooks = `,
      maskContent: function (e) { delete e.session_token; return e; },
      getMetadata: function (e) { return { seen_user: e.user_id || null, seen_anonymous: !!e.anonymous_id }; }`;
    const script = `${init(hooks)} moesif.identifySession('secret-session-jwt'); moesif.identifyUser('user-1'); moesif.start(); fetch('/api/echo');`;
    await bothSdks(browser, script, async (sdk, { collector }) => {
      const [event] = await eventsFor(collector, '/api/echo');
      expect({ sdk, metadata: event.metadata, user_id: event.user_id, session_token: event.session_token ?? 'removed' }).toEqual({
        sdk,
        metadata: { seen_user: 'user-1', seen_anonymous: false },
        user_id: 'user-1',
        session_token: 'removed',
      });
    });
  });
});

test.describe('public API of the global', () => {
  // The methods moesif-browser-js exports by quoted name (its public surface; the unquoted ones such
  // as updateUser or recordEvent are internal) and documents in its README (useWeb3).
  const PUBLIC = ['init', 'start', 'stop', 'useWeb3', 'identifyUser', 'identifyCompany', 'identifySession', 'track', 'reset', 'clearCookies', 'clearStorage', 'resetAnonymousId', 'new'];

  test("every public method of moesif's global exists and can be called after init without throwing", async ({ browser }) => {
    const script = `${init()}
      window.result = {};
      ${JSON.stringify(PUBLIC)}.forEach(function (name) { window.result[name] = typeof moesif[name]; });
      try { window.result.useWeb3Returns = !!moesif.useWeb3({ currentProvider: { send: function () {} } }); } catch (e) { window.result.useWeb3Returns = 'threw ' + e.name; }
      try { var before = moesif._anonymousId || moesif.getAnonymousId(); var next = moesif.resetAnonymousId(); window.result.resetAnonymousId = typeof next == 'string' && next != before; } catch (e) { window.result.resetAnonymousId = 'threw ' + e.name; }
      try { moesif.clearCookies(); moesif.clearStorage(); window.result.clear = 'ok'; } catch (e) { window.result.clear = 'threw ' + e.name; }`;
    await bothSdks(browser, script, async (sdk, { page }) => {
      const result = await page.evaluate(() => window.result);
      expect(result, sdk).toMatchObject({
        ...Object.fromEntries(PUBLIC.map((name) => [name, 'function'])),
        useWeb3Returns: expect.any(Boolean),
        resetAnonymousId: true,
        clear: 'ok',
      });
    });
  });

  test('init() returns the instance and start() returns true, as moesif does', async ({ browser }) => {
    const script = `window.result = { initReturnsInstance: moesif.init({ applicationId: '${APP_ID}', host: '127.0.0.1:' + location.port }) === moesif, startReturns: moesif.start() };`;
    await bothSdks(browser, script, async (sdk, { page }) => {
      expect(await page.evaluate(() => window.result), sdk).toEqual({ initReturnsInstance: true, startReturns: true });
    });
  });

  test('callback: a request that succeeded calls it with nothing, so moesif-style `if (err)` callbacks stay quiet', async ({ browser }) => {
    const script = `window.calls = [];
      ${init(", callback: function (arg) { window.calls.push(arg === undefined ? 'undefined' : JSON.stringify(arg)); }")}
      moesif.identifyUser('user-1');
      moesif.track('Clicked');`;
    await bothSdks(browser, script, async (sdk, { collector, page }) => {
      await expect.poll(() => collector.items('actions').length).toBe(1);
      await expect.poll(() => page.evaluate(() => window.calls.length)).toBeGreaterThanOrEqual(2);
      const calls: string[] = await page.evaluate(() => window.calls);
      expect(calls.every((call) => call === 'undefined'), `${sdk} called back with ${calls.join(', ')}`).toBe(true);
    });
  });
});

test.describe('storage: a visitor who used moesif-browser-js keeps who they are', () => {
  /**
   * One browser context (the visitor) and one recorder (so that localStorage, which is per origin,
   * port included, is the same): pages /moesif and /usertrail of the same site.
   */
  async function visitor(browser: Browser) {
    const collector = await startRecorder();
    const context = await browser.newContext();
    const page = await context.newPage();
    const visit = async (sdk: Sdk, host: string, script: string, query = '') => {
      const path = `/${sdk}-${Math.random().toString(36).slice(2)}`;
      collector.page(path, html(sdk, script));
      await page.goto(collector.at(host) + path + query);
    };
    return { collector, context, page, visit, close: async () => (await context.close(), await collector.close()) };
  }

  for (const persistence of ['localStorage', 'cookie'] as const) {
    for (const [moesifHost, usertrailHost] of [
      ['app.example.test', 'app.example.test'],
      ['docs.example.test', 'app.example.test'],
    ] as const) {
      test(`anonymous, user, company and session ids carry over (persistence ${persistence}, moesif on ${moesifHost}, usertrail on ${usertrailHost}) (compatible)`, async ({
        browser,
      }) => {
        const v = await visitor(browser);
        try {
          const options = `, persistence: '${persistence}'`;
          await v.visit('moesif', moesifHost, `${init(options)} moesif.identifySession('sess-1'); moesif.identifyUser('user-1'); moesif.identifyCompany('company-1');`);
          const anonymousId = await v.page.evaluate(() => (window.moesif as unknown as { _anonymousId: string })._anonymousId); // moesif-browser-js's own field
          expect(anonymousId).toBeTruthy();
          await v.visit('usertrail', usertrailHost, `${init(options)} moesif.track('After Switch');`);
          const ids = await v.page.evaluate(() => {
            const m = window.moesif;
            return [m.getAnonymousId(), m.getUserId(), m.getCompanyId(), m.getSessionToken()];
          });
          expect(ids).toEqual([anonymousId, 'user-1', 'company-1', 'sess-1']);
          await expect.poll(() => v.collector.items('actions').length).toBe(1);
          expect(v.collector.items('actions')[0]).toMatchObject({ user_id: 'user-1', company_id: 'company-1', session_token: 'sess-1' });
        } finally {
          await v.close();
        }
      });
    }
  }

  test('ids that moesif-browser-js wrote URI-encoded into its cookies (+, @, spaces, ;, =, %, non-ASCII) read back as they were given', async ({ browser }) => {
    const v = await visitor(browser);
    // Each needs encoding in a cookie value, and moesif writes encodeURIComponent(value).
    const [userId, companyId, session] = ['jane+test@example.com', 'Acme & Sons; EU=1', 'tok%20 50% ünïcode,x'];
    try {
      const options = ", persistence: 'cookie'";
      await v.visit(
        'moesif',
        'app.example.test',
        `${init(options)} moesif.identifySession(${JSON.stringify(session)}); moesif.identifyUser(${JSON.stringify(userId)}); moesif.identifyCompany(${JSON.stringify(companyId)});`,
      );
      const written = Object.fromEntries((await v.context.cookies()).map((cookie) => [cookie.name, cookie.value]));
      expect(written.moesif_stored_user_id).toBe(encodeURIComponent(userId));
      expect(written.moesif_stored_session_id).toBe(encodeURIComponent(session));
      await v.visit('usertrail', 'app.example.test', `${init(options)} moesif.track('After Switch');`);
      const ids = await v.page.evaluate(() => {
        const m = (window as any).moesif;
        return [m.getUserId(), m.getCompanyId(), m.getSessionToken()];
      });
      expect(ids).toEqual([userId, companyId, session]);
      await expect.poll(() => v.collector.items('actions').length).toBe(1);
      expect(v.collector.items('actions')[0]).toMatchObject({ user_id: userId, company_id: companyId, session_token: session });
    } finally {
      await v.close();
    }
  });
});
