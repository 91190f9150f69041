// @ts-check
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time, in ms, that the main threads of this run's Chromium renderers have used (Linux
 * /proc/<pid>/task/<pid>/schedstat, in ns): the processes under this Node process whose command
 * line says `--type=renderer` (and not a renderer of Chromium's own WebUI or of an extension). Unlike task durations, it does not grow while a thread waits for a
 * core, so it holds up on a machine shared with other work. NaN where /proc cannot tell.
 */
export function rendererMainThreadCpuMs() {
  try {
    /** @type {Map<number, number>} pid -> parent pid */
    const parents = new Map();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // The command name (in parentheses) may hold spaces: the fields after it are split.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      } catch {
        /* gone meanwhile */
      }
    }
    const ours = (/** @type {number} */ pid) => {
      for (let p = parents.get(pid); p && p > 1; p = parents.get(p)) if (p === process.pid) return true;
      return false;
    };
    let ns = 0;
    for (const pid of parents.keys()) {
      if (!ours(pid)) continue;
      try {
        // Pages' renderers only: Chromium's own WebUI (`--top-chrome-webui`) and extensions run in renderers too.
        const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (!command.includes('--type=renderer') || /--top-chrome-webui|--extension-process/.test(command)) continue;
        ns += Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* gone meanwhile */
      }
    }
    return ns / 1e6;
  } catch {
    return NaN;
  }
}
