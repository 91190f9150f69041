// @ts-check
/**
 * Workload 1, bundle size: raw and `gzip -9` bytes of each UMD file, and of what an app ships when
 * it imports only init + identifyUser + track + reset from usertrail's ESM build (bundled the way an
 * app's bundler would: rollup + node-resolve + terser, so unused code is dropped).
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';

/** @param {Buffer | string} data */
export const sizes = (data) => {
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return { raw: buffer.length, gzip: gzipSync(buffer, { level: 9 }).length };
};

/**
 * Bundles `import { ... } from esmFile` re-exported, so exactly those imports survive tree-shaking
 * (what size-limit does for one import).
 * @param {string} esmFile absolute path of dist/usertrail.mjs
 * @param {string[]} names
 */
export async function esmImportSize(esmFile, names) {
  const ENTRY = '\0bench-entry';
  const bundle = await rollup({
    input: ENTRY,
    plugins: [
      {
        name: 'bench-entry',
        resolveId: (id) => (id === ENTRY ? ENTRY : null),
        load: (id) => (id === ENTRY ? `export { ${names.join(', ')} } from ${JSON.stringify(esmFile)};` : null),
      },
      nodeResolve({ browser: true }),
      terser({ ecma: 2020, module: true, compress: { passes: 3, pure_getters: true }, format: { comments: false } }),
    ],
    onwarn: () => {},
  });
  const { output } = await bundle.generate({ format: 'es' });
  await bundle.close();
  const code = output.filter((o) => o.type === 'chunk').map((o) => /** @type {import('rollup').OutputChunk} */ (o).code).join('\n');
  return sizes(code);
}

/** @param {{ usertrailUmd: string, moesifUmd: string, usertrailEsm: string }} files */
export async function bundleWorkload({ usertrailUmd, moesifUmd, usertrailEsm }) {
  const names = ['init', 'identifyUser', 'track', 'reset'];
  return {
    umd: { usertrail: sizes(readFileSync(usertrailUmd)), moesif: sizes(readFileSync(moesifUmd)) },
    esmImport: { names, usertrail: await esmImportSize(usertrailEsm, names) },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  console.log(
    JSON.stringify(
      await bundleWorkload({
        usertrailUmd: `${root}dist/moesif.min.js`,
        moesifUmd: `${root}node_modules/moesif-browser-js/moesif.min.js`,
        usertrailEsm: `${root}dist/usertrail.mjs`,
      }),
      null,
      2,
    ),
  );
}
