import type { LaunchOptions } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';

/** Debian's Chromium for the browser tests. */
export const chromiumLaunchOptions: LaunchOptions = {
  executablePath: chromiumPath,
  args: [
    ...chromiumArgs,
    // docs.example.test and app.example.test are two subdomains of one site, both on loopback.
    '--host-resolver-rules=MAP *.example.test 127.0.0.1',
  ],
};
