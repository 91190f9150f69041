// @ts-check
// Debian's Chromium and the launch flags that work on these machines (see ../shared/STACK.md),
// shared by the browser tests (e2e/) and the benchmark (bench/). A test tool's own browser
// download cannot work here, so the executable is always given.
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  // Without these Chromium keeps trying to reach hosts that this network refuses.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
