import { expect, test, type Browser } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { startRecorder } from './support/recorder';

/**
 * Every browser example of the docs a user copies code from, run as written in Debian's Chromium:
 * the product docs (../shared/seeds), moesif-browser-js's README (1.8.13, and what 1.10.2's adds:
 * cross-domain tracking and consent) and our own README. The only edits: the package's script, and
 * `host` pointing the SDK at a recording collector on 127.0.0.1 (marked HOST below). Where
 * moesif-browser-js runs here (1.8.13), the same page runs with it too, and what reaches the wire, what
 * the page's code gets back and what the console says must be the same; each row also states what
 * its doc promises. Examples already run elsewhere are named at the end of this file.
 */

type Sdk = 'moesif' | 'usertrail';
// any: the collector's items are JSON as each SDK sent it; the rows read whatever fields their doc names.
type Item = Record<string, any>;

const SOURCE: Record<Sdk, string> = {
  moesif: '/node_modules/moesif-browser-js/moesif.min.js',
  usertrail: '/dist/moesif.min.js',
};

/** The package's entries as an app's bundler resolves them (the ESM build leaves uuid and js-cookie to it). */
const PACKAGE_IMPORTS = {
  usertrail: '/dist/usertrail.mjs',
  'usertrail/capture': '/dist/capture.mjs',
  uuid: '/node_modules/uuid/dist/index.js',
  'js-cookie': '/node_modules/js-cookie/dist/js.cookie.mjs',
};

/** The one edit to the examples: the collector, in moesif's `host` form (`host:port`, following the page's scheme). */
const HOST = "host: '127.0.0.1:' + location.port,";

type Kind = 'users' | 'companies' | 'actions' | 'events';

interface Row {
  doc: string;
  section: string;
  /** The SDKs that run it: both where moesif-browser-js 1.8.13 has the feature. */
  sdks: Sdk[];
  /** Page markup before the script (links, forms). */
  body?: string;
  /** An ES module, whose imports of the package resolve as an app's bundler resolves them (an import map here). */
  module?: boolean;
  /** The example, as written but for HOST; `window.result` is what the test reads of what the page's code got back. */
  script: string;
  /** Later steps, each run in the page once the items before it arrived (a click, a log-out). */
  steps?: Array<{ wait: Partial<Record<Kind, number>>; run: string }>;
  /** How many items of each kind the whole example sends. */
  wait: Partial<Record<Kind, number>>;
  /** What the doc promises, as the normalized outcome shows it (both SDKs must match it). */
  expected: Partial<Outcome>;
}

interface Outcome {
  users: Item[];
  companies: Item[];
  actions: Item[];
  events: Item[];
  result: unknown;
  /** Uncaught errors and console errors and warnings, in order. */
  console: string[];
  /** What the page logged with console.log (examples that print). */
  logs: string[];
}

/**
 * Items in a form both SDKs can be compared in: the anonymous id as `anonymous #n` (the n-th distinct
 * one of the example), no random transaction id, an action's address as its path, its time left
 * out (moesif sends none); a captured call as its method, path, status, metadata and who made it.
 */
function normalize(items: Record<Kind, Item[]>): Omit<Outcome, 'result' | 'console' | 'logs'> {
  const anonymous = new Map<string, string>();
  const label = (id: unknown) => {
    if (typeof id !== 'string') return id;
    if (!anonymous.has(id)) anonymous.set(id, `anonymous #${anonymous.size + 1}`);
    return anonymous.get(id);
  };
  const common = ({ anonymous_id, transaction_id, campaign, ...rest }: Item) => ({
    ...rest,
    ...(anonymous_id ? { anonymous_id: label(anonymous_id) } : {}),
    // moesif-browser-js sends `campaign: {}` where it has none; usertrail leaves it out.
    ...(campaign && Object.keys(campaign).length > 0 ? { campaign } : {}),
  });
  /** When a call was sent, then when it was answered: ISO times, which sort as text. */
  const byCallTime = (a: Item, b: Item): number => {
    const [x, y] = [a, b].map((event) => `${event.request.time} ${event.response?.time}`);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  // Documented differences (README, Migrating): moesif-browser-js sends the anonymous visitor on page
  // loads, and usertrail's identifyCompany() sends a users call linking the visitor to the company.
  const linkOnly = (user: Item) => !user.metadata && !user.campaign && user.company_id;
  return {
    users: items.users.filter((user) => user.user_id && !linkOnly(user)).map(common),
    companies: items.companies.map(common),
    actions: items.actions.map((action) => {
      const { time, uri, ...request } = action.request;
      const url = new URL(uri);
      return { ...common(action), request: { ...request, uri: url.pathname + url.search } };
    }),
    // In the order the page made the calls: each SDK may deliver them in another (moesif-browser-js 1.8.13
    // sends each call's event on its own, and a later one arrived first now and then).
    events: [...items.events].sort(byCallTime).map((event) => {
      const url = new URL(event.request.uri);
      return {
        call: `${event.request.verb} ${url.pathname}${url.search}`,
        status: event.response?.status,
        metadata: event.metadata,
        user_id: event.user_id,
        session_token: event.session_token,
        secret: event.request.headers?.secret,
      };
    }),
  };
}

async function runRow(browser: Browser, sdk: Sdk, row: Row): Promise<Outcome> {
  const collector = await startRecorder();
  const context = await browser.newContext();
  const page = await context.newPage();
  const console: string[] = [];
  const logs: string[] = [];
  page.on('pageerror', (error) => console.push(`uncaught ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') console.push(`${message.type()} ${message.text()}`);
    if (message.type() === 'log') logs.push(message.text());
  });
  const identified = (kind: Kind): Item[] => (kind === 'users' ? collector.items('users').filter((user) => user.user_id) : collector.items(kind));
  const counts = (wait: Partial<Record<Kind, number>>) => () => Object.entries(wait).every(([kind, count]) => identified(kind as Kind).length >= count);
  try {
    const script = row.script.replaceAll('/*HOST*/', HOST);
    const sdkScript = row.module ? `<script type="importmap">${JSON.stringify({ imports: PACKAGE_IMPORTS })}</script>` : `<script src="${SOURCE[sdk]}"></script>`;
    const pageScript = row.module ? `<script type="module">${script}</script>` : `<script>${script}</script>`;
    collector.page('/docs', `<!doctype html><html><head><title>docs</title><link rel="icon" href="data:,">${sdkScript}</head><body>${row.body ?? ''}${pageScript}</body></html>`);
    await page.goto(collector.at('app.example.test') + '/docs');
    for (const step of row.steps ?? []) {
      await expect.poll(counts(step.wait), { message: `${sdk}: ${JSON.stringify(step.wait)} before the next step` }).toBe(true);
      if (sdk === 'usertrail') {
        // Every request made so far has arrived (items held for consent stay in the outbox, unsent).
        const requestsMade = () => page.evaluate(() => window.moesif.getStats()?.requests ?? 0);
        await expect.poll(async () => (await requestsMade()) <= collector.received.length).toBe(true);
        for (const [kind, count] of Object.entries(step.wait)) expect(identified(kind as Kind), `${kind} before the step`).toHaveLength(count);
      }
      await page.evaluate(step.run);
    }
    await expect.poll(counts(row.wait), { message: `${sdk}: ${JSON.stringify(row.wait)}`, timeout: 10_000 }).toBe(true);
    if (sdk === 'usertrail') await collector.settled(page);
    const items = { users: collector.items('users'), companies: collector.items('companies'), actions: collector.items('actions'), events: collector.items('events') };
    return { ...normalize(items), result: await page.evaluate(() => window.result), console, logs };
  } finally {
    await context.close();
    await collector.close();
  }
}

const ROWS: Row[] = [
  {
    doc: 'seeds/identifying-customers.txt; moesif-browser-js README (identifyUser); README.md (ours), Quick start, Script tag',
    section: 'Client integration, Identifying users',
    sdks: ['moesif', 'usertrail'],
    script: `
  moesif.init({
    applicationId: "Your Moesif Application Id",/*HOST*/
  });

  // Identify the user with Moesif such as when user logs in
  moesif.identifyUser("12345");`,
    wait: { users: 1 },
    expected: { users: [expect.objectContaining({ user_id: '12345' })], console: [] },
  },
  {
    doc: 'seeds/identifying-customers.txt',
    section: 'Logging out (moesif.reset() in the app\'s log-out routine)',
    sdks: ['moesif', 'usertrail'],
    script: `
  moesif.init({ applicationId: "Your Moesif Application Id",/*HOST*/ });
  function logoutUserFromApp() {}
  function clearSession() {}
  moesif.identifyUser("12345");
  moesif.track("Before log-out");

function logoutUser() {
  // example routine for logging out users from app
  logoutUserFromApp();
  clearSession();

  // Reset browser session for Moesif
  moesif.reset();
}`,
    steps: [{ wait: { users: 1, actions: 1 }, run: 'logoutUser(); moesif.track("After log-out");' }],
    wait: { users: 1, actions: 2 },
    expected: {
      actions: [
        expect.objectContaining({ action_name: 'Before log-out', user_id: '12345' }),
        // A new visitor: no user, an anonymous id (the one before the log-out went with the user).
        { action_name: 'After log-out', anonymous_id: 'anonymous #2', request: expect.anything() },
      ],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js README',
    section: 'Installation via script tag (init, identifyUser, track with metadata)',
    sdks: ['moesif', 'usertrail'],
    script: `
  // Initialize the SDK. Must be called before any other methods
  moesif.init({
    applicationId: "Your Moesif Application Id",/*HOST*/
    // add other option here
  });

  // Identify the user with Moesif such as when user logs in
  moesif.identifyUser("12345");

  // Log user actions like clicked sign up. You can also pass in custom metadata.
  moesif.track("clicked_sign_up", {
    button_label: "Get Started",
  });`,
    wait: { users: 1, actions: 1 },
    expected: {
      actions: [expect.objectContaining({ action_name: 'clicked_sign_up', user_id: '12345', metadata: { button_label: 'Get Started' } })],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js README',
    section: 'Track user actions; init(options) with a var options',
    sdks: ['moesif', 'usertrail'],
    script: `
var options = {
  applicationId: 'Your Moesif Application Id',/*HOST*/
};

moesif.init(options);
// The first argument is required and contains the action name as a string.
// The second argument is optional and contains custom event metadata such as button label.
moesif.track('Clicked Sign Up', {
  button_label: 'Get Started',
  sign_up_method: 'Google SSO'
});`,
    wait: { actions: 1 },
    expected: {
      actions: [expect.objectContaining({ action_name: 'Clicked Sign Up', metadata: { button_label: 'Get Started', sign_up_method: 'Google SSO' }, anonymous_id: 'anonymous #1' })],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js README',
    section: 'Identifying users (metadata) and Identifying companies (metadata, domain; a user and a company in one session)',
    sdks: ['moesif', 'usertrail'],
    script: `
moesif.init({ applicationId: "Your Moesif Application Id",/*HOST*/ });
moesif.identifyUser("12345", {
  email: "john@acmeinc.com",
  firstName: "John",
  lastName: "Doe",
  title: "Software Engineer",
  salesInfo: {
    stage: "Customer",
    lifetimeValue: 24000,
    accountOwner: "mary@contoso.com",
  },
});
// Only the first argument is a string containing the company id. This is the only required field.
// The second argument is a object used to store a company info like plan, MRR, and company demographics.
// The third argument is a string containing company website or email domain. If set, Moesif will enrich your profiles with publicly available info.
metadata = {
  orgName: "Acme, Inc",
  planName: "Free Plan",
  dealStage: "Lead",
  mrr: 24000,
  demographics: {
    alexaRanking: 500000,
    employeeCount: 47,
  },
};

moesif.identifyCompany("67890", metadata, "acmeinc.com");
moesif.track("Viewed Docs");`,
    wait: { users: 1, companies: 1, actions: 1 },
    expected: {
      users: [
        expect.objectContaining({
          user_id: '12345',
          metadata: { email: 'john@acmeinc.com', firstName: 'John', lastName: 'Doe', title: 'Software Engineer', salesInfo: { stage: 'Customer', lifetimeValue: 24000, accountOwner: 'mary@contoso.com' } },
        }),
      ],
      companies: [
        expect.objectContaining({
          company_id: '67890',
          company_domain: 'acmeinc.com',
          metadata: { orgName: 'Acme, Inc', planName: 'Free Plan', dealStage: 'Lead', mrr: 24000, demographics: { alexaRanking: 500000, employeeCount: 47 } },
        }),
      ],
      // "If you call both identifyUser() and identifyCompany() in the same session, then Moesif will automatically associate the user with the company."
      actions: [expect.objectContaining({ action_name: 'Viewed Docs', user_id: '12345', company_id: '67890' })],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js README',
    section: 'Identifying companies, then users (the company known before the user signs in)',
    sdks: ['moesif', 'usertrail'],
    script: `
moesif.init({ applicationId: "Your Moesif Application Id",/*HOST*/ });
moesif.identifyCompany("67890", { orgName: "Acme, Inc" }, "acmeinc.com");
moesif.identifyUser("12345", { email: "john@acmeinc.com" });`,
    wait: { users: 1, companies: 1 },
    expected: {
      users: [expect.objectContaining({ user_id: '12345', company_id: '67890', metadata: { email: 'john@acmeinc.com' } })],
      companies: [expect.objectContaining({ company_id: '67890', company_domain: 'acmeinc.com' })],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js README',
    section: 'identifySession (the token goes with what follows)',
    sdks: ['moesif', 'usertrail'],
    script: `
moesif.init({ applicationId: 'Your Moesif Application Id',/*HOST*/ });
moesif.identifySession("d23xdefc3ijhcv93hf4h38f90h43f");
moesif.track('clicked_sign_up', {
  button_label: 'Get Started'
});`,
    wait: { actions: 1 },
    expected: {
      actions: [expect.objectContaining({ action_name: 'clicked_sign_up', session_token: 'd23xdefc3ijhcv93hf4h38f90h43f', metadata: { button_label: 'Get Started' } })],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js README',
    section: 'Track AJAX calls: start(), then stop() ("Call start again to restart API logging")',
    sdks: ['moesif', 'usertrail'],
    script: `
moesif.init({ applicationId: 'Your Moesif Application Id',/*HOST*/ });
// Start capturing AJAX API Calls.
moesif.start();
window.result = [];
fetch('/api/echo?n=1').then(function (res) {
  window.result.push(res.status);
  moesif.stop();
  return fetch('/api/echo?n=2');
}).then(function (res) {
  window.result.push(res.status);
  moesif.start();
  return fetch('/api/echo?n=3');
}).then(function (res) {
  window.result.push(res.status);
});`,
    wait: { events: 2 },
    expected: {
      events: [expect.objectContaining({ call: 'GET /api/echo?n=1', status: 200 }), expect.objectContaining({ call: 'GET /api/echo?n=3', status: 200 })],
      result: [200, 200, 200],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js README',
    section: 'Configuration options, full options example (skip, maskContent, getMetadata, host)',
    sdks: ['moesif', 'usertrail'],
    script: `
var options = {
  applicationId: "Your Moesif Application Id",
  skip: function (event) {
    if (event.request.uri.includes("google")) {
      return true;
    }
    return false;
  },
  maskContent: function (event) {
    if (event.request.headers["secret"]) {
      event.request.headers["secret"] = "";
    }
    return event;
  },
  getMetadata: function (event) {
    if (event.request.uri.includes("stripe")) {
      return {
        type: "payment",
      };
    }
  },
  /*HOST*/
};

moesif.init(options);
moesif.start();
fetch('/api/echo?q=google')
  .then(function () { return fetch('/api/echo?via=stripe'); })
  .then(function () { return fetch('/api/echo?plain', { headers: { secret: 's3cr3t' } }); });`,
    wait: { events: 2 },
    expected: {
      events: [
        expect.objectContaining({ call: 'GET /api/echo?via=stripe', status: 200, metadata: { type: 'payment' } }),
        expect.objectContaining({ call: 'GET /api/echo?plain', status: 200, metadata: undefined, secret: '' }),
      ],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js README',
    section: 'List of Methods: what each call gives back to the page (init, identifyUser, identifyCompany, track, identifySession, start, stop, reset)',
    sdks: ['moesif', 'usertrail'],
    script: `
var calls = [
  function () { return moesif.init({ applicationId: 'Your Moesif Application Id',/*HOST*/ }) === moesif ? 'the instance' : 'other'; },
  function () { return moesif.identifyUser("12345", { email: "john@acmeinc.com" }); },
  function () { return moesif.identifyCompany("67890", { orgName: "Acme, Inc" }, "acmeinc.com"); },
  function () { return moesif.track('clicked_sign_up', { button_label: 'Get Started' }); },
  function () { return moesif.identifySession("d23xdefc3ijhcv93hf4h38f90h43f"); },
  function () { return moesif.start(); },
  function () { return moesif.stop(); },
  function () { return moesif.reset(); },
];
window.result = calls.map(function (call) {
  try { var value = call(); return value === undefined ? 'undefined' : value; } catch (e) { return 'threw ' + e.name; }
});`,
    wait: { users: 1, companies: 1, actions: 1 },
    expected: { result: ['the instance', 'undefined', 'undefined', 'undefined', 'undefined', true, 'undefined', 'undefined'], console: [] },
  },
  {
    doc: 'moesif-browser-js README',
    section: 'batchEnabled (batching of actions and API events)',
    sdks: ['moesif', 'usertrail'],
    script: `
moesif.init({ applicationId: 'Your Moesif Application Id',/*HOST*/ batchEnabled: true, batchSize: 25, batchMaxTime: 2500 });
moesif.track('First');
moesif.track('Second');`,
    wait: { actions: 2 },
    expected: { actions: [expect.objectContaining({ action_name: 'First' }), expect.objectContaining({ action_name: 'Second' })], console: [] },
  },
];

/** A code block of our README, found by its first line, so that the test runs what the README shows. */
function readmeBlock(firstLine: string): string {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = readme.split('```').find((part) => part.includes(firstLine));
  if (!block) throw new Error(`README has no block with ${firstLine}`);
  return block.replace(/^\w*\n/, '');
}

/** moesif-browser-js 1.10.2's README (cross-domain tracking and consent): 1.10 is not on npm, so usertrail alone runs them. */
ROWS.push(
  {
    doc: 'moesif-browser-js 1.10.2 README',
    section: 'Consent Management, Example: Complete Consent Flow; isPublishingConsentGranted',
    sdks: ['usertrail'],
    script: `
// 1. Initialize with consent required
moesif.init({
  applicationId: 'Your Publishable Moesif Application Id',/*HOST*/
  requirePublishingConsent: true,
  maxQueueSize: 1000
});

// 2. Start recording (events will be queued, not sent)
moesif.start();

// 3. Track events (queued locally)
moesif.track('viewed_homepage');
moesif.identifyUser('user_123');
window.result = { beforeGrant: moesif.isPublishingConsentGranted() };
if (moesif.isPublishingConsentGranted()) {
  console.log('User has granted consent to publish data');
} else {
  console.log('User has not granted consent yet');
}`,
    steps: [
      {
        wait: { actions: 0, users: 0 },
        run: `
// 4. When user grants consent
moesif.grantPublishingConsent();
// Now all queued events are sent to Moesif
window.result.afterGrant = moesif.isPublishingConsentGranted();

// 5. Continue tracking (sent immediately)
moesif.track('clicked_cta');`,
      },
      {
        wait: { actions: 2, users: 1 },
        run: `
// 6. If user later revokes consent
moesif.revokePublishingConsent();
// Future events will be queued again (not sent)
window.result.afterRevoke = moesif.isPublishingConsentGranted();
moesif.track('after_revoke');`,
      },
    ],
    wait: { actions: 2, users: 1 },
    expected: {
      actions: [expect.objectContaining({ action_name: 'viewed_homepage' }), expect.objectContaining({ action_name: 'clicked_cta', user_id: 'user_123' })],
      users: [expect.objectContaining({ user_id: 'user_123' })],
      result: { beforeGrant: false, afterGrant: true, afterRevoke: false },
      logs: ['User has not granted consent yet'],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js 1.10.2 README',
    section: 'Consent Management, Example: State Management Implementation (the app keeps its own decision)',
    sdks: ['usertrail'],
    script: `
// On page load
document.addEventListener('DOMContentLoaded', function() {
  // Initialize SDK (this creates cookies/localStorage)
  moesif.init({
    applicationId: 'Your Publishable Moesif Application Id',/*HOST*/
    requirePublishingConsent: true
  });

  // Check your stored consent state (example using localStorage)
  const hasConsented = localStorage.getItem('user_tracking_consent') === 'granted';

  if (hasConsented) {
    // User previously granted consent, restore it
    moesif.grantPublishingConsent();
  }

  // Start tracking API calls and user actions
  moesif.start();
});

// When user grants consent
function handleConsentAccepted() {
  // Store consent decision in YOUR storage
  localStorage.setItem('user_tracking_consent', 'granted');

  // Grant consent in Moesif SDK
  moesif.grantPublishingConsent();
}

// When user revokes consent
function handleConsentRevoked() {
  // Update consent decision in YOUR storage
  localStorage.setItem('user_tracking_consent', 'revoked');

  // Revoke consent in Moesif SDK
  moesif.revokePublishingConsent();
}`,
    steps: [
      { wait: { events: 0 }, run: `fetch('/api/echo?before-consent').then(function () { handleConsentAccepted(); });` },
      {
        wait: { events: 1 },
        run: `handleConsentRevoked(); window.result = { app: localStorage.getItem('user_tracking_consent'), granted: moesif.isPublishingConsentGranted() };`,
      },
    ],
    wait: { events: 1 },
    expected: {
      events: [expect.objectContaining({ call: 'GET /api/echo?before-consent', status: 200 })],
      // The revoke removes the SDK's keys, not the app's own.
      result: { app: 'revoked', granted: false },
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js 1.10.2 README',
    section: 'Consent Management, How It Works 4 (start() and stop() work the same way): consent revoked, then granted again',
    sdks: ['usertrail'],
    script: `
moesif.init({ applicationId: 'Your Publishable Moesif Application Id',/*HOST*/ requirePublishingConsent: true });
moesif.grantPublishingConsent();
moesif.start();
fetch('/api/echo?first-grant');`,
    steps: [
      { wait: { events: 1 }, run: `moesif.revokePublishingConsent(); moesif.grantPublishingConsent(); fetch('/api/echo?second-grant');` },
      // start() while consent is revoked (a page whose visitor refused earlier) counts once it is granted.
      { wait: { events: 2 }, run: `moesif.stop(); moesif.revokePublishingConsent(); moesif.start(); moesif.grantPublishingConsent(); fetch('/api/echo?started-while-revoked');` },
      // And stop() does: no capture after the grant until the next start().
      {
        wait: { events: 3 },
        run: `moesif.revokePublishingConsent(); moesif.stop(); moesif.grantPublishingConsent();
          fetch('/api/echo?stopped').then(function () { moesif.start(); return fetch('/api/echo?started-again'); });`,
      },
    ],
    wait: { events: 4 },
    expected: {
      events: [
        expect.objectContaining({ call: 'GET /api/echo?first-grant' }),
        expect.objectContaining({ call: 'GET /api/echo?second-grant' }),
        expect.objectContaining({ call: 'GET /api/echo?started-while-revoked' }),
        expect.objectContaining({ call: 'GET /api/echo?started-again' }),
      ],
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js 1.10.2 README',
    section: 'Consent Management, Strict Compliance Mode: Defer Init Until Consent',
    sdks: ['usertrail'],
    script: `
function showConsentBanner() { window.result = { banner: 'shown' }; }
function hideConsentBanner() { window.result.banner = 'hidden'; }
// Wait for user consent before initializing
document.addEventListener('DOMContentLoaded', function() {
  // Check if user has already granted consent
  const hasConsented = localStorage.getItem('user_tracking_consent') === 'granted';

  if (hasConsented) {
    // User previously consented, safe to initialize
    initializeMoesif();
  } else {
    // Show consent banner
    showConsentBanner();
  }
});

function initializeMoesif() {
  moesif.init({
    applicationId: 'Your Publishable Moesif Application Id',/*HOST*/
  });
  moesif.start();

  // Track events immediately (they go to Moesif right away)
  moesif.track('session_started');
}

function handleConsentAccepted() {
  localStorage.setItem('user_tracking_consent', 'granted');
  initializeMoesif(); // Initialize only after consent
  hideConsentBanner();
}`,
    steps: [
      {
        wait: { actions: 0 },
        run: `window.result.before = { cookies: document.cookie, storage: Object.keys(localStorage) }; handleConsentAccepted();`,
      },
    ],
    wait: { actions: 1 },
    expected: {
      actions: [expect.objectContaining({ action_name: 'session_started', anonymous_id: 'anonymous #1' })],
      result: { banner: 'hidden', before: { cookies: '', storage: [] } },
      console: [],
    },
  },
  {
    doc: 'moesif-browser-js 1.10.2 README',
    section: 'Cross-Domain Tracking, Basic setup and Manual URL decoration (cdtUrlDecorator, overrideCDTTargets, the wrapper)',
    sdks: ['usertrail'],
    script: `
moesif.init({
  applicationId: "Your Publishable Moesif Application Id",/*HOST*/
  enableCrossDomainTracking: true,
  crossDomainTargets: null,             // null = decorate all cross-domain links
  // crossDomainTargets: ["site1.com", "site2.com"],  // or restrict to specific domains
  // crossDomainTrackingParameterName: '__mt',        // optional: customise the query param name (default: __mt)
});
function decorateMoesifCdtUrl(url) {
  if (moesif) {
    return moesif.cdtUrlDecorator(url);
  }
  return url;
}
var withId = function (url) { return url + '?__mt=' + moesif.getAnonymousId(); };
const url = moesif.cdtUrlDecorator('https://other-domain.com/page', true);
window.result = {
  decorated: moesif.cdtUrlDecorator('https://console.bijira.dev/signup') === withId('https://console.bijira.dev/signup'),
  forced: url === withId('https://other-domain.com/page'),
  wrapper: decorateMoesifCdtUrl('https://console.bijira.dev/signup') === withId('https://console.bijira.dev/signup'),
  sameSite: moesif.cdtUrlDecorator(location.origin + '/next') === location.origin + '/next',
};`,
    wait: {},
    expected: { result: { decorated: true, forced: true, wrapper: true, sameSite: true }, console: [] },
  },
  {
    doc: 'README.md (ours)',
    section: 'Quick start, npm (import moesif from the package; the named exports)',
    sdks: ['usertrail'],
    module: true,
    script: `
${readmeBlock("import moesif from 'usertrail';").replace("applicationId: 'YOUR_APPLICATION_ID'", "applicationId: 'YOUR_APPLICATION_ID',/*HOST*/")}
import { track, identifyUser } from 'usertrail';
identifyUser('12345');
track('Named export');
window.moesif = moesif;`,
    wait: { users: 1, actions: 2 },
    expected: {
      actions: [expect.objectContaining({ action_name: 'Clicked Sign Up', metadata: { button: 'hero' } }), expect.objectContaining({ action_name: 'Named export', user_id: '12345' })],
      console: [],
    },
  },
  {
    doc: 'README.md (ours)',
    section: 'Quick start, npm: an instance of its own with capture (createMoesif, createCapture)',
    sdks: ['usertrail'],
    module: true,
    script: `
${readmeBlock("import { createMoesif } from 'usertrail';").replace('export const moesif', 'const moesif')}
moesif.init({ applicationId: 'YOUR_APPLICATION_ID',/*HOST*/ });
window.moesif = moesif;
window.result = moesif.start();
fetch('/api/echo?own-instance');`,
    wait: { events: 1 },
    expected: { events: [expect.objectContaining({ call: 'GET /api/echo?own-instance', status: 200 })], result: true, console: [] },
  },
  {
    doc: 'README.md (ours)',
    section: 'Recommended set-up, Browser (log-in, log-out, page views, capture)',
    sdks: ['usertrail'],
    script: `
var api = { logIn: function (email) { return Promise.resolve({ userId: 'db-42', companyId: 'acme', token: 'token-for-' + email }); } };
function clearSession() {}
${readmeBlock("moesif.init({ applicationId: 'YOUR_APPLICATION_ID', trackPageViews: true });").replace("applicationId: 'YOUR_APPLICATION_ID',", "applicationId: 'YOUR_APPLICATION_ID',/*HOST*/")}`,
    steps: [
      {
        wait: { actions: 1 },
        run: `logIn('ann@acme.com', 'pw').then(function (token) {
          window.result = token;
          return fetch('/api/echo?signed-in');
        }).then(function () {
          logOut();
          moesif.track('After log-out');
        });`,
      },
    ],
    wait: { users: 1, companies: 1, actions: 3, events: 1 },
    expected: {
      users: [expect.objectContaining({ user_id: 'db-42', metadata: { email: 'ann@acme.com' }, anonymous_id: 'anonymous #1' })],
      companies: [expect.objectContaining({ company_id: 'acme' })],
      actions: [
        expect.objectContaining({ action_name: 'Page View', anonymous_id: 'anonymous #1' }),
        expect.objectContaining({ action_name: 'Logged In', user_id: 'db-42', company_id: 'acme' }),
        { action_name: 'After log-out', anonymous_id: 'anonymous #2', request: expect.anything() },
      ],
      events: [expect.objectContaining({ call: 'GET /api/echo?signed-in', status: 200, user_id: 'db-42' })],
      result: 'token-for-ann@acme.com',
      console: [],
    },
  },
);

test.describe('examples of the docs, with moesif-browser-js 1.8.13 and usertrail', () => {
  for (const row of ROWS) {
    test(`${row.doc}: ${row.section}`, async ({ browser }) => {
      const outcomes: Partial<Record<Sdk, Outcome>> = {};
      for (const sdk of row.sdks) outcomes[sdk] = await runRow(browser, sdk, row);
      for (const sdk of row.sdks) expect(outcomes[sdk], `${sdk} does what ${row.doc} says`).toMatchObject(row.expected);
      if (outcomes.moesif) expect(outcomes.usertrail, 'usertrail does what moesif-browser-js does').toEqual(outcomes.moesif);
    });
  }
});

/*
 * Browser examples of the same docs run elsewhere, not repeated here:
 * - README.md (ours), the async loader snippet, read from the README: e2e/sdk-core.spec.ts.
 * - moesif-browser-js README, `var moesif = require("moesif-browser-js")` / `import moesif from`: test/compat-package.test.ts, test/package/published.test.ts.
 * - moesif-browser-js README, useWeb3 and the other public methods on the global: e2e/compat-moesif.spec.ts
 *   (its Web3 example needs the web3 library; useWeb3 is documented as not supported).
 * - moesif-browser-js README, persistence 'localStorage' / 'cookie' / 'none' and persistenceKeyPrefix: e2e/compat-moesif.spec.ts, e2e/sdk-core.spec.ts, e2e/compat-api.spec.ts.
 * - moesif-browser-js README, cookieDomain '*.acmeinc.com': e2e/compat-api.spec.ts; crossSiteCookie and secureCookie: e2e/cookies.spec.ts.
 * - moesif-browser-js README, disableFetch: e2e/capture.spec.ts; every option taken without an error (eagerBodyLogging...): test/compat-options.test.ts.
 * - moesif-browser-js 1.10.2 README, links and GET forms decorated (crossDomainTargets null or a list): e2e/cross-domain.spec.ts.
 * - README.md (ours), Cross-domain tracking's cdtUrlDecorator() with targets: test/cross-domain.test.ts.
 * - moesif-browser-js README (1.8.13, and 1.10.2's additions), every example type-checked against dist/types: test/compat-package.test.ts.
 * - README.md (ours), the API and Options tables against the instance and resolveOptions(), the loader's
 *   method lists, and what an instance without capture saves: test/readme-api.test.ts, test/options.test.ts, test/readme-size.test.ts.
 */
