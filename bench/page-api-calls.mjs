// @ts-check
/**
 * The page's own API calls for the capture workloads (run.mjs and capture-ab.mjs), defined by the
 * page before the SDK loads, as an app's code would be: one same-origin GET of /api/ping, awaiting
 * the response and its JSON body, with fetch or with XMLHttpRequest; and a block of them with or
 * without capture.
 */
import { rendererMainThreadCpuMs } from './renderer-cpu.mjs';

export const PAGE_API_CALLS = `
window.calls = {
  fetch: async () => (await fetch('/api/ping')).json(),
  xhr: () => new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/ping');
    xhr.onload = () => resolve(JSON.parse(xhr.responseText));
    xhr.onerror = reject;
    xhr.send();
  }),
};
/** n calls in a row, captured (start() before, stop() after) or not, for capMs at most: its wall-clock time and the calls made. */
window.block = async (api, n, capture, capMs = Infinity) => {
  if (capture) moesif.start();
  const call = window.calls[api];
  const t0 = performance.now();
  let done = 0;
  while (done < n && performance.now() - t0 < capMs) {
    await call();
    done++;
  }
  const wallMs = performance.now() - t0;
  if (capture) moesif.stop();
  return { wallMs, done };
};`;

/**
 * For a page run without DevTools (see without-devtools.mjs; after PAGE_API_CALLS and the marks'
 * script, and once the SDK is initialised): a warm-up, then `pairs` pairs of blocks of `calls` calls,
 * one plain and one captured (which goes first alternates, so that a drift in load favours neither),
 * each followed by `quietMs` for what capture defers. Each block is marked `start` and
 * `end:<captured>:<wall ms>:<calls made>`. See `readCapturePairs` for Node's side.
 * @param {{ api: string, calls: number, pairs: number, quietMs: number, capMs?: number }} workload
 */
export const capturePairsScript = ({ api, calls, pairs, quietMs, capMs = Infinity }) => `(async () => {
  const api = ${JSON.stringify(api)};
  // Warm-up: the connection, the JIT of both paths, the SDK's first batch.
  await block(api, 200, true);
  await block(api, 100, false);
  for (let pair = 0; pair < ${pairs}; pair++) {
    for (const capture of pair % 2 ? [true, false] : [false, true]) {
      await mark('start');
      const { wallMs, done } = await block(api, ${calls}, capture, ${capMs});
      await new Promise((resolve) => setTimeout(resolve, ${quietMs}));
      await mark(['end', capture, wallMs, done].join(':'));
    }
  }
  await mark('done');
})();`;

/**
 * Node's side of capturePairsScript: a mark handler for `marks.run()` that reads the renderer's CPU time
 * at each mark, and the pairs read so far: per call, captured block minus plain block, in ms.
 */
export function readCapturePairs() {
  /** @type {Array<{ cpuPerCallMs: number, wallPerCallMs: number, callsCaptured: number }>} */
  const pairs = [];
  let startedAt = 0;
  /** @type {Record<string, { cpu: number, wall: number, done: number }>} the current pair's blocks, by `captured` */
  let pair = {};
  return {
    pairs,
    /** @param {string} name */
    onMark(name) {
      if (name === 'start') return void (startedAt = rendererMainThreadCpuMs());
      const [, captured, wallMs, done] = name.split(':');
      pair[captured] = { cpu: (rendererMainThreadCpuMs() - startedAt) / Number(done), wall: Number(wallMs) / Number(done), done: Number(done) };
      if (!pair.true || !pair.false) return;
      pairs.push({ cpuPerCallMs: pair.true.cpu - pair.false.cpu, wallPerCallMs: pair.true.wall - pair.false.wall, callsCaptured: pair.true.done });
      pair = {};
    },
  };
}
