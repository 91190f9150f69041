// @ts-check
/**
 * What each part of the <script> build weighs: `dist/moesif.min.js` is rebuilt from src/ the way
 * rollup.config.mjs builds it, then again with parts swapped for stand-ins, and each part's weight is
 * the gzip -9 bytes it adds. Stand-ins: no capture factory; page views that do nothing; a delivery
 * that sends each item with one plain fetch. What is left with all three swapped is the core.
 *
 *   node bench/size-parts.mjs          (npm run bench:size)
 */
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import config from '../rollup.config.mjs';

const STAND_INS = {
  capture: 'export const createCapture = undefined;',
  pageviews: 'export const createPageViews = () => ({ start() {}, stop() {}, trackPageView() {} });',
  delivery: `import { APPLICATION_ID_HEADER, SDK_HEADER_VALUE } from ${JSON.stringify(fileURLToPath(new URL('../src/wire.ts', import.meta.url)))};
    export const createDelivery = (options) => {
      const headers = { 'Content-Type': 'application/json', [APPLICATION_ID_HEADER]: options.applicationId, 'X-Moesif-SDK': SDK_HEADER_VALUE };
      // push, flush, stats, resume, pause
      return [
        (kind, json) => fetch(options.baseUrl + '/v1/' + kind + '/batch', { method: 'POST', headers, body: '[' + json + ']' }).catch(() => {}),
        () => Promise.resolve(), () => ({}), () => {}, () => {},
      ];
    };`,
};

const umdConfig = Array.isArray(config) ? config[0] : config;

/** gzip -9 bytes of the UMD build with the named parts swapped for their stand-ins. @param {string[]} swapped */
async function umdSize(swapped) {
  const standIn = {
    name: 'stand-ins',
    /** @param {string} source @param {string | undefined} importer */
    resolveId: (source, importer) => {
      const part = source.replace(/^\.\//, '');
      return importer?.includes('/src/') && swapped.includes(part) && /^\.\/\w+$/.test(source) ? `\0stand-in:${part}` : null;
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
const core = await umdSize([...parts]);
console.log(`| Part of dist/moesif.min.js | gzip -9 bytes |\n|---|---:|`);
for (const [part, bytes] of rows) console.log(`| ${part} (above its stand-in) | ${bytes.toLocaleString('en')} |`);
console.log(`| core: everything else, with the three stand-ins | ${core.toLocaleString('en')} |`);
console.log(`| whole file (without its source-map comment) | ${full.toLocaleString('en')} |`);
