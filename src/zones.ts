/**
 * Runs `work` in zone.js's root zone when the page has zone.js (Angular), so that the timers and
 * listeners it makes are not the app's: zone.js counts each one made inside an app's zone (Angular's
 * NgZone) as that app's pending work, runs change detection when it fires, and holds the app unstable
 * until it has (Angular's `isStable`, which its service worker registration, hydration and test
 * harnesses wait for). What Angular's own NgZone.runOutsideAngular() is for. Every public method runs
 * its work here (see guarded() in moesif.ts), and capture the end of each call it records.
 */
export const outsideZones = <T>(work: () => T): T => {
  const root = (globalThis as { Zone?: { root?: { run?(work: () => T): T } } }).Zone?.root;
  // Checked as a function: a page's own `Zone` global, not zone.js's, must not make the SDK throw into the app.
  return typeof root?.run == 'function' ? root.run(work) : work();
};
