import { expect, test } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-ignore: plain ESM JavaScript with JSDoc types, no declaration file
import { startCollector, DEFAULT_APP_ID } from '../demo/collector/server.mjs';
// @ts-ignore
import { startDemoApp } from '../demo/app/server.mjs';
// @ts-ignore
import { startApi } from '../demo/api/server.mjs';

/**
 * The journey the seed describes, through the demo app with the built SDK in Debian's Chromium:
 * anonymous on docs.example.test, sign-up on app.example.test, an authenticated API call, log-out.
 * The collector must end with one stitched user (anonymous docs traffic included) and, after
 * reset(), a fresh anonymous visitor.
 */

interface Service {
  url: string;
  port: number;
  close(): Promise<void>;
}

let collector: Service;
let api: Service;
let app: Service;
let dir: string;

test.beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'usertrail-journey-'));
  collector = await startCollector({ port: 0, db: join(dir, 'collector.db') });
  api = await startApi({ port: 0, collectorUrl: collector.url, applicationId: DEFAULT_APP_ID, jwtSecret: 'journey-test-secret' });
  app = await startDemoApp({ port: 0, collectorUrl: collector.url, apiUrl: api.url, applicationId: DEFAULT_APP_ID });
});
test.afterEach(async () => {
  await app.close();
  await api.close();
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

async function users(): Promise<any[]> {
  return (await (await fetch(`${collector.url}/api/users?limit=500`)).json()).users;
}

test('a visitor who reads the docs, signs up, calls the API and logs out shows as one stitched user, then a fresh anonymous one', async ({ page }) => {
  const docs = `http://docs.example.test:${app.port}`;
  await page.goto(`${docs}/docs/`);
  // The SDK loaded and initialised (a build without moesif.start() would say so here).
  await expect(page.locator('#sdk-status')).toBeHidden();
  await page.getByRole('link', { name: 'quickstart' }).first().click();
  await expect(page).toHaveURL(`${docs}/docs/quickstart`);

  // The docs link to the app on its own subdomain.
  await page.goto(`${docs}/docs/`);
  await page.locator('#cta-signup').click();
  await expect(page).toHaveURL(`http://app.example.test:${app.port}/signup`);
  await page.getByLabel('Work email').fill('journey@acme.example');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page).toHaveURL(`http://app.example.test:${app.port}/app`);
  await expect(page.locator('#who')).toContainText('journey@acme.example');

  await page.getByRole('button', { name: 'Call the API' }).click();
  await expect(page.locator('#api-result')).toContainText('answered 200');

  // One identified user, whose anonymous docs page views were merged in, with the sign-up and the API call.
  await expect
    .poll(
      async () => {
        const identified = (await users()).filter((u) => u.identified_user_id);
        if (identified.length !== 1) return `identified users: ${identified.length}`;
        const u = identified[0];
        return { anonymous: u.anonymous_ids.length > 0, actions: u.action_count >= 2, apiCalls: u.event_count >= 1, company: Boolean(u.company_id) };
      },
      { timeout: 20_000 },
    )
    .toEqual({ anonymous: true, actions: true, apiCalls: true, company: true });
  const [person] = (await users()).filter((u) => u.identified_user_id);
  const timeline = (await (await fetch(`${collector.url}/api/users/${person.user_id}`)).json()).timeline;
  expect(timeline.some((e: any) => e.action_name === 'Signed Up')).toBe(true);
  expect(timeline.some((e: any) => e.kind === 'event' && e.uri.endsWith('/test') && e.status === 200)).toBe(true);
  // The anonymous docs traffic, page views (trackPageViews) and the tracked click, now counts for the user.
  const docsActions = timeline.filter((e: any) => e.kind === 'action' && String(e.uri).includes('docs.example.test')).map((e: any) => e.action_name);
  expect(docsActions).toContain('Clicked Sign Up');
  expect(docsActions).toContain('Page View');

  // Log out: reset() gives the next visitor a fresh anonymous id, never merged into this user.
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(`${docs}/docs/`);
  await expect
    .poll(async () => (await users()).filter((u) => !u.identified_user_id && u.action_count > 0).length, { timeout: 20_000 })
    .toBe(1);
  const funnel = (await (await fetch(`${collector.url}/api/funnel`)).json()).steps.map((s: any) => s.users);
  expect(funnel).toEqual([1, 1, 1]);
});
