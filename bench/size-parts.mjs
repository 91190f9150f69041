// @ts-check
/**
 * What each part of the <script> build weighs: `dist/moesif.min.js` is rebuilt from src/ the way
 * rollup.config.mjs builds it, then again with parts swapped for stand-ins, and each part's weight is
 * the gzip -9 bytes it adds. Stand-ins: no capture factory; page views that do nothing; a delivery
 * that sends each item with one plain fetch. What is left with all three swapped is the core.
 *
 * It then prints what test/size.test.ts checks against its budgets, measured the same way from the
 * built dist/ (run `npm run build` first): the whole file with its source-map comment, and what an
 * app's bundler ships from the ESM build with and without capture.
 *
 *   node bench/size-parts.mjs          (npm run bench:size)
 */
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import config from '../rollup.config.mjs';

/** The import each part is reached by, from src/moesif.ts or src/umd.ts. */
const SOURCES = {
  capture: './capture/index.js',
  pageviews: './pageviews.js',
  delivery: './delivery/index.js',
};

const STAND_INS = {
  capture: 'export const createCapture = undefined;',
  pageviews: 'export const createPageViews = () => ({ start() {}, stop() {}, trackPageView() {}, dispose() {} });',
  delivery: `import { APPLICATION_ID_HEADER, SDK_HEADER_VALUE } from ${JSON.stringify(fileURLToPath(new URL('../src/wire.ts', import.meta.url)))};
    export const createDelivery = ({ options }) => {
      const headers = { 'Content-Type': 'application/json', [APPLICATION_ID_HEADER]: options.applicationId, 'X-Moesif-SDK': SDK_HEADER_VALUE };
      return {
        push: (kind, json) => fetch(options.baseUrl + '/v1/' + kind + '/batch', { method: 'POST', headers, body: '[' + json + ']' }).catch(() => {}),
        flush: () => Promise.resolve(),
        stats: () => ({}),
        resume() {},
        pause() {},
        dispose() {},
      };
    };`,
};

/** The <script> build's rollup options: its input, plugins and (first) output. */
const umdConfig = /** @type {import('rollup').RollupOptions & { output: import('rollup').OutputOptions[], plugins: import('rollup').Plugin[] }} */ (Array.isArray(config) ? config[0] : config);

/** gzip -9 bytes of the UMD build with the named parts swapped for their stand-ins. @param {string[]} swapped */
async function umdSize(swapped) {
  const standIn = {
    name: 'stand-ins',
    /** @param {string} source @param {string | undefined} importer */
    resolveId: (source, importer) => {
      const part = swapped.find((name) => SOURCES[/** @type {keyof typeof SOURCES} */ (name)] == source);
      return part && importer?.includes('/src/') ? `\0stand-in:${part}` : null;
    },
    /** @param {string} id */
    load: (id) => (id.startsWith('\0stand-in:') ? STAND_INS[/** @type {keyof typeof STAND_INS} */ (id.slice(10))] : null),
  };
  const bundle = await rollup({ input: umdConfig.input, plugins: [standIn, ...umdConfig.plugins], onwarn: () => {} });
  const { output } = await bundle.generate({ ...[umdConfig.output].flat()[0], sourcemap: false });
  await bundle.close();
  return gzipSync(output[0].code, { level: 9 }).length;
}

const full = await umdSize([]);
const parts = /** @type {const} */ (['capture', 'pageviews', 'delivery']);
const rows = [];
for (const part of parts) rows.push([part, full - (await umdSize([part]))]);
const withStandIns = await umdSize([...parts]);
console.log(`| Part of dist/moesif.min.js | gzip -9 bytes |\n|---|---:|`);
for (const [part, bytes] of rows) console.log(`| ${part} (above its stand-in) | ${bytes.toLocaleString('en')} |`);
console.log(`| core: everything else, with the three stand-ins | ${withStandIns.toLocaleString('en')} |`);
console.log(`| whole file (without its source-map comment) | ${full.toLocaleString('en')} |`);

/** What an app's bundler ships for `entry` (as test/size.test.ts measures it): tree-shaken, minified, gzipped. @param {string} entry */
async function bundledSize(entry) {
  const bundle = await rollup({
    input: 'entry',
    plugins: [
      { name: 'entry', resolveId: (/** @type {string} */ id) => (id === 'entry' ? id : null), load: (/** @type {string} */ id) => (id === 'entry' ? entry : null) },
      nodeResolve({ browser: true }),
    ],
    onwarn: () => {},
  });
  const { output } = await bundle.generate({ format: 'es', plugins: [terser({ ecma: 2020, module: true })] });
  await bundle.close();
  return gzipSync(output[0].code, { level: 9 }).length;
}

const core = "import { createMoesif } from './dist/usertrail.mjs'; const m = createMoesif(); m.init({ applicationId: 'x' }); m.identifyUser('u'); m.track('t'); m.reset();";
const started = (factory = '') => `import { createMoesif } from './dist/usertrail.mjs'; ${factory ? "import { createCapture } from './dist/capture.mjs'; " : ''}const m = createMoesif(${factory}); m.init({ applicationId: 'x' }); m.start();`;
console.log(`\nAs test/size.test.ts measures dist/ (gzip -9 bytes):`);
console.log(`- dist/moesif.min.js with its source-map comment: ${gzipSync(readFileSync('dist/moesif.min.js'), { level: 9 }).length.toLocaleString('en')}`);
console.log(`- ESM core (createMoesif without capture): ${(await bundledSize(core)).toLocaleString('en')}`);
console.log(`- ESM capture (usertrail/capture, above the core): ${((await bundledSize(started('createCapture'))) - (await bundledSize(started()))).toLocaleString('en')}`);
