// @vitest-environment node
/**
 * The seed "Identifying Customers", section "User merging": each row of its table of five
 * scenarios, as the calls moesif-browser-js makes, and the profiles the collector must then show.
 * Each test uses ids of its own, so they share one collector.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { action, apiCall, at, startTestCollector, type TestCollector } from './support';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(async () => {
  await c.close();
});

const profile = async (id: string) => (await c.get(`/api/users/${encodeURIComponent(id)}`)).body;
const profiles = async () => (await c.get('/api/users?limit=500')).body.users as Array<Record<string, any>>;
const eventsOf = async (userId: string) => (await c.get(`/api/events?user_id=${encodeURIComponent(userId)}&limit=500`)).body;
/** Each event found by `userId`, newest first: when it happened, and the seed's two ids it is listed with. */
const idsOfEvents = async (userId: string) => (await eventsOf(userId)).events.map((e: any) => [e.time, e.user_id, e.identified_user_id]);

describe('identity stitching, per the seed table', () => {
  it('row 1: with no user id identified, every event belongs to an anonymous profile whose User Id is the anonymous id', async () => {
    await c.post('/v1/users', { anonymous_id: 'r1-anon', campaign: { utm_source: 'newsletter' } });
    await c.post('/v1/actions/batch', [action({ anonymous_id: 'r1-anon', time: at(1) }), action({ anonymous_id: 'r1-anon', time: at(2), action_name: 'Clicked Docs' })]);

    const p = await profile('r1-anon');
    expect(p).toMatchObject({ user_id: 'r1-anon', identified_user_id: null, anonymous_ids: ['r1-anon'], action_count: 2, first_seen: at(1) });
    expect(p.campaign).toEqual({ utm_source: 'newsletter' });
    // Each event too: "Identified User Id is null. User Id is set to a generated Anonymous Id."
    const { events } = await eventsOf('r1-anon');
    expect(events.map((e: any) => [e.user_id, e.identified_user_id, e.anonymous_id])).toEqual([
      ['r1-anon', null, 'r1-anon'],
      ['r1-anon', null, 'r1-anon'],
    ]);
    // An API call that carries no id at all has no User Id ("the userID field in Moesif will simply just be undefined").
    const tx = 'r1-unauthenticated';
    await c.post('/v1/events', { ...apiCall({ time: at(3), status: 401 }), transaction_id: tx });
    const unauthenticated = (await c.get('/api/events?kind=event&limit=500')).body.events.find((e: any) => e.transaction_id === tx);
    expect(unauthenticated).toMatchObject({ user_id: null, identified_user_id: null, anonymous_id: null });
  });

  it('row 1 and 2: an event is listed with the User Id it is asked for by, and the Identified User Id once there is one', async () => {
    await c.post('/v1/actions', action({ anonymous_id: 'r12-anon', time: at(1) }));
    const asked = async () => (await eventsOf('r12-anon')).events.map((e: any) => [e.user_id, e.identified_user_id]);
    expect(await asked()).toEqual([['r12-anon', null]]);
    await c.post('/v1/users', { user_id: 'r12-user', anonymous_id: 'r12-anon', modified_time: at(2) });
    expect(await asked()).toEqual([['r12-user', 'r12-user']]);
  });

  it('row 2: once identified, the earlier anonymous events count for the user, and User Id and Identified User Id are the user id', async () => {
    await c.post('/v1/actions/batch', [action({ anonymous_id: 'r2-anon', time: at(1) }), action({ anonymous_id: 'r2-anon', time: at(2) })]);
    // "Events are associated with an anonymous user profile. Initially Identified User Id is null."
    expect(await profile('r2-anon')).toMatchObject({ user_id: 'r2-anon', identified_user_id: null });
    expect(await idsOfEvents('r2-anon')).toEqual([
      [at(2), 'r2-anon', null],
      [at(1), 'r2-anon', null],
    ]);

    // identifyUser() sends a users call carrying both ids.
    await c.post('/v1/users', { user_id: 'r2-user', anonymous_id: 'r2-anon', modified_time: at(3), metadata: { email: 'r2@example.test' } });
    await c.post('/v1/events', apiCall({ user_id: 'r2-user', time: at(4) }));
    // An anonymous-only item after the merge (an action batched before identifyUser) counts for the user too.
    await c.post('/v1/actions', action({ anonymous_id: 'r2-anon', time: at(5) }));

    const p = await profile('r2-user');
    expect(p).toMatchObject({ user_id: 'r2-user', identified_user_id: 'r2-user', anonymous_ids: ['r2-anon'], action_count: 3, event_count: 1, first_seen: at(1), last_seen: at(5) });
    expect(p.metadata).toEqual({ email: 'r2@example.test' });
    expect(p.timeline.map((e: any) => [e.time, e.user_id])).toEqual([
      [at(1), 'r2-user'],
      [at(2), 'r2-user'],
      [at(4), 'r2-user'],
      [at(5), 'r2-user'],
    ]);
    // The anonymous profile is gone from the list; asking for it leads to the user.
    expect((await profiles()).some((q) => q.user_id === 'r2-anon')).toBe(false);
    expect(await profile('r2-anon')).toMatchObject({ user_id: 'r2-user', requested_id: 'r2-anon' });
    expect((await eventsOf('r2-anon')).events.map((e: any) => e.profile_id)).toEqual(['r2-user', 'r2-user', 'r2-user', 'r2-user']);
    // "Once the user is identified, both User Id and Identified User Id are set to the actual user id":
    // on every event, the anonymous ones from before included.
    expect(await idsOfEvents('r2-user')).toEqual([
      [at(5), 'r2-user', 'r2-user'],
      [at(4), 'r2-user', 'r2-user'],
      [at(2), 'r2-user', 'r2-user'],
      [at(1), 'r2-user', 'r2-user'],
    ]);
  });

  it('row 2 after many anonymous events: all 1,500 count for the user, and the anonymous profile is gone', async () => {
    const start = Date.UTC(2025, 0, 2);
    const views = Array.from({ length: 1500 }, (_, n) => action({ anonymous_id: 'r2m-anon', time: new Date(start + n * 1000).toISOString() }));
    for (let from = 0; from < views.length; from += 500) expect((await c.post('/v1/actions/batch', views.slice(from, from + 500))).status).toBe(201);
    await c.post('/v1/users', { user_id: 'r2m-user', anonymous_id: 'r2m-anon' });
    expect(await profile('r2m-user')).toMatchObject({ action_count: 1500, anonymous_ids: ['r2m-anon'], first_seen: new Date(start).toISOString() });
    const events = await eventsOf('r2m-user');
    expect(events.total).toBe(1500);
    expect(events.events.every((e: any) => e.user_id === 'r2m-user' && e.profile_id === 'r2m-user')).toBe(true);
    expect((await profiles()).some((p) => p.user_id === 'r2m-anon')).toBe(false);
  });

  it('row 2, any item: an action carrying both ids merges the anonymous id just as a users call does', async () => {
    await c.post('/v1/actions', action({ anonymous_id: 'r2b-anon', time: at(1) }));
    await c.post('/v1/actions', action({ anonymous_id: 'r2b-anon', user_id: 'r2b-user', action_name: 'Signed Up', time: at(2) }));
    expect(await profile('r2b-user')).toMatchObject({ user_id: 'r2b-user', identified_user_id: 'r2b-user', anonymous_ids: ['r2b-anon'], action_count: 2 });
  });

  it('row 3: the same user on two devices merges both anonymous profiles into one user', async () => {
    await c.post('/v1/users', { anonymous_id: 'r3-laptop', campaign: { utm_source: 'search' } });
    await c.post('/v1/actions', action({ anonymous_id: 'r3-laptop', time: at(1) }));
    await c.post('/v1/users', { anonymous_id: 'r3-phone', campaign: { utm_source: 'ad' } });
    await c.post('/v1/actions', action({ anonymous_id: 'r3-phone', time: at(2) }));
    // "Events will be initially associated to two different anonymous profiles."
    expect((await profiles()).filter((p) => p.user_id.startsWith('r3-'))).toHaveLength(2);
    expect(await idsOfEvents('r3-laptop')).toEqual([[at(1), 'r3-laptop', null]]);
    expect(await idsOfEvents('r3-phone')).toEqual([[at(2), 'r3-phone', null]]);

    await c.post('/v1/users', { user_id: 'r3-user', anonymous_id: 'r3-laptop' });
    await c.post('/v1/users', { user_id: 'r3-user', anonymous_id: 'r3-phone' });
    // Logged in on both, the user goes on using both devices (moesif-browser-js then sends the user id only).
    await c.post('/v1/actions', action({ user_id: 'r3-user', time: at(3) }));

    const mine = (await profiles()).filter((p) => p.user_id.startsWith('r3-'));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ user_id: 'r3-user', identified_user_id: 'r3-user', action_count: 3, first_seen: at(1) });
    expect([...mine[0].anonymous_ids].sort()).toEqual(['r3-laptop', 'r3-phone']);
    // First touch: the laptop's campaign came first.
    expect(mine[0].campaign).toEqual({ utm_source: 'search' });
    // "User Id and Identified User Id are set to the actual user id", on both devices' events; either
    // device's anonymous id leads to the user.
    const merged = [
      [at(3), 'r3-user', 'r3-user'],
      [at(2), 'r3-user', 'r3-user'],
      [at(1), 'r3-user', 'r3-user'],
    ];
    expect(await idsOfEvents('r3-user')).toEqual(merged);
    expect(await idsOfEvents('r3-laptop')).toEqual(merged);
    expect(await idsOfEvents('r3-phone')).toEqual(merged);
  });

  it('row 3, with no anonymous events: a user who logs in at once on two devices is one profile, with both anonymous ids', async () => {
    // Each device's first call is identifyUser(): its users call carries the device's anonymous id.
    await c.post('/v1/users', { user_id: 'r3n-user', anonymous_id: 'r3n-laptop', modified_time: at(1) });
    await c.post('/v1/actions', action({ user_id: 'r3n-user', time: at(2) }));
    await c.post('/v1/users', { user_id: 'r3n-user', anonymous_id: 'r3n-phone', modified_time: at(3) });
    await c.post('/v1/actions', action({ user_id: 'r3n-user', time: at(4) }));

    const mine = (await profiles()).filter((p) => p.user_id.startsWith('r3n-'));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ user_id: 'r3n-user', identified_user_id: 'r3n-user', action_count: 2, identified_at: at(1) });
    expect([...mine[0].anonymous_ids].sort()).toEqual(['r3n-laptop', 'r3n-phone']);
    expect(await idsOfEvents('r3n-phone')).toEqual([
      [at(4), 'r3n-user', 'r3n-user'],
      [at(2), 'r3n-user', 'r3n-user'],
    ]);
  });

  it('row 4: two user ids on one device with reset() between them make two profiles, never merged', async () => {
    await c.post('/v1/actions', action({ anonymous_id: 'r4-anon-1', time: at(1) }));
    await c.post('/v1/users', { user_id: 'r4-alice', anonymous_id: 'r4-anon-1' });
    await c.post('/v1/events', apiCall({ user_id: 'r4-alice', anonymous_id: 'r4-anon-1', time: at(2) }));
    // moesif.reset() on log-out: the next visitor gets a fresh anonymous id.
    await c.post('/v1/actions', action({ anonymous_id: 'r4-anon-2', time: at(3) }));
    await c.post('/v1/users', { user_id: 'r4-bob', anonymous_id: 'r4-anon-2' });
    await c.post('/v1/events', apiCall({ user_id: 'r4-bob', anonymous_id: 'r4-anon-2', time: at(4) }));

    expect(await profile('r4-alice')).toMatchObject({ user_id: 'r4-alice', identified_user_id: 'r4-alice', anonymous_ids: ['r4-anon-1'], action_count: 1, event_count: 1 });
    expect(await profile('r4-bob')).toMatchObject({ user_id: 'r4-bob', identified_user_id: 'r4-bob', anonymous_ids: ['r4-anon-2'], action_count: 1, event_count: 1 });
    expect(await idsOfEvents('r4-alice')).toEqual([
      [at(2), 'r4-alice', 'r4-alice'],
      [at(1), 'r4-alice', 'r4-alice'],
    ]);
    expect(await idsOfEvents('r4-bob')).toEqual([
      [at(4), 'r4-bob', 'r4-bob'],
      [at(3), 'r4-bob', 'r4-bob'],
    ]);
  });

  it('row 4 without reset(), no anonymous events: two user ids seen with one anonymous id make two profiles, never merged', async () => {
    // Alice logs in, uses the app, logs out without reset(); Bob logs in on the same browser.
    await c.post('/v1/users', { user_id: 'r4n-alice', anonymous_id: 'r4n-device', modified_time: at(1) });
    await c.post('/v1/actions', action({ user_id: 'r4n-alice', anonymous_id: 'r4n-device', time: at(2) }));
    const claim = await c.post('/v1/users', { user_id: 'r4n-bob', anonymous_id: 'r4n-device', modified_time: at(3) });
    expect(claim.body.conflicts).toBe(1);
    await c.post('/v1/actions', action({ user_id: 'r4n-bob', anonymous_id: 'r4n-device', time: at(4) }));

    // "Two profiles will be created, one for each user id. No merging will occur."
    expect((await profiles()).filter((p) => p.user_id.startsWith('r4n-')).map((p) => p.user_id).sort()).toEqual(['r4n-alice', 'r4n-bob']);
    expect(await profile('r4n-alice')).toMatchObject({ user_id: 'r4n-alice', identified_user_id: 'r4n-alice', anonymous_ids: ['r4n-device'], action_count: 1 });
    expect(await profile('r4n-bob')).toMatchObject({ user_id: 'r4n-bob', identified_user_id: 'r4n-bob', anonymous_ids: [], action_count: 1 });
    expect(await idsOfEvents('r4n-alice')).toEqual([[at(2), 'r4n-alice', 'r4n-alice']]);
    expect(await idsOfEvents('r4n-bob')).toEqual([[at(4), 'r4n-bob', 'r4n-bob']]);
  });

  it('row 4 and 5 without reset(): a second user seen with an anonymous id merged into the first absorbs none of the first user\'s history', async () => {
    await c.post('/v1/actions', action({ anonymous_id: 'r5-device', time: at(1) }));
    await c.post('/v1/users', { user_id: 'r5-alice', anonymous_id: 'r5-device' });
    await c.post('/v1/events', apiCall({ user_id: 'r5-alice', anonymous_id: 'r5-device', time: at(2) }));
    // Alice logs out without reset(): anonymous browsing keeps the old id...
    await c.post('/v1/actions', action({ anonymous_id: 'r5-device', time: at(3) }));
    // ...and Bob logs in on the same device.
    const claim = await c.post('/v1/users', { user_id: 'r5-bob', anonymous_id: 'r5-device' });
    expect(claim.status).toBe(201);
    expect(claim.body.conflicts).toBe(1);
    await c.post('/v1/events', apiCall({ user_id: 'r5-bob', anonymous_id: 'r5-device', time: at(4) }));

    const alice = await profile('r5-alice');
    const bob = await profile('r5-bob');
    // The first merge stands: the anonymous id and its anonymous-only items stay Alice's.
    expect(alice).toMatchObject({ anonymous_ids: ['r5-device'], action_count: 2, event_count: 1 });
    // Items naming Bob are Bob's; nothing of Alice's moved.
    expect(bob).toMatchObject({ identified_user_id: 'r5-bob', anonymous_ids: [], action_count: 0, event_count: 1 });
    expect(bob.timeline.map((e: any) => e.time)).toEqual([at(4)]);
    // The anonymous browsing after Alice's log-out is listed under her (the "old user session" the seed
    // warns of), and the anonymous id leads to her.
    const alices = [
      [at(3), 'r5-alice', 'r5-alice'],
      [at(2), 'r5-alice', 'r5-alice'],
      [at(1), 'r5-alice', 'r5-alice'],
    ];
    expect(await idsOfEvents('r5-alice')).toEqual(alices);
    expect(await idsOfEvents('r5-device')).toEqual(alices);
    expect(await idsOfEvents('r5-bob')).toEqual([[at(4), 'r5-bob', 'r5-bob']]);
  });

  it('row 4 and 5 without reset(), batches out of order: the anonymous id stays with the user who used it first, whatever order the batches arrive in', async () => {
    // One device, no reset() between Alice and Bob. Alice's actions sat in an offline outbox, so Bob's
    // batch reaches the collector before hers. Each run uses its own ids.
    const run = async (tag: string, order: 'in-order' | 'bob-first') => {
      const anon = action({ anonymous_id: `${tag}-device`, time: at(1) });
      const alice = action({ user_id: `${tag}-alice`, anonymous_id: `${tag}-device`, action_name: 'Signed In', time: at(2) });
      const bob = action({ user_id: `${tag}-bob`, anonymous_id: `${tag}-device`, action_name: 'Signed In', time: at(5) });
      await c.post('/v1/actions', anon);
      for (const item of order === 'in-order' ? [alice, bob] : [bob, alice]) await c.post('/v1/actions/batch', [item]);
      const [a, b] = [await profile(`${tag}-alice`), await profile(`${tag}-bob`)];
      return { alice: [a.anonymous_ids, a.action_count, a.first_seen], bob: [b.anonymous_ids, b.action_count, b.first_seen] };
    };
    const inOrder = await run('ooo1', 'in-order');
    expect(inOrder).toEqual({ alice: [['ooo1-device'], 2, at(1)], bob: [[], 1, at(5)] });
    expect(await run('ooo2', 'bob-first')).toEqual({ alice: [['ooo2-device'], 2, at(1)], bob: [[], 1, at(5)] });

    // Alice's users call (timed when it arrives) merged the id first; her action from before it,
    // which arrives late, dates her claim back to at(2): Bob's at(5) still takes nothing.
    await c.post('/v1/actions', action({ anonymous_id: 'ooo3-device', time: at(1) }));
    await c.post('/v1/users', { user_id: 'ooo3-alice', anonymous_id: 'ooo3-device' });
    await c.post('/v1/actions', action({ user_id: 'ooo3-alice', anonymous_id: 'ooo3-device', time: at(2) }));
    await c.post('/v1/actions', action({ user_id: 'ooo3-bob', anonymous_id: 'ooo3-device', time: at(5) }));
    expect((await profile('ooo3-alice')).anonymous_ids).toEqual(['ooo3-device']);
    expect((await profile('ooo3-bob')).anonymous_ids).toEqual([]);
  });

  it('row 4 and 5 without reset(): the second user\'s campaign becomes his first touch, never the first user\'s', async () => {
    await c.post('/v1/users', { anonymous_id: 'r5c-device' });
    await c.post('/v1/users', { user_id: 'r5c-alice', anonymous_id: 'r5c-device' });
    // Bob lands from an ad on the same browser, Alice's anonymous id still in place, and signs in.
    const claim = await c.post('/v1/users', { user_id: 'r5c-bob', anonymous_id: 'r5c-device', campaign: { utm_source: 'bob-ad' } });
    expect(claim.body.conflicts).toBe(1);
    expect((await profile('r5c-alice')).campaign).toBeNull();
    expect((await profile('r5c-bob')).campaign).toEqual({ utm_source: 'bob-ad' });
  });

  it('row 4 and 5 without reset(), batches out of order: the first user takes back the anonymous id, and none of the second user\'s first touch', async () => {
    // Bob's users call (with his campaign) arrives before Alice's earlier call that used the id first.
    await c.post('/v1/users', { user_id: 'r5o-bob', anonymous_id: 'r5o-device', modified_time: at(20), campaign: { utm_source: 'bob-ad' } });
    const claim = await c.post('/v1/actions', action({ user_id: 'r5o-alice', anonymous_id: 'r5o-device', time: at(10) }));
    expect(claim.body.conflicts).toBe(1);
    expect(await profile('r5o-alice')).toMatchObject({ anonymous_ids: ['r5o-device'], campaign: null });
    expect(await profile('r5o-bob')).toMatchObject({ anonymous_ids: [], campaign: { utm_source: 'bob-ad' } });
  });

  it('row 5 with reset(): anonymous events before the second log-in go to the second user only', async () => {
    await c.post('/v1/actions', action({ anonymous_id: 'r5r-anon-1', time: at(1) }));
    await c.post('/v1/users', { user_id: 'r5r-alice', anonymous_id: 'r5r-anon-1' });
    await c.post('/v1/actions', action({ anonymous_id: 'r5r-anon-1', user_id: 'r5r-alice', time: at(2) }));
    await c.post('/v1/actions', action({ anonymous_id: 'r5r-anon-2', time: at(3) }));
    await c.post('/v1/actions', action({ anonymous_id: 'r5r-anon-2', time: at(4) }));
    await c.post('/v1/users', { user_id: 'r5r-bob', anonymous_id: 'r5r-anon-2' });

    expect(await profile('r5r-alice')).toMatchObject({ anonymous_ids: ['r5r-anon-1'], action_count: 2, first_seen: at(1) });
    expect(await profile('r5r-bob')).toMatchObject({ anonymous_ids: ['r5r-anon-2'], action_count: 2, first_seen: at(3) });
    expect(await idsOfEvents('r5r-alice')).toEqual([
      [at(2), 'r5r-alice', 'r5r-alice'],
      [at(1), 'r5r-alice', 'r5r-alice'],
    ]);
    expect(await idsOfEvents('r5r-bob')).toEqual([
      [at(4), 'r5r-bob', 'r5r-bob'],
      [at(3), 'r5r-bob', 'r5r-bob'],
    ]);
  });

  it('server-side API calls that carry only the user id join the same profile as the browser\'s actions', async () => {
    await c.post('/v1/actions', action({ anonymous_id: 'srv-anon', time: at(1) }));
    await c.post('/v1/users', { user_id: 'srv-user', anonymous_id: 'srv-anon' });
    await c.post('/v1/events', apiCall({ user_id: 'srv-user', time: at(2), verb: 'POST', uri: 'http://api.example.test/orders' }));
    const { events } = await eventsOf('srv-user');
    expect(events.map((e: any) => [e.kind, e.user_id, e.identified_user_id])).toEqual([
      ['event', 'srv-user', 'srv-user'],
      ['action', 'srv-user', 'srv-user'],
    ]);
  });

  it("an API call attributed by the user id of its JWT (the server's identifyUser hook) is an identified profile, before any browser traffic", async () => {
    // "Tracking API calls by User": the middleware's identifyUser returns req.user.id; nothing else is sent.
    await c.post('/v1/events', apiCall({ user_id: 'jwt-user', time: at(1) }));
    expect(await profile('jwt-user')).toMatchObject({ user_id: 'jwt-user', identified_user_id: 'jwt-user', anonymous_ids: [], event_count: 1, identified_at: at(1) });
    expect(await idsOfEvents('jwt-user')).toEqual([[at(1), 'jwt-user', 'jwt-user']]);
    // The browser's sign-up later merges its anonymous visit into the same profile.
    await c.post('/v1/actions', action({ anonymous_id: 'jwt-anon', time: at(2) }));
    await c.post('/v1/users', { user_id: 'jwt-user', anonymous_id: 'jwt-anon', modified_time: at(3) });
    expect(await idsOfEvents('jwt-user')).toEqual([
      [at(2), 'jwt-user', 'jwt-user'],
      [at(1), 'jwt-user', 'jwt-user'],
    ]);
  });
});

describe('first touch', () => {
  it('is the campaign of the earliest users call, whatever order the calls arrive in', async () => {
    // A server-side sync sends profiles with modified_time; the later one happens to arrive first.
    await c.post('/v1/users', { user_id: 'ft-user', modified_time: at(50), campaign: { utm_source: 'retargeting' } });
    await c.post('/v1/users', { user_id: 'ft-user', modified_time: at(10), campaign: { utm_source: 'launch-post' } });
    expect((await profile('ft-user')).campaign).toEqual({ utm_source: 'launch-post' });
    await c.post('/v1/companies', { company_id: 'ft-co', modified_time: at(50), campaign: { utm_source: 'retargeting' } });
    await c.post('/v1/companies', { company_id: 'ft-co', modified_time: at(10), campaign: { utm_source: 'launch-post' } });
    expect((await c.get('/api/companies/ft-co')).body.campaign).toEqual({ utm_source: 'launch-post' });
  });
});

describe('metadata', () => {
  it('keeps, for each field, the value of the newest call by its own time, whatever order the calls arrive in', async () => {
    // An SDK's retry or an outbox adopting old items delivers the older call last.
    await c.post('/v1/users', { user_id: 'md-user', modified_time: at(50), metadata: { plan: 'team', seats: 5 } });
    await c.post('/v1/users', { user_id: 'md-user', modified_time: at(10), metadata: { plan: 'free', email: 'md@example.test' } });
    expect((await profile('md-user')).metadata).toEqual({ plan: 'team', seats: 5, email: 'md@example.test' });
    // A newer call still replaces a field.
    await c.post('/v1/users', { user_id: 'md-user', modified_time: at(60), metadata: { plan: 'enterprise' } });
    expect((await profile('md-user')).metadata).toEqual({ plan: 'enterprise', seats: 5, email: 'md@example.test' });

    await c.post('/v1/companies', { company_id: 'md-co', modified_time: at(50), company_domain: 'new.example.test', metadata: { mrr: 900 } });
    await c.post('/v1/companies', { company_id: 'md-co', modified_time: at(10), company_domain: 'old.example.test', metadata: { mrr: 100, industry: 'retail' } });
    expect((await c.get('/api/companies/md-co')).body).toMatchObject({ company_domain: 'new.example.test', metadata: { mrr: 900, industry: 'retail' } });
  });
});

describe("linking users to companies, the seed's three ways", () => {
  // "As long as you link a user to a company, Moesif will associate any future web or API traffic
  // from a user to that company as well." Each way: a docs visit and an API call before the link
  // count for no company; after it, a page view and an API call that name no company (a browser
  // without identifyCompany(), a server without the identifyCompany hook) count for it.
  const before = async (tag: string) => {
    await c.post('/v1/actions', action({ anonymous_id: `${tag}-anon`, time: at(1) }));
    await c.post('/v1/events', apiCall({ user_id: `${tag}-user`, time: at(2) }));
    await c.post('/v1/users', { user_id: `${tag}-user`, anonymous_id: `${tag}-anon`, modified_time: at(3) });
    await c.post('/v1/actions', action({ user_id: `${tag}-user`, time: at(10) }));
  };
  const after = async (tag: string, webIds: Record<string, unknown>) => {
    await c.post('/v1/actions', action({ ...webIds, time: at(20) }));
    await c.post('/v1/events', apiCall({ user_id: `${tag}-user`, time: at(21) }));
  };
  /** Every event of the user, newest first: [time, kind, the company it counts for]; then the company's answers agree. */
  const expectCompanyOfEvents = async (tag: string, expected: [string, string, string | null][]) => {
    const company = `${tag}-acme`;
    expect(await profile(`${tag}-user`)).toMatchObject({ user_id: `${tag}-user`, identified_user_id: `${tag}-user`, company_id: company, anonymous_ids: [`${tag}-anon`] });
    expect((await eventsOf(`${tag}-user`)).events.map((e: any) => [e.time, e.kind, e.company_id])).toEqual(expected);
    const theirs = expected.filter(([, , co]) => co === company);
    const answer = (await c.get(`/api/companies/${company}`)).body;
    expect(answer).toMatchObject({
      user_count: 1,
      action_count: theirs.filter(([, kind]) => kind === 'action').length,
      event_count: theirs.filter(([, kind]) => kind === 'event').length,
    });
    expect(answer.users.map((u: any) => u.user_id)).toEqual([`${tag}-user`]);
    expect((await c.get(`/api/events?company_id=${company}`)).body.events.map((e: any) => e.time)).toEqual(theirs.map(([time]) => time));
  };

  it("1. the server integration's identifyCompany hook: an API call naming the user and the company", async () => {
    await before('l1');
    // The hook returns the company from the request's context, for this call.
    await c.post('/v1/events', apiCall({ user_id: 'l1-user', company_id: 'l1-acme', time: at(11) }));
    // Later: a page view from the merged device, with the anonymous id only (a tab that has not
    // called identifyUser()), and an API call of a route the hook does not know the company on.
    await after('l1', { anonymous_id: 'l1-anon' });
    await expectCompanyOfEvents('l1', [
      [at(21), 'event', 'l1-acme'],
      [at(20), 'action', 'l1-acme'],
      [at(11), 'event', 'l1-acme'],
      [at(10), 'action', null],
      [at(2), 'event', null],
      [at(1), 'action', null],
    ]);
  });

  it("2. the browser's identifyCompany() after sign-in: a companies call sharing only the session token with the users call", async () => {
    await before('l2');
    // moesif.identifySession(); moesif.identifyUser(); moesif.identifyCompany(), as moesif-browser-js sends them.
    await c.post('/v1/users', { user_id: 'l2-user', anonymous_id: 'l2-anon', session_token: 'l2-session', modified_time: at(11) });
    await c.post('/v1/companies', { company_id: 'l2-acme', session_token: 'l2-session', modified_time: at(12) });
    await after('l2', { user_id: 'l2-user' });
    await expectCompanyOfEvents('l2', [
      [at(21), 'event', 'l2-acme'],
      [at(20), 'action', 'l2-acme'],
      [at(10), 'action', null],
      [at(2), 'event', null],
      [at(1), 'action', null],
    ]);

    // Without identifySession() the companies call carries no session token and names no one; the
    // user is linked by the first action moesif-browser-js tags with the stored company id.
    await before('l2n');
    await c.post('/v1/companies', { company_id: 'l2n-acme', modified_time: at(12) });
    await c.post('/v1/actions', action({ user_id: 'l2n-user', company_id: 'l2n-acme', time: at(13) }));
    await after('l2n', { user_id: 'l2n-user' });
    await expectCompanyOfEvents('l2n', [
      [at(21), 'event', 'l2n-acme'],
      [at(20), 'action', 'l2n-acme'],
      [at(13), 'action', 'l2n-acme'],
      [at(10), 'action', null],
      [at(2), 'event', null],
      [at(1), 'action', null],
    ]);
  });

  it('3. a company_id on a saved user (a users call from a sync process, naming no device)', async () => {
    await before('l3');
    await c.post('/v1/users', { user_id: 'l3-user', company_id: 'l3-acme', modified_time: at(15), metadata: { email: 'l3@acme.example' } });
    await after('l3', { anonymous_id: 'l3-anon' });
    await expectCompanyOfEvents('l3', [
      [at(21), 'event', 'l3-acme'],
      [at(20), 'action', 'l3-acme'],
      [at(10), 'action', null],
      [at(2), 'event', null],
      [at(1), 'action', null],
    ]);
  });
});

describe('companies', () => {
  it('links a user to the company named on a users call, and counts the traffic from then on for the company, not earlier traffic, whatever order the calls arrive in', async () => {
    // "As long as you link a user to a company, Moesif will associate any future web or API traffic
    // from a user to that company as well." The docs visit and the first API call come before the
    // link; the second run gets the users call first.
    const run = async (tag: string, order: 'in-order' | 'link-first') => {
      const link = { user_id: `${tag}-user`, anonymous_id: `${tag}-anon`, company_id: `${tag}-acme`, modified_time: at(3) };
      if (order === 'link-first') await c.post('/v1/users', link);
      await c.post('/v1/actions', action({ anonymous_id: `${tag}-anon`, time: at(1) }));
      await c.post('/v1/events', apiCall({ user_id: `${tag}-user`, time: at(2) }));
      if (order === 'in-order') await c.post('/v1/users', link);
      await c.post('/v1/companies', { company_id: `${tag}-acme`, company_domain: 'acme.example.test', metadata: { plan: 'team' } });
      await c.post('/v1/events', apiCall({ user_id: `${tag}-user`, time: at(4) }));

      const company = (await c.get(`/api/companies/${tag}-acme`)).body;
      expect(company).toMatchObject({ company_domain: 'acme.example.test', metadata: { plan: 'team' }, user_count: 1, action_count: 0, event_count: 1 });
      expect(company.users.map((u: any) => u.user_id)).toEqual([`${tag}-user`]);
      expect(company.api_calls.map((e: any) => e.time)).toEqual([at(4)]);
      expect((await eventsOf(`${tag}-user`)).events.map((e: any) => [e.time, e.company_id])).toEqual([[at(4), `${tag}-acme`], [at(2), null], [at(1), null]]);
      expect((await c.get(`/api/activity?company_id=${tag}-acme`)).body).toMatchObject({ actions: 0, events: 1 });
    };
    await run('co', 'in-order');
    await run('co1', 'link-first');
  });

  it('links a user to the company named on an item', async () => {
    await c.post('/v1/events', apiCall({ user_id: 'co2-user', company_id: 'co2-globex', time: at(1) }));
    await c.post('/v1/events', apiCall({ user_id: 'co2-user', time: at(2) }));
    expect(await profile('co2-user')).toMatchObject({ company_id: 'co2-globex' });
    const list = (await c.get('/api/companies')).body.companies;
    expect(list.find((x: any) => x.company_id === 'co2-globex')).toMatchObject({ user_count: 1, event_count: 2 });
  });

  it('links a user to the company identified after them in the same session, as moesif-browser-js sends identifyUser() then identifyCompany()', async () => {
    // moesif.identifySession('co4-session'); moesif.identifyUser('co4-user'); moesif.identifyCompany('co4-acme'):
    // the users call goes before the company is known, and the companies call names no user.
    await c.post('/v1/actions', action({ anonymous_id: 'co4-anon', time: at(1) }));
    await c.post('/v1/users', { user_id: 'co4-user', session_token: 'co4-session', anonymous_id: 'co4-anon' });
    await c.post('/v1/companies', { company_id: 'co4-acme', company_domain: 'acme.example.test', session_token: 'co4-session' });
    expect(await profile('co4-user')).toMatchObject({ company_id: 'co4-acme' });
    // Its docs visit came before the link, and stays with no company: only later traffic is the company's.
    expect((await c.get('/api/companies/co4-acme')).body).toMatchObject({ user_count: 1, action_count: 0 });

    // identifySession() after identifyUser(): the session token comes on the user's items only.
    await c.post('/v1/users', { user_id: 'co5-user', anonymous_id: 'co5-anon' });
    await c.post('/v1/actions', action({ user_id: 'co5-user', session_token: 'co5-session', time: at(2) }));
    await c.post('/v1/companies', { company_id: 'co5-acme', session_token: 'co5-session' });
    expect(await profile('co5-user')).toMatchObject({ company_id: 'co5-acme' });
    // Another session's company links nobody else.
    expect(await profile('co4-user')).toMatchObject({ company_id: 'co4-acme' });
  });

  it('links a user to the company of their session whatever order the two calls arrive in (moesif-browser-js sends them at once)', async () => {
    // The companies call arrives first.
    await c.post('/v1/actions', action({ anonymous_id: 'co9-anon', time: at(1) }));
    await c.post('/v1/companies', { company_id: 'co9-acme', session_token: 'co9-session' });
    await c.post('/v1/users', { user_id: 'co9-user', session_token: 'co9-session', anonymous_id: 'co9-anon' });
    expect(await profile('co9-user')).toMatchObject({ company_id: 'co9-acme' });
    expect((await c.get('/api/companies/co9-acme')).body).toMatchObject({ user_count: 1, action_count: 0 });

    // The session token comes on the user's items only, after the companies call.
    await c.post('/v1/companies', { company_id: 'co10-acme', session_token: 'co10-session' });
    await c.post('/v1/users', { user_id: 'co10-user', anonymous_id: 'co10-anon' });
    await c.post('/v1/actions', action({ user_id: 'co10-user', session_token: 'co10-session', time: at(2) }));
    expect(await profile('co10-user')).toMatchObject({ company_id: 'co10-acme' });

    // Still an anonymous visitor: the anonymous profile joins, and the user it merges into after.
    await c.post('/v1/companies', { company_id: 'co11-acme', session_token: 'co11-session' });
    await c.post('/v1/actions', action({ anonymous_id: 'co11-anon', session_token: 'co11-session', time: at(3) }));
    expect(await profile('co11-anon')).toMatchObject({ company_id: 'co11-acme' });
    await c.post('/v1/users', { user_id: 'co11-user', anonymous_id: 'co11-anon' });
    expect(await profile('co11-user')).toMatchObject({ company_id: 'co11-acme' });

    // A later move to another company stands: more traffic in the old session does not pull the user back.
    await c.post('/v1/users', { user_id: 'co10-user', company_id: 'co10-globex' });
    await c.post('/v1/actions', action({ user_id: 'co10-user', session_token: 'co10-session', time: new Date(Date.now() + 60_000).toISOString() }));
    expect(await profile('co10-user')).toMatchObject({ company_id: 'co10-globex' });
  });

  it('links a user to the company of any session they had, not only their latest, whatever order the calls arrive in', async () => {
    // Monday's session: identifyUser() then identifyCompany(), whose companies call sits in an outbox
    // (or is retried) and arrives after Tuesday's log-in with a new session token.
    const run = async (tag: string, order: 'late' | 'in-order') => {
      const monday = { company_id: `${tag}-acme`, session_token: `${tag}-monday`, modified_time: at(2) };
      await c.post('/v1/users', { user_id: `${tag}-user`, anonymous_id: `${tag}-anon`, session_token: `${tag}-monday`, modified_time: at(1) });
      if (order === 'in-order') await c.post('/v1/companies', monday);
      await c.post('/v1/actions', action({ user_id: `${tag}-user`, session_token: `${tag}-tuesday`, time: at(30) }));
      if (order === 'late') await c.post('/v1/companies', monday);
      return (await profile(`${tag}-user`)).company_id;
    };
    expect(await run('ses1', 'in-order')).toBe('ses1-acme');
    expect(await run('ses2', 'late')).toBe('ses2-acme');

    // A session token links profiles to companies, never an item to a user: an API call that carries
    // only the token stays anonymous ("If an ID is not attached to an event, the userID field in
    // Moesif will simply just be undefined").
    await c.post('/v1/events', { ...apiCall({ time: at(31) }), session_token: 'ses1-tuesday', transaction_id: 'ses-token-only' });
    const call = (await c.get('/api/events?kind=event&limit=500')).body.events.find((e: any) => e.transaction_id === 'ses-token-only');
    expect(call).toMatchObject({ user_id: null, company_id: null });
  });

  it('keeps traffic with the company the user belonged to when it happened: a move to another company takes only later traffic, whatever order the calls arrive in', async () => {
    // "Moesif will associate any future web or API traffic from a user to that company." The API
    // calls name no company (a server integration without identifyCompany); the user moves from
    // co6-old to co6-new at at(10). The second run gets the two users calls in the other order.
    const run = async (tag: string, order: 'in-order' | 'reversed') => {
      const joinOld = { user_id: `${tag}-user`, company_id: `${tag}-old`, modified_time: at(0) };
      const joinNew = { user_id: `${tag}-user`, company_id: `${tag}-new`, modified_time: at(10) };
      await c.post('/v1/events/batch', [apiCall({ user_id: `${tag}-user`, time: at(2) }), apiCall({ user_id: `${tag}-user`, time: at(3) })]);
      for (const call of order === 'in-order' ? [joinOld, joinNew] : [joinNew, joinOld]) await c.post('/v1/users', call);
      await c.post('/v1/events', apiCall({ user_id: `${tag}-user`, time: at(11) }));
      const company = async (id: string) => (await c.get(`/api/companies/${id}`)).body;
      const [before, after] = [await company(`${tag}-old`), await company(`${tag}-new`)];
      return {
        profile: (await profile(`${tag}-user`)).company_id,
        old: [before.user_count, before.event_count],
        new: [after.user_count, after.event_count],
      };
    };
    expect(await run('co6', 'in-order')).toEqual({ profile: 'co6-new', old: [0, 2], new: [1, 1] });
    expect(await run('co7', 'reversed')).toEqual({ profile: 'co7-new', old: [0, 2], new: [1, 1] });
  });

  it('keeps the company a user moved back to, whatever order the calls arrive in', async () => {
    // In time: the user's calls name co12-old, a users call moves them to co12-new at at(20), then
    // their calls name co12-old again, and a last call names none. The move arrives last.
    await c.post('/v1/events/batch', [
      apiCall({ user_id: 'co12-user', company_id: 'co12-old', time: at(10) }),
      apiCall({ user_id: 'co12-user', company_id: 'co12-old', time: at(30) }),
      apiCall({ user_id: 'co12-user', time: at(40) }),
    ]);
    await c.post('/v1/users', { user_id: 'co12-user', company_id: 'co12-new', modified_time: at(20) });
    const calls = (await eventsOf('co12-user')).events.map((e: any) => [e.time, e.company_id]);
    expect(calls).toEqual([[at(40), 'co12-old'], [at(30), 'co12-old'], [at(10), 'co12-old']]);
    expect(await profile('co12-user')).toMatchObject({ company_id: 'co12-old' });

    // The same with users calls only: naming the company again at at(30) is kept, though the user was in it then.
    await c.post('/v1/users', { user_id: 'co13-user', company_id: 'co13-old', modified_time: at(10) });
    await c.post('/v1/users', { user_id: 'co13-user', company_id: 'co13-old', modified_time: at(30) });
    await c.post('/v1/events', apiCall({ user_id: 'co13-user', time: at(40) }));
    await c.post('/v1/users', { user_id: 'co13-user', company_id: 'co13-new', modified_time: at(20) });
    expect((await eventsOf('co13-user')).events[0]).toMatchObject({ time: at(40), company_id: 'co13-old' });
    expect(await profile('co13-user')).toMatchObject({ company_id: 'co13-old' });
  });

  it('takes an anonymous id\'s company back from the user who claimed it, when the user seen with it first arrives late', async () => {
    // The visitor's anonymous action names co14-acme; Bob's users call (later in time) arrives first.
    await c.post('/v1/actions', action({ anonymous_id: 'co14-device', company_id: 'co14-acme', time: at(1) }));
    await c.post('/v1/users', { user_id: 'co14-bob', anonymous_id: 'co14-device', modified_time: at(20) });
    expect(await profile('co14-bob')).toMatchObject({ company_id: 'co14-acme' });
    // Alice used the id first: it is hers, and so is the company it came with.
    await c.post('/v1/actions', action({ user_id: 'co14-alice', anonymous_id: 'co14-device', time: at(10) }));
    expect(await profile('co14-alice')).toMatchObject({ anonymous_ids: ['co14-device'], company_id: 'co14-acme' });
    expect(await profile('co14-bob')).toMatchObject({ anonymous_ids: [], company_id: null });
    expect((await c.get('/api/companies/co14-acme')).body.users.map((u: any) => u.user_id)).toEqual(['co14-alice']);
  });

  it('links the user to a company named by an anonymous-only item after the merge, without moving when the user was identified', async () => {
    // identifyCompany() before identifyUser(): moesif-browser-js tags the visitor's actions with the
    // company and the anonymous id only. This one arrives after the users call that merged the id.
    await c.post('/v1/users', { user_id: 'co8-user', anonymous_id: 'co8-anon', modified_time: at(5) });
    await c.post('/v1/actions', action({ anonymous_id: 'co8-anon', company_id: 'co8-acme', time: at(1) }));
    expect(await profile('co8-user')).toMatchObject({ company_id: 'co8-acme', identified_at: at(5), first_seen: at(1) });
  });

  it('carries an anonymous profile\'s company over to the user it merges into', async () => {
    await c.post('/v1/users', { anonymous_id: 'co3-anon', company_id: 'co3-initech' });
    await c.post('/v1/users', { user_id: 'co3-user', anonymous_id: 'co3-anon' });
    expect(await profile('co3-user')).toMatchObject({ company_id: 'co3-initech' });
  });
});
