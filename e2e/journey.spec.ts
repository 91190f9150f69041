/**
 * Issue 7: the whole customer journey, in Debian's Chromium against the real collector, the demo
 * API (usertrail/server) and the demo web app with the built SDK. Each scenario is a row of the
 * seed "Identifying Customers" (its five-row table of user merging, then the API call, the company
 * and a page closed mid-sign-up), with a fresh stack of its own, and each checks both the
 * collector's query API and what its dashboard shows.
 */
import {
  anonymousId,
  arrived,
  callApi,
  companyIdFor,
  eventually,
  expect,
  flush,
  logOut,
  open,
  readDocs,
  recordedBy,
  signUp,
  test,
  userCell,
  userRow,
  userIdFor,
  type Item,
} from './support/journey';

// Several pages per scenario on a shared 2-core machine: more room than the default 60 s.
test.describe.configure({ timeout: 120_000 });

const path = (item: Item) => new URL(item.uri ?? '').pathname;
/** Oldest first, as a person would tell the story (the query API answers newest first). */
const story = (items: Item[]) =>
  [...items].reverse().map((i) => (i.kind === 'action' ? `${i.action_name} ${path(i)}` : `${i.verb} ${path(i)}`));

test('1. no user id identified: three docs pages make one anonymous profile whose User Id is the anonymous id', async ({ page, stack, openDashboard }) => {
  const anon = await readDocs(page, stack);
  await flush(page);

  const [profile] = await eventually(async () => {
    const users = await stack.users();
    expect(users).toHaveLength(1);
    expect(users[0].action_count).toBe(3);
    return users;
  });
  expect(profile).toMatchObject({ user_id: anon, identified_user_id: null, anonymous_ids: [anon], event_count: 0, company_id: null });
  const items = await stack.events({ user_id: anon });
  expect(story(items)).toEqual(['Page View /docs/', 'Page View /docs/quickstart', 'Page View /docs/api']);
  for (const item of items) expect(item).toMatchObject({ user_id: anon, identified_user_id: null, anonymous_id: anon });

  const dashboard = await openDashboard();
  await expect(dashboard.locator('#users tbody tr')).toHaveCount(1);
  await expect(userCell(dashboard, anon, 'userId')).toHaveText(anon);
  await expect(userCell(dashboard, anon, 'identifiedUserId')).toHaveText('anonymous');
  await expect(userCell(dashboard, anon, 'actions')).toHaveText('3');
  const rows = dashboard.locator('#events tbody tr');
  await expect(rows).toHaveCount(3);
  for (const row of await rows.all()) {
    await expect(row.locator('td:nth-child(3)')).toHaveText('Page View');
    await expect(row.locator('td:nth-child(5)')).toHaveText(anon); // User Id: the anonymous id
    await expect(row.locator('td:nth-child(6)')).toHaveText(anon);
    await expect(row.locator('td:nth-child(8)')).toHaveText(''); // Identified User Id: nobody identified
  }
});

test('2. identified after anonymous events: sign-up on the app turns the docs visitor into the user, with her first-touch campaign', async ({ page, stack, openDashboard }) => {
  // She arrives from a blog post on another site, through a link with utm parameters.
  const blog = 'http://blog.other.test/';
  const landing = `${stack.docs}/docs/?utm_source=newsletter&utm_medium=email&utm_campaign=spring`;
  await page.route(blog, (route) => route.fulfill({ contentType: 'text/html', body: `<a href="${landing}">Acme's docs</a>` }));
  await page.goto(blog);
  await page.getByRole('link', { name: "Acme's docs" }).click();
  await arrived(page, landing);
  const anon = await readDocs(page, stack, landing);
  await flush(page);
  const firstTouch = { utm_source: 'newsletter', utm_medium: 'email', utm_campaign: 'spring', referrer: blog, referring_domain: 'blog.other.test' };
  await eventually(async () => {
    const users = await stack.users();
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ user_id: anon, identified_user_id: null, action_count: 3, campaign: firstTouch });
  });

  // To the app on its sibling subdomain, through the docs' call to action (tracked while anonymous).
  await open(page, `${stack.docs}/docs/`);
  await page.locator('#cta-signup').click();
  await arrived(page, `${stack.app}/signup`);
  // Another origin, so other localStorage: the `.example.test` cookie carries the anonymous id over.
  expect(await anonymousId(page)).toBe(anon);
  const email = 'ada@acme.example';
  const userId = await signUp(page, stack, email);
  await flush(page);

  const profile = await eventually(async () => {
    const users = await stack.users();
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ user_id: userId, identified_user_id: userId, anonymous_ids: [anon] });
    const names = (await stack.events({ user_id: userId, kind: 'action' })).map((i) => i.action_name);
    expect(names).toEqual(expect.arrayContaining(['Clicked Sign Up', 'Signed Up']));
    return users[0];
  });
  expect(profile.campaign).toMatchObject(firstTouch);
  // The anonymous docs traffic now counts for her: page views and the click, on docs.example.test.
  const docsItems = (await stack.events({ anonymous_id: anon })).filter((i) => new URL(i.uri ?? '').hostname === 'docs.example.test');
  expect(story(docsItems)).toEqual([
    'Page View /docs/',
    'Page View /docs/quickstart',
    'Page View /docs/api',
    'Page View /docs/',
    'Clicked Sign Up /docs/',
  ]);
  for (const item of docsItems) expect(item).toMatchObject({ user_id: userId, profile_id: userId });
  // Asked for by the anonymous id, the collector answers with the user it was merged into.
  expect(await stack.user(anon)).toMatchObject({ user_id: userId, requested_id: anon });

  const dashboard = await openDashboard();
  await expect(dashboard.locator('#users tbody tr')).toHaveCount(1);
  await expect(userCell(dashboard, userId, 'identifiedUserId')).toHaveText(userId);
  await expect(userCell(dashboard, userId, 'anonymousIds')).toHaveText(anon);
  await expect(userCell(dashboard, userId, 'firstTouch')).toContainText('"utm_campaign":"spring"');
  await expect(dashboard.locator('#events tbody tr', { hasText: 'Clicked Sign Up' })).toContainText(userId);
  for (const row of await dashboard.locator('#events tbody tr', { hasText: 'Page View' }).all()) await expect(row).toContainText(userId);
});

test('3. same user on two devices: two anonymous profiles become one user once she has logged in on both', async ({ stack, newDevice, openDashboard }) => {
  const laptop = await newDevice();
  const phone = await newDevice();
  const anonLaptop = await readDocs(laptop, stack);
  // The phone goes straight to the log-in page: its one anonymous item is that page's view.
  await open(phone, `${stack.app}/login`);
  const anonPhone = await anonymousId(phone);
  expect(anonPhone).not.toBe(anonLaptop);
  await Promise.all([flush(laptop), flush(phone)]);
  await eventually(async () => {
    const users = await stack.users();
    expect(users.map((u) => [u.user_id, u.identified_user_id]).sort()).toEqual([anonLaptop, anonPhone].sort().map((id) => [id, null]));
  });
  const dashboard = await openDashboard();
  await expect(dashboard.locator('#users tbody tr')).toHaveCount(2);
  await expect(userCell(dashboard, anonLaptop, 'identifiedUserId')).toHaveText('anonymous');
  await expect(userCell(dashboard, anonPhone, 'identifiedUserId')).toHaveText('anonymous');

  const email = 'grace@acme.example';
  const userId = await signUp(laptop, stack, email);
  expect(await signUp(phone, stack, email, 'login')).toBe(userId);
  await Promise.all([flush(laptop), flush(phone)]);

  await eventually(async () => {
    const users = await stack.users();
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ user_id: userId, identified_user_id: userId });
    expect([...users[0].anonymous_ids].sort()).toEqual([anonLaptop, anonPhone].sort());
    const names = (await stack.events({ user_id: userId, kind: 'action' })).map((i) => i.action_name);
    expect(names).toEqual(expect.arrayContaining(['Signed Up', 'Logged In']));
  });
  for (const anon of [anonLaptop, anonPhone]) {
    const items = await stack.events({ anonymous_id: anon });
    expect(items.length).toBeGreaterThan(0);
    for (const item of items) expect(item.user_id).toBe(userId);
  }

  await expect(dashboard.locator('#users tbody tr')).toHaveCount(1);
  await expect(userCell(dashboard, userId, 'identifiedUserId')).toHaveText(userId);
  await expect(userCell(dashboard, userId, 'anonymousIds')).toContainText(anonLaptop);
  await expect(userCell(dashboard, userId, 'anonymousIds')).toContainText(anonPhone);
});

test('4. two users on one device, reset() at log-out: two profiles, nothing of the first session on the second', async ({ page, stack, openDashboard }) => {
  await open(page, `${stack.app}/signup`);
  const anonFirst = await anonymousId(page);
  const first = await signUp(page, stack, 'ann@acme.example');
  await callApi(page);
  await logOut(page, stack);
  // reset(): a fresh anonymous id and no user id for whoever uses the browser next.
  const anonSecond = await anonymousId(page);
  expect(anonSecond).not.toBe(anonFirst);
  expect(await page.evaluate(() => window.moesif.getUserId())).toBeUndefined();
  const second = await signUp(page, stack, 'bob@globex.example', 'login');
  expect(second).not.toBe(first);
  await flush(page);

  const [ann, bob] = await eventually(async () => {
    const users = await stack.users();
    expect(users.map((u) => u.identified_user_id).sort()).toEqual([first, second].sort());
    const a = await stack.user(first);
    const b = await stack.user(second);
    expect(b?.timeline?.map((i) => i.action_name)).toContain('Logged In');
    return [a!, b!];
  });
  expect(ann.anonymous_ids).toEqual([anonFirst]);
  expect(bob.anonymous_ids).toEqual([anonSecond]);
  expect(ann.company_id).toBe(companyIdFor('ann@acme.example'));
  expect(bob.company_id).toBe(companyIdFor('bob@globex.example'));
  // Nothing of Ann's session is Bob's: not her anonymous id, her API call, her sign-up or her company.
  for (const item of bob.timeline!) {
    expect(item.anonymous_id).not.toBe(anonFirst);
    expect(item.company_id).not.toBe(ann.company_id);
    expect(item.action_name).not.toBe('Signed Up');
    if (item.kind === 'event') expect(path(item)).not.toBe('/test');
  }
  // And nothing of Bob's is Ann's.
  for (const item of ann.timeline!) {
    expect(item.anonymous_id).not.toBe(anonSecond);
    expect(item.action_name).not.toBe('Logged In');
  }

  const dashboard = await openDashboard();
  await expect(dashboard.locator('#users tbody tr')).toHaveCount(2);
  await expect(userCell(dashboard, first, 'anonymousIds')).toHaveText(anonFirst);
  await expect(userCell(dashboard, second, 'anonymousIds')).toHaveText(anonSecond);
  await expect(userCell(dashboard, second, 'company')).toHaveText(companyIdFor('bob@globex.example'));
});

test('5. two users on one device with anonymous browsing between them: it belongs to the second user, not the first', async ({ page, stack, openDashboard }) => {
  await open(page, `${stack.app}/signup`);
  const anonFirst = await anonymousId(page);
  const first = await signUp(page, stack, 'ann@acme.example');
  await logOut(page, stack);
  // Someone else reads the docs on the same browser, and clicks the call to action.
  const anonBetween = await readDocs(page, stack, page.url());
  expect(anonBetween).not.toBe(anonFirst);
  await open(page, `${stack.docs}/docs/`);
  await page.locator('#cta-signup').click();
  await arrived(page, `${stack.app}/signup`);
  await flush(page);

  // Before she signs up, that browsing is an anonymous profile of its own: not Ann's.
  await eventually(async () => {
    const between = await stack.user(anonBetween);
    expect(between).toMatchObject({ user_id: anonBetween, identified_user_id: null });
    expect(between!.timeline!.map((i) => i.action_name)).toContain('Clicked Sign Up');
  });

  const second = await signUp(page, stack, 'beth@globex.example');
  await flush(page);
  const [ann, beth] = await eventually(async () => {
    const users = await stack.users();
    expect(users.map((u) => u.identified_user_id).sort()).toEqual([first, second].sort());
    const b = await stack.user(second);
    expect(b?.anonymous_ids).toEqual([anonBetween]);
    expect(b?.timeline?.map((i) => i.action_name)).toContain('Signed Up');
    return [(await stack.user(first))!, b!];
  });
  expect(ann.anonymous_ids).toEqual([anonFirst]);
  const between = await stack.events({ anonymous_id: anonBetween });
  expect(story(between.filter((i) => i.kind === 'action' && new URL(i.uri!).hostname === 'docs.example.test'))).toEqual([
    'Page View /docs/',
    'Page View /docs/quickstart',
    'Page View /docs/api',
    'Page View /docs/',
    'Clicked Sign Up /docs/',
  ]);
  for (const item of between) expect(item).toMatchObject({ user_id: second, profile_id: second });
  expect(ann.timeline!.filter((i) => i.anonymous_id === anonBetween || i.action_name === 'Clicked Sign Up')).toEqual([]);
  expect(beth.timeline!.filter((i) => i.anonymous_id === anonFirst)).toEqual([]);

  const dashboard = await openDashboard();
  await expect(dashboard.locator('#users tbody tr')).toHaveCount(2);
  await expect(userCell(dashboard, second, 'anonymousIds')).toHaveText(anonBetween);
  await expect(userCell(dashboard, first, 'anonymousIds')).toHaveText(anonFirst);
  await expect(dashboard.locator('#events tbody tr', { hasText: 'Clicked Sign Up' })).toContainText(second);
});

test('6. first API call: server and browser both attribute it to the user, and the funnel converts her through every step', async ({ page, stack, openDashboard }) => {
  const anon = await readDocs(page, stack);
  await page.locator('nav').getByRole('link', { name: 'Sign up' }).click();
  await arrived(page, `${stack.app}/signup`);
  const email = 'lin@acme.example';
  const userId = await signUp(page, stack, email);
  await callApi(page);
  await flush(page);

  // Both sides record GET /test for her: usertrail/server from the JWT's `sub`, and the page's own
  // capture (moesif.start()) from the id given to identifyUser().
  const calls = await eventually(async () => {
    const tests = (await stack.events({ user_id: userId, kind: 'event' })).filter((i) => path(i) === '/test');
    expect(tests.map(recordedBy).sort()).toEqual(['browser', 'server']);
    return tests;
  });
  for (const call of calls) expect(call).toMatchObject({ verb: 'GET', uri: `${stack.apiUrl}/test`, status: 200, user_id: userId, company_id: companyIdFor(email) });

  // Docs visit -> sign-up -> first API call: one person, every step.
  const funnel = await stack.funnel(['action:Page View', 'action:Signed Up', 'event:GET /test']);
  expect(funnel.profiles).toBe(1);
  expect(funnel.steps.map((s) => s.users)).toEqual([1, 1, 1]);
  expect((await stack.funnel()).steps.map((s) => s.users)).toEqual([1, 1, 1]);
  expect((await stack.user(anon))?.user_id).toBe(userId);

  const dashboard = await openDashboard();
  const steps = dashboard.locator('#funnel .funnel-step');
  await expect(steps).toHaveCount(3);
  await expect(steps.nth(0).locator('.numbers')).toHaveText('1 of 1 users');
  await expect(steps.nth(1).locator('.numbers')).toHaveText('1 · 100% of previous');
  await expect(steps.nth(2).locator('.numbers')).toHaveText('1 · 100% of previous');
  const apiRows = dashboard.locator('#events tbody tr', { hasText: `GET ${stack.apiUrl}/test` });
  await expect(apiRows).toHaveCount(2);
  for (const row of await apiRows.all()) {
    await expect(row.locator('td:nth-child(4)')).toHaveText('200');
    await expect(row.locator('td:nth-child(5)')).toHaveText(userId);
  }
});

test('7. a company: identifyCompany links the user, and the company lists her and her API calls', async ({ stack, newDevice, openDashboard }) => {
  const annEmail = 'ann@acme.example';
  const acme = companyIdFor(annEmail);
  const ann = await newDevice();
  const annId = await signUp(ann, stack, annEmail);
  expect(await ann.evaluate(() => window.moesif.getCompanyId())).toBe(acme);
  await callApi(ann);
  await callApi(ann);
  // Someone at another company, to show the company's page holds only its own people.
  const carol = await newDevice();
  const carolId = await signUp(carol, stack, 'carol@globex.example');
  await callApi(carol);
  await Promise.all([flush(ann), flush(carol)]);

  const company = await eventually(async () => {
    const c = await stack.company(acme);
    expect(c).toBeDefined();
    expect(c.api_calls.filter((i: Item) => path(i) === '/test' && recordedBy(i) === 'server')).toHaveLength(2);
    return c;
  });
  expect(company).toMatchObject({ company_id: acme, company_domain: 'acme.example', user_count: 1 });
  expect(company.users.map((u: { user_id: string }) => u.user_id)).toEqual([annId]);
  for (const call of company.api_calls as Item[]) expect(call).toMatchObject({ user_id: annId, company_id: acme });
  expect((await stack.companies()).map((c) => c.company_id).sort()).toEqual([acme, companyIdFor('carol@globex.example')].sort());

  const dashboard = await openDashboard();
  const row = dashboard.locator('#companies tbody tr', { hasText: acme });
  await expect(row.locator('td:nth-child(2)')).toHaveText('acme.example');
  await expect(row.locator('td:nth-child(3)')).toHaveText('1');
  await expect(userCell(dashboard, annId, 'company')).toHaveText(acme);
  // The company's page: its events, all Ann's, her API calls among them, none of Carol's.
  await row.getByRole('button', { name: acme }).click();
  await expect(dashboard.locator('#filter')).toContainText(`company_id = ${acme}`);
  const apiRows = dashboard.locator('#events tbody tr', { hasText: `GET ${stack.apiUrl}/test` });
  await expect.poll(() => apiRows.count()).toBeGreaterThanOrEqual(2);
  for (const r of await dashboard.locator('#events tbody tr').all()) {
    await expect(r.locator('td:nth-child(5)')).toHaveText(annId);
    await expect(r).not.toContainText(carolId);
  }
});

test('8. a page closed right after sign-up still delivers the identify', async ({ page, stack, openDashboard }) => {
  await open(page, `${stack.app}/signup`);
  const anon = await anonymousId(page);
  const email = 'quick@acme.example';
  // Close the tab the moment identifyUser() returns, without beforeunload: as if she closed it.
  let closing: Promise<void> | undefined;
  const close = (): void => {
    closing ??= page.close({ runBeforeUnload: false });
  };
  await page.exposeBinding('journeyIdentified', close);
  // The sign-up page goes on to /app at once. Held here, that navigation closes the tab too: the
  // binding's message can lose the race with it, and the tab must close on the sign-up page.
  await page.route('**/app', close);
  await page.evaluate(() => {
    const moesif = window.moesif;
    const identifyUser = moesif.identifyUser;
    moesif.identifyUser = function (...args: Parameters<typeof identifyUser>) {
      identifyUser.apply(this, args);
      window.journeyIdentified();
    };
  });
  await page.locator('input[name=email]').fill(email);
  // Listened for before the click: on a fast sign-up the tab closes before the click's own wait ends,
  // and a listener added after that would wait for a close that already happened.
  const closed = page.waitForEvent('close', { timeout: 30_000 });
  // The tab may close while the click still waits for what follows it: that is the scenario, not an error.
  await page.getByRole('button', { name: 'Sign up' }).click().catch((error: Error) => {
    if (!page.isClosed()) throw error;
  });
  // Bounded, and telling: a sign-up that failed (the demo API down or slow) says so on the form.
  await closed.catch(async (error: Error) => {
    const form = await page.locator('#form-status').textContent({ timeout: 1_000 }).catch(() => 'unreadable');
    throw new Error(`the tab did not close after sign-up; the form says: ${form}`, { cause: error });
  });
  await closing;

  const userId = userIdFor(email);
  await eventually(async () => {
    const user = await stack.user(userId);
    // The API's log-in creates the user on its own; the browser's identify is what links `anon`.
    expect(user).toMatchObject({ user_id: userId, identified_user_id: userId, anonymous_ids: [anon] });
    return user!;
  });
  // The page view of the sign-up form is hers too: the form keeps its title, so its view was still
  // waiting for a new one when the tab closed, and left with the page's last requests. So is the
  // sign-up itself, tracked in the same instant.
  const timeline = await eventually(async () => {
    const items = (await stack.user(userId))!.timeline!;
    expect(items.map((i) => `${i.action_name} ${path(i)}`)).toEqual(expect.arrayContaining(['Page View /signup', 'Signed Up /signup']));
    return items;
  });
  expect(timeline.every((i) => i.user_id === userId)).toBe(true);

  const dashboard = await openDashboard();
  await expect(userRow(dashboard, userId)).toBeVisible();
  await expect(userCell(dashboard, userId, 'identifiedUserId')).toHaveText(userId);
  await expect(userCell(dashboard, userId, 'anonymousIds')).toHaveText(anon);
});

test('9. campaign across subdomains: she lands on docs from a Google ad and signs up on app; the users and companies calls made on app carry that first touch, and reset() forgets it on docs too', async ({ page, stack }) => {
  const firstTouch = { utm_source: 'google', utm_medium: 'cpc', gclid: 'Cj0KCQ-journey-ad-click' };
  const anon = await readDocs(page, stack, `${stack.docs}/docs/?${new URLSearchParams(firstTouch)}`);
  // Kept where app.example.test reads it too: a cookie on the site's domain.
  const campaignCookie = async () => (await page.context().cookies()).find((c) => c.name === 'moesif_campaign_data');
  expect(await campaignCookie()).toMatchObject({ domain: '.example.test', sameSite: 'Lax', secure: false });

  // A later tagged visit, on the app subdomain (its localStorage empty): not the first touch.
  await open(page, `${stack.app}/signup?utm_source=bing&utm_medium=cpc`);
  expect(await anonymousId(page)).toBe(anon);
  const email = 'ada@acme.example';
  const userId = await signUp(page, stack, email);
  await flush(page);
  // What the identify calls made on app carried, as the collector stored them (not the profile view,
  // which would show the first touch anyway, from the anonymous docs visit merged into her).
  await eventually(async () => {
    expect(stack.identifiedCampaign(userId)).toEqual(firstTouch);
    expect((await stack.company(companyIdFor(email)))?.campaign).toEqual(firstTouch);
  });
  expect((await stack.user(userId))?.campaign).toEqual(firstTouch);

  // Log-out on app: reset() removes the cookie for every subdomain; docs' localStorage still mirrors
  // the campaign, and must neither bring it back nor send it with the next visitor's identify there.
  await page.evaluate(() => (window as any).moesif.reset());
  expect(await campaignCookie()).toBeUndefined();
  await open(page, `${stack.docs}/docs/`);
  expect(await page.evaluate(() => localStorage.getItem('moesif_campaign_data'))).toContain('Cj0KCQ-journey-ad-click');
  await page.evaluate(() => (window as any).moesif.identifyUser('next-visitor'));
  await flush(page);
  await eventually(async () => expect(await stack.user('next-visitor')).toBeDefined());
  expect(stack.identifiedCampaign('next-visitor')).toBeNull();
  expect(await campaignCookie()).toBeUndefined();
  expect(await page.evaluate(() => localStorage.getItem('moesif_campaign_data'))).toBeNull();
});
