import type { LaunchOptions } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../../scripts/chromium.mjs';

/** Debian's Chromium for the browser tests. */
export const chromiumLaunchOptions: LaunchOptions = {
  executablePath: chromiumPath,
  args: [
    ...chromiumArgs,
    // docs.example.test and app.example.test are two subdomains of one site, both on loopback;
    // acme.github.io stands for a site under a public suffix (github.io takes no cookie of its own).
    '--host-resolver-rules=MAP *.example.test 127.0.0.1,MAP *.github.io 127.0.0.1',
  ],
};
