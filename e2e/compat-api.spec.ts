import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { startRecorder, type Recorder } from './support/recorder';

/**
 * Adversarial audit of the public API as a drop-in for moesif-browser-js: pages written for moesif
 * (its README, the seeds' snippet) run with usertrail's dist/moesif.min.js in Debian's Chromium,
 * against a recorder on 127.0.0.1, and where moesif-browser-js 1.8.13's real moesif.min.js behaves
 * differently in a way the page relies on, the same page runs with it too.
 */

type Sdk = 'moesif' | 'usertrail';

const SOURCE: Record<Sdk, string> = {
  moesif: '/node_modules/moesif-browser-js/moesif.min.js',
  usertrail: '/dist/moesif.min.js',
};

const APP_ID = 'compat-api-app';
const init = (extra = '') => `moesif.init({ applicationId: '${APP_ID}', host: '127.0.0.1:' + location.port, batchMaxTime: 50${extra} });`;

interface Run {
  collector: Recorder;
  context: BrowserContext;
  page: Page;
  /** Console warnings and errors, and uncaught errors, of the page. */
  problems: string[];
  close(): Promise<void>;
}

/** Opens app.example.test/page with `body` (its <head> loads `sdk`), in a fresh context and against a fresh recorder. */
async function open(browser: Browser, sdk: Sdk, body: string): Promise<Run> {
  const collector = await startRecorder();
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() == 'warning' || message.type() == 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  collector.page('/favicon.ico', '');
  collector.page('/page', `<!doctype html><html><head><title>compat</title><script src="${SOURCE[sdk]}"></script></head><body>${body}</body></html>`);
  await page.goto(collector.at('app.example.test') + '/page');
  return {
    collector,
    context,
    page,
    problems,
    close: async () => {
      await context.close();
      await collector.close();
    },
  };
}

test.describe('the global', () => {
  // A site whose template has the snippet and whose tag manager adds the script again. moesif-browser-js
  // then throws "Init needs to be called" at the next identifyUser(); usertrail held every later call
  // for an init() that never came, so nothing more was sent, without a word.
  test('a page that loads the script a second time keeps its instance: later calls are sent', async ({ browser }) => {
    const r = await open(
      browser,
      'usertrail',
      `<script>${init()} window.first = moesif;</script>
       <script src="${SOURCE.usertrail}"></script>
       <script>window.result = { same: window.first === moesif }; moesif.identifyUser('user-1'); moesif.track('After Second Load');</script>`,
    );
    try {
      expect(await r.page.evaluate(() => window.result)).toEqual({ same: true });
      await expect.poll(() => r.collector.items('actions').map((action) => action.action_name)).toEqual(['After Second Load']);
      expect(r.collector.items('actions')[0]).toMatchObject({ user_id: 'user-1' });
      expect(r.problems).toEqual([]);
    } finally {
      await r.close();
    }
  });
});
