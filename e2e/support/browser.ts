import type { LaunchOptions } from '@playwright/test';

/** Debian's Chromium, with the flags that work on these machines (see ../shared/STACK.md). */
export const chromiumLaunchOptions: LaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    // docs.example.test and app.example.test are two subdomains of one site, both on loopback.
    '--host-resolver-rules=MAP *.example.test 127.0.0.1',
  ],
};
