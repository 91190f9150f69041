import { execFileSync } from 'node:child_process';

/**
 * moesif-browser-js 1.10.2's own built moesif.min.js, from its repository at that tag: 1.9 and 1.10 are
 * not on npm (its latest there is 1.8.13). Read from a git mirror of the repository
 * (MOESIF_BROWSER_JS_GIT_DIR, by default where this project's machines keep it); undefined without one,
 * and the specs that compare with it skip those tests.
 */
export const moesif1102 = ((): string | undefined => {
  const gitDir = process.env.MOESIF_BROWSER_JS_GIT_DIR ?? '/work/.mirror/Moesif+moesif-browser-js/repo';
  try {
    return execFileSync('git', ['--git-dir', gitDir, 'show', 'v1.10.2:moesif.min.js'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
})();
