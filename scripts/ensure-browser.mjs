// @ts-check
// Makes sure a Chromium exists for the browser tests before they start, and says what it does.
// Playwright's own browser download cannot work on these machines (no network but the npm registry
// and Debian's packages), so the tests drive Debian's Chromium at /usr/bin/chromium.
import { existsSync } from 'node:fs';
import { execSync } from 'node:child_process';
import { chromiumPath as chromium } from './chromium.mjs';

if (existsSync(chromium)) {
  console.log(`[usertrail] browser tests will use ${chromium}`);
} else if (process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
  console.log(`[usertrail] no Chromium at ${chromium}: installing Debian's chromium package (apt-get, about a minute)...`);
  execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium', { stdio: 'inherit' });
  console.log('[usertrail] Chromium installed.');
} else {
  console.error(`[usertrail] no Chromium at ${chromium}. Install Debian's "chromium" package, or set CHROMIUM_PATH to a Chromium binary.`);
  process.exit(1);
}
