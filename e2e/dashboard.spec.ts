import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, DEFAULT_APP_ID } from '../demo/collector/server.js';

const HOSTILE = '<img src=x onerror=alert(1)>';

interface Running {
  url: string;
  close(): Promise<void>;
}

let collector: Running;
let dir: string;

test.beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'usertrail-dashboard-'));
  collector = await startCollector({ port: 0, db: join(dir, 'collector.db') });
});
test.afterEach(async () => {
  await collector.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: unknown): Promise<void> {
  const res = await fetch(collector.url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Moesif-Application-Id': DEFAULT_APP_ID },
    body: JSON.stringify(body),
  });
  expect(res.status, `${path}: ${await res.clone().text()}`).toBeLessThan(300);
}

let tx = 0;
const now = (offsetSeconds: number) => new Date(Date.now() - 60_000 + offsetSeconds * 1000).toISOString();
const pageView = (fields: Record<string, unknown>, seconds: number) => ({
  action_name: 'Page View',
  transaction_id: `dash-${++tx}`,
  request: { time: now(seconds), uri: 'http://docs.example.test/docs/', verb: 'GET', user_agent_string: 'test' },
  ...fields,
});
const apiCall = (fields: Record<string, unknown>, seconds: number) => ({
  transaction_id: `dash-${++tx}`,
  request: { time: now(seconds), uri: 'http://api.example.test/test', verb: 'GET', headers: {} },
  response: { time: now(seconds), status: 200, headers: {} },
  ...fields,
});

/** A small journey: one visitor signs up and calls the API, another only reads the docs. */
async function seed(): Promise<void> {
  await post('/v1/actions/batch', [pageView({ anonymous_id: 'anon-ann' }, 1), pageView({ anonymous_id: 'anon-val' }, 2)]);
  // Ann signs up, and is linked to her company, between her docs visit and her sign-up action.
  await post('/v1/users', { user_id: 'user-ann', anonymous_id: 'anon-ann', company_id: 'acme', metadata: { email: 'ann@example.test' }, modified_time: now(2) });
  await post('/v1/companies', { company_id: 'acme', company_domain: 'acme.example.test' });
  await post('/v1/actions', pageView({ user_id: 'user-ann', anonymous_id: 'anon-ann', action_name: 'Signed Up', metadata: { note: HOSTILE } }, 3));
  await post('/v1/events', apiCall({ user_id: 'user-ann' }, 4));
}

function watchDialogs(page: Page): string[] {
  const seen: string[] = [];
  page.on('dialog', (dialog) => {
    seen.push(dialog.message());
    void dialog.dismiss();
  });
  return seen;
}

test('the dashboard shows posted events, stitched users and companies', async ({ page }) => {
  await seed();
  await page.goto(`${collector.url}/`);
  await expect(page.locator('#app-id')).toHaveText(DEFAULT_APP_ID);

  const events = page.locator('#events tbody tr');
  await expect(events).toHaveCount(4);
  // Newest first: the API call, then the sign-up, both the stitched user's.
  await expect(events.nth(0)).toContainText('GET http://api.example.test/test');
  await expect(events.nth(0)).toContainText('200');
  await expect(events.nth(0)).toContainText('user-ann');
  await expect(events.nth(1)).toContainText('Signed Up');
  // The anonymous visitor's page view: its User Id is the anonymous id, its Identified User Id blank (the seed's table, row 1).
  const anonymousRow = events.filter({ hasText: 'anon-val' });
  await expect(anonymousRow.locator('td').nth(4)).toHaveText('anon-val');
  await expect(anonymousRow.locator('td').nth(7)).toHaveText('');
  // Every event of Ann's, her anonymous page view from before she signed up included, is listed with
  // her as User Id and Identified User Id (row 2). Her company counts only what came after she was
  // linked to it ("any future web or API traffic"): the sign-up and the API call, not the docs visit.
  const columns = (row: ReturnType<typeof events.nth>) => row.locator('td').evaluateAll((cells) => [4, 6, 7].map((n) => cells[n]?.textContent));
  expect(await columns(events.nth(0))).toEqual(['user-ann', 'acme', 'user-ann']);
  expect(await columns(events.nth(1))).toEqual(['user-ann', 'acme', 'user-ann']);
  expect(await columns(events.filter({ hasText: 'anon-ann' }).filter({ hasText: 'Page View' }))).toEqual(['user-ann', '', 'user-ann']);
  await expect(page.locator('#companies tbody tr').filter({ hasText: 'acme' }).locator('td').nth(3)).toHaveText('1');
  await expect(page.locator('#companies tbody tr').filter({ hasText: 'acme' }).locator('td').nth(4)).toHaveText('1');

  const ann = page.locator('#users tbody tr[data-user-id="user-ann"]');
  await expect(ann).toContainText('anon-ann');
  await expect(ann).toContainText('acme');
  await expect(page.locator('#users tbody tr[data-user-id="anon-val"]')).toContainText('anonymous');
  await expect(page.locator('#companies tbody tr')).toContainText(['acme']);

  // Clicking a user narrows the events table to that user.
  await ann.getByRole('button', { name: 'user-ann' }).click();
  await expect(events).toHaveCount(3);
  await page.getByRole('button', { name: 'show all' }).click();
  await expect(events).toHaveCount(4);
});

test('the dashboard shows hostile values from the wire as text and runs none of them', async ({ page }) => {
  const dialogs = watchDialogs(page);
  await seed();
  await post('/v1/users', { anonymous_id: HOSTILE, metadata: { name: HOSTILE }, campaign: { utm_source: HOSTILE } });
  await post('/v1/actions', pageView({ anonymous_id: HOSTILE, action_name: HOSTILE, company_id: HOSTILE }, 5));
  await page.goto(`${collector.url}/`);

  await expect(page.locator('#events tbody tr')).toHaveCount(5);
  await expect(page.locator('#events tbody tr').first().locator('td').nth(2)).toHaveText(HOSTILE);
  await expect(page.getByText(`{"note":"${HOSTILE}"}`)).toBeVisible();
  await expect(page.locator(`#users tbody tr[data-user-id="${HOSTILE}"]`)).toBeVisible();
  // No element was made from the value: no <img> anywhere (so no onerror handler is left to run
  // later), and no alert ran while the tables were drawn.
  await expect(page.locator('img')).toHaveCount(0);
  expect(dialogs).toEqual([]);
});

test('the dashboard draws the funnel as bars and refreshes by itself', async ({ page }) => {
  await seed();
  await page.goto(`${collector.url}/`);
  const steps = page.locator('#funnel .funnel-step');
  await expect(steps).toHaveCount(3);
  await expect(steps.nth(0)).toContainText('First page view or action');
  await expect(steps.nth(0)).toContainText('2 of 2 users');
  await expect(steps.nth(1)).toContainText('50% of previous');
  await expect(steps.nth(2)).toContainText('100% of previous');
  const widths = await page.locator('#funnel .bar').evaluateAll((bars) => bars.map((b) => (b as HTMLElement).style.width));
  expect(widths).toEqual(['100%', '50%', '50%']);
  await page.screenshot({ path: test.info().outputPath('dashboard.png'), fullPage: true });

  // A new visitor arrives while the page is open: it appears without a reload.
  await post('/v1/actions', pageView({ anonymous_id: 'anon-late' }, 6));
  await expect(page.locator('#users tbody tr[data-user-id="anon-late"]')).toBeVisible({ timeout: 5000 });
  await expect(steps.nth(0)).toContainText('3 of 3 users');
});

test('the dashboard charts activity over time with the query API numbers, for everything and for one user', async ({ page }) => {
  // Three days of traffic (51 hours): per day. Day 1: 2 page views and an API call; day 2: one call; day 3: a page view by another visitor.
  const day = (d: number, hour: number) => new Date(Date.UTC(2025, 2, d, hour)).toISOString();
  const item = (kind: 'action' | 'event', fields: Record<string, unknown>, time: string) =>
    kind === 'action'
      ? { action_name: 'Page View', transaction_id: `chart-${++tx}`, request: { time, uri: 'http://docs.example.test/', verb: 'GET', user_agent_string: 'test' }, ...fields }
      : { transaction_id: `chart-${++tx}`, request: { time, uri: 'http://api.example.test/x', verb: 'GET', headers: {} }, response: { time, status: 200, headers: {} }, ...fields };
  await post('/v1/actions/batch', [item('action', { anonymous_id: 'anon-chart' }, day(1, 9)), item('action', { anonymous_id: 'anon-chart' }, day(1, 10)), item('action', { anonymous_id: 'anon-other' }, day(3, 12))]);
  await post('/v1/users', { user_id: 'user-chart', anonymous_id: 'anon-chart' });
  await post('/v1/events/batch', [item('event', { user_id: 'user-chart' }, day(1, 11)), item('event', { user_id: 'user-chart' }, day(2, 15))]);

  await page.goto(`${collector.url}/`);
  const bars = page.locator('#activity svg g[data-start]');
  const api = await (await fetch(`${collector.url}/api/activity?bucket=day`)).json();
  expect(api.buckets.map((b: { actions: number; events: number }) => [b.actions, b.events])).toEqual([[2, 1], [0, 1], [1, 0]]);
  await expect(page.locator('#activity')).toHaveAttribute('data-bucket', 'day');
  await expect(bars).toHaveCount(3);
  const drawn = async () =>
    bars.evaluateAll((groups) =>
      groups.map((g) => ({
        start: g.getAttribute('data-start'),
        actions: Number(g.getAttribute('data-actions')),
        events: Number(g.getAttribute('data-events')),
        heights: Array.from(g.querySelectorAll('rect')).map((r) => Number(r.getAttribute('height'))),
      })),
    );
  const chart = await drawn();
  expect(chart.map(({ start, actions, events }) => ({ start, actions, events }))).toEqual(api.buckets);
  // Bars to scale: the busiest bucket (2 actions) is the tallest, a bucket's single call half of it, none is 0.
  const [first, second, third] = chart;
  expect(first!.heights[0]).toBeGreaterThan(0);
  expect(first!.heights[1]).toBeCloseTo(first!.heights[0]! / 2, 5);
  expect(second!.heights[0]).toBe(0);
  expect(third!.heights).toEqual([first!.heights[1], 0]);
  await expect(page.locator('#activity-summary')).toHaveText('3 actions, 2 API calls, per day');
  await expect(bars.first().locator('title')).toContainText('2 actions, 1 API calls');

  // One user: their own activity (the anonymous page views merged into them included), 30 hours: per hour.
  await page.locator('#users tbody tr[data-user-id="user-chart"]').getByRole('button', { name: 'user-chart' }).click();
  await expect(page.locator('#activity-summary')).toHaveText('2 actions, 2 API calls, per hour for user user-chart');
  await expect(page.locator('#activity')).toHaveAttribute('data-bucket', 'hour');
  const userApi = await (await fetch(`${collector.url}/api/activity?bucket=hour&user_id=user-chart`)).json();
  expect(userApi.buckets).toHaveLength(4);
  await expect(bars).toHaveCount(userApi.buckets.length);
  expect((await drawn()).map(({ start, actions, events }) => ({ start, actions, events }))).toEqual(userApi.buckets);
});

test("the dashboard lists one row per person as the seed's merging table says, whatever order the calls arrived in", async ({ page }) => {
  // Row 3: Carol on a laptop and a phone. Her phone's users call arrives before its page view.
  await post('/v1/actions', pageView({ anonymous_id: 'anon-laptop' }, 1));
  await post('/v1/users', { user_id: 'user-carol', anonymous_id: 'anon-phone' });
  await post('/v1/actions', pageView({ anonymous_id: 'anon-phone' }, 2));
  await post('/v1/users', { user_id: 'user-carol', anonymous_id: 'anon-laptop' });
  // Row 4: Dave, then reset(), then Erin on one browser.
  await post('/v1/users', { user_id: 'user-dave', anonymous_id: 'anon-d1' });
  await post('/v1/users', { user_id: 'user-erin', anonymous_id: 'anon-d2' });
  // Row 4 and 5 without reset(): Frank's users call comes first; Gina used the id earlier, and it is hers.
  await post('/v1/users', { user_id: 'user-frank', anonymous_id: 'anon-shared', modified_time: now(20) });
  await post('/v1/actions', pageView({ user_id: 'user-gina', anonymous_id: 'anon-shared' }, 10));
  // identifyCompany() arrives before identifyUser(), sharing only the session token; it happened
  // before the phone's page view, so that view is initech's ("any future web or API traffic").
  await post('/v1/companies', { company_id: 'initech', session_token: 'session-carol', modified_time: now(0) });
  await post('/v1/users', { user_id: 'user-carol', session_token: 'session-carol' });

  await page.goto(`${collector.url}/`);
  const row = (id: string) => page.locator(`#users tbody tr[data-user-id="${id}"]`);
  await expect(page.locator('#users tbody tr')).toHaveCount(5);
  await expect(row('user-carol').locator('td').nth(2)).toHaveText('anon-laptop, anon-phone');
  await expect(row('user-carol').locator('td').nth(3)).toHaveText('initech');
  await expect(row('user-carol').locator('td').nth(6)).toHaveText('2');
  await expect(row('user-dave').locator('td').nth(2)).toHaveText('anon-d1');
  await expect(row('user-erin').locator('td').nth(2)).toHaveText('anon-d2');
  await expect(row('user-gina').locator('td').nth(2)).toHaveText('anon-shared');
  await expect(row('user-frank').locator('td').nth(2)).toHaveText('');
  for (const anonymousId of ['anon-laptop', 'anon-phone', 'anon-d1', 'anon-d2', 'anon-shared']) await expect(row(anonymousId)).toHaveCount(0);
  // The phone's page view counts for Carol and for her company.
  const phoneView = page.locator('#events tbody tr').filter({ hasText: 'anon-phone' });
  await expect(phoneView.locator('td').nth(4)).toHaveText('user-carol');
  await expect(phoneView.locator('td').nth(6)).toHaveText('initech');
  await expect(page.locator('#companies tbody tr').filter({ hasText: 'initech' }).locator('td').nth(2)).toHaveText('1');
});
