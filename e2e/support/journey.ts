import { expect, test as base, type BrowserContext, type Page } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Profile as CollectorProfile } from '../../demo/collector/reports.js';
import { startCollector, DEFAULT_APP_ID } from '../../demo/collector/server.js';
import { startDemoApp } from '../../demo/app/server.js';
import { startApi, userIdFor, companyIdFor } from '../../demo/api/server.js';

/**
 * Set-up for the customer-journey suite (issue 7): the real collector on a temporary SQLite file,
 * the demo API with usertrail/server, and the demo web app with the built SDK (dist/moesif.min.js),
 * reached in Chromium as docs.example.test and app.example.test (the host-resolver rule in
 * support/browser.ts maps both to loopback, so they share `.example.test` cookies but not
 * localStorage, as on a real site). Each browser context is one device.
 */

export { userIdFor, companyIdFor };

interface Service {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A user profile as `GET /api/users` answers it, and `GET /api/users/:id` with its timeline. */
export type Profile = CollectorProfile & { timeline?: Item[] };

/** An action or API call as the query API shows it, after stitching. */
export interface Item {
  kind: 'action' | 'event';
  time: string;
  transaction_id: string;
  action_name: string | null;
  verb: string | null;
  uri: string | null;
  status: number | null;
  user_id: string | null;
  anonymous_id: string | null;
  company_id: string | null;
  profile_id: string;
  metadata: Record<string, unknown> | null;
  request: { uri: string; verb: string; ip_address?: string; headers?: Record<string, string> } | null;
}

/**
 * Who recorded an API call: usertrail/server sees the caller's address (`request.ip_address`), the
 * browser's capture (moesif.start()) cannot.
 */
export const recordedBy = (item: Item): 'server' | 'browser' => (item.request?.ip_address ? 'server' : 'browser');

export interface Stack {
  collectorUrl: string;
  apiUrl: string;
  /** http://docs.example.test:PORT */
  docs: string;
  /** http://app.example.test:PORT */
  app: string;
  users(): Promise<Profile[]>;
  /** One profile by User Id (a merged anonymous id leads to its user); undefined on 404. */
  user(id: string): Promise<Profile | undefined>;
  events(filters?: Record<string, string>): Promise<Item[]>;
  companies(): Promise<any[]>;
  company(id: string): Promise<any | undefined>;
  funnel(steps?: string[]): Promise<{ profiles: number; steps: { step: string; users: number }[] }>;
  /**
   * The first-touch campaign the collector stored from the user's own users calls (identifyUser,
   * which carry her user_id), before the profile view merges in what her anonymous ids brought:
   * what the identify calls themselves carried. Null when none did; undefined for an unknown user.
   */
  identifiedCampaign(userId: string): Record<string, string> | null | undefined;
  close(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'usertrail-journey-'));
  const collector = await startCollector({
    port: 0,
    db: join(dir, 'collector.db'),
    applicationId: DEFAULT_APP_ID,
  });
  const api: Service & { middleware: { flush(): Promise<void> } } = await startApi({
    port: 0,
    collectorUrl: collector.url,
    applicationId: DEFAULT_APP_ID,
    jwtSecret: 'journey-test-secret',
    // Deliver API calls promptly: the suite waits on the collector, not on a batch timer.
    middlewareOptions: { batchMaxTime: 100 },
  });
  // One server answers for both host names; the pages work out their sibling origin themselves.
  const app: Service = await startDemoApp({ port: 0, collectorUrl: collector.url, apiUrl: api.url, applicationId: DEFAULT_APP_ID });
  const docs = `http://docs.example.test:${app.port}`;
  const appOrigin = `http://app.example.test:${app.port}`;

  const get = async (path: string): Promise<any> => {
    const res = await fetch(collector.url + path);
    if (res.status === 404) return undefined;
    expect(res.status, path).toBe(200);
    return res.json();
  };

  return {
    collectorUrl: collector.url,
    apiUrl: api.url,
    docs,
    app: appOrigin,
    users: async () => (await get('/api/users?limit=500')).users,
    user: (id) => get(`/api/users/${encodeURIComponent(id)}`),
    events: async (filters = {}) => (await get(`/api/events?${new URLSearchParams({ limit: '500', ...filters })}`)).events,
    companies: async () => (await get('/api/companies')).companies,
    company: (id) => get(`/api/companies/${encodeURIComponent(id)}`),
    funnel: (steps) => get(`/api/funnel${steps ? `?${new URLSearchParams(steps.map((s) => ['steps', s]))}` : ''}`),
    // The campaign as the SDK sent it: string values (wire.ts's Campaign).
    identifiedCampaign: (userId) => collector.store.getUser(userId)?.campaign as Record<string, string> | null | undefined,
    async close() {
      await app.close();
      await api.close();
      await collector.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface JourneyFixtures {
  /** A fresh collector, API and app per scenario: counts such as "one profile" mean this scenario's only. */
  stack: Stack;
  /** Another device: a browser context of its own (cookies, localStorage), closed after the test. */
  newDevice: () => Promise<Page>;
  /** The collector's dashboard, in a context of its own (not a device of the journey). */
  openDashboard: () => Promise<Page>;
}

export const test = base.extend<JourneyFixtures>({
  // eslint-disable-next-line no-empty-pattern
  stack: async ({}, use) => {
    const stack = await startStack();
    await use(stack);
    await stack.close();
  },
  newDevice: async ({ browser }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async () => {
      const context = await browser.newContext();
      contexts.push(context);
      return context.newPage();
    });
    await Promise.all(contexts.map((c) => c.close()));
  },
  openDashboard: async ({ browser, stack }, use) => {
    const pages: Page[] = [];
    await use(async () => {
      const page = await browser.newPage();
      pages.push(page);
      await page.goto(`${stack.collectorUrl}/`);
      await expect(page.locator('#app-id')).toHaveText(DEFAULT_APP_ID);
      return page;
    });
    await Promise.all(pages.map((p) => p.context().close()));
  },
});

export { expect };

// ---- The visitor, driven through the demo app's pages ---------------------------------------------

/** The id the SDK generated on this device (moesif.getAnonymousId()). */
export async function anonymousId(page: Page): Promise<string> {
  const id = await page.evaluate(() => window.moesif.getAnonymousId() as string | undefined);
  expect(id, 'moesif.getAnonymousId()').toBeTruthy();
  return id as string;
}

/**
 * Sends what the page's SDK holds now (moesif.flush()) rather than after its 2.5 s batch timer: the
 * suite then waits on the collector for milliseconds, not seconds. Navigation flushes on its own.
 */
export async function flush(page: Page): Promise<void> {
  await page.evaluate(() => window.moesif.flush());
}

/**
 * Waits until a navigation the page started (a link, a form, a script) has reached `url` and its
 * scripts have run: the demo's scripts sit at the end of <body>, so a click before `load` could
 * beat the SDK's init (a page view lost) or demo.js's submit handler (a native form GET).
 */
export async function arrived(page: Page, url: string): Promise<void> {
  await expect(page).toHaveURL(url);
  await page.waitForLoadState('load');
  await expect(page.locator('#sdk-status')).toBeHidden();
}

/** Loads a demo page and checks that the SDK loaded and initialised (#sdk-status stays hidden). */
export async function open(page: Page, url: string, options?: { referer?: string }): Promise<void> {
  await page.goto(url, options);
  await expect(page.locator('#sdk-status')).toBeHidden();
}

/**
 * Reads the three docs pages by following their links: the index (at `firstUrl`, which may carry
 * utm parameters), the quickstart and the API reference. Returns the device's anonymous id.
 */
export async function readDocs(page: Page, stack: Stack, firstUrl = `${stack.docs}/docs/`): Promise<string> {
  if (page.url() === firstUrl) await arrived(page, firstUrl);
  else await open(page, firstUrl);
  await page.locator('main').getByRole('link', { name: 'quickstart' }).click();
  await arrived(page, `${stack.docs}/docs/quickstart`);
  await page.locator('nav').getByRole('link', { name: 'API reference' }).click();
  await arrived(page, `${stack.docs}/docs/api`);
  return anonymousId(page);
}

/**
 * Fills the sign-up (or log-in) form: the demo API issues a JWT whose `sub` is the user id, the page
 * calls identifyUser(userId), identifyCompany(companyId), track('Signed Up' | 'Logged In') and goes to /app.
 * Returns the user id.
 */
export async function signUp(page: Page, stack: Stack, email: string, form: 'signup' | 'login' = 'signup'): Promise<string> {
  const formUrl = `${stack.app}/${form}`;
  if (page.url() === formUrl) await arrived(page, formUrl);
  else await open(page, formUrl);
  await page.locator('input[name=email]').fill(email);
  await page.getByRole('button', { name: form === 'signup' ? 'Sign up' : 'Log in' }).click();
  await arrived(page, `${stack.app}/app`);
  const userId = userIdFor(email);
  await expect(page.locator('#who')).toContainText(`${email} (user id ${userId}`);
  return userId;
}

/** Clicks "Call the API" on /app: GET /test with the user's JWT as a bearer token. */
export async function callApi(page: Page): Promise<void> {
  const result = page.locator('#api-result');
  await page.getByRole('button', { name: 'Call the API' }).click();
  await expect(result).toContainText('GET /test answered 200');
}

/** Clicks "Log out" on /app: the page calls moesif.reset() and goes to the docs. */
export async function logOut(page: Page, stack: Stack): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await arrived(page, `${stack.docs}/docs/`);
}

/**
 * Polls the collector until `read` stops throwing, for items batched by the SDK (2.5 s by
 * default) or by the middleware. Fails with the last assertion's message.
 */
export async function eventually<T>(read: () => Promise<T>, timeout = 20_000): Promise<T> {
  let value: T | undefined;
  await expect(async () => {
    value = await read();
  }).toPass({ timeout, intervals: [100, 250, 500] });
  return value as T;
}

// ---- The dashboard --------------------------------------------------------------------------------

/** The dashboard's row for one profile (its User Id). */
export const userRow = (dashboard: Page, userId: string) => dashboard.locator(`#users tbody tr[data-user-id="${userId}"]`);

/** The columns of the dashboard's users table, by header, for one row. */
export const USER_COLUMNS = {
  userId: 1,
  identifiedUserId: 2,
  anonymousIds: 3,
  company: 4,
  actions: 7,
  apiCalls: 8,
  firstTouch: 9,
} as const;

export const userCell = (dashboard: Page, userId: string, column: keyof typeof USER_COLUMNS) =>
  userRow(dashboard, userId).locator(`td:nth-child(${USER_COLUMNS[column]})`);
