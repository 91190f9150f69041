import typescript from '@rollup/plugin-typescript';
import terser from '@rollup/plugin-terser';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { readFileSync } from 'node:fs';

const { version, dependencies } = JSON.parse(readFileSync('./package.json', 'utf8'));
const runtimeDependencies = Object.keys(dependencies ?? {});
// The version is written into X-Moesif-SDK at build time, so no JSON import reaches the bundle.
const replaceVersion = {
  name: 'usertrail-version',
  transform: (code) => (code.includes('__USERTRAIL_VERSION__') ? code.replaceAll('__USERTRAIL_VERSION__', version) : null),
};
// Each bundle is compiled with the settings of the place it runs: src/tsconfig.json (browser, DOM) or
// src/server/tsconfig.json (Node); `npm run typecheck` checks the same files with the same settings.
// noCheck: the type errors the plugin would find are that check's (here they were only warnings, which
// --silent hides), so the build only transpiles; the output is byte for byte the same.
const ts = (tsconfig = './src/tsconfig.json') => typescript({ tsconfig, noCheck: true, noEmit: false, declaration: false, declarationDir: undefined, outDir: 'dist' });
const minify = () =>
  terser({
    ecma: 2020,
    module: false,
    compress: { passes: 3, pure_getters: true, unsafe_arrows: true },
    // wrap_iife: the bundle's function in parentheses, which V8 reads as "called at once" and compiles in one
    // pass; without them it pre-parses the whole file and then parses it again (about 0.5 ms more script
    // evaluation on every page load: 3.0 to 3.3 against 2.5 to 2.7 ms, bench/README.md).
    format: { comments: false, wrap_iife: true },
  });
// moesif.min.js and moesif.cjs are the same code: rollup renders it once per output, and this minifies
// it once for both (terser's 3 passes over the whole SDK are most of the build's time, about 5 s each).
const minifyOnce = () => {
  const terserPlugin = minify();
  const minified = new Map();
  return {
    ...terserPlugin,
    renderChunk(code, chunk, outputOptions, meta) {
      if (!minified.has(code)) minified.set(code, terserPlugin.renderChunk.call(this, code, chunk, outputOptions, meta));
      return minified.get(code);
    },
  };
};
const scriptTagMinify = minifyOnce();

export default [
  {
    // The <script> tag build: everything in one file, global `moesif`, and module.exports under CommonJS.
    // No AMD branch: an anonymous define() in a plain <script> tag is an error under RequireJS
    // ("mismatched anonymous define"), and it would hide the global the snippet and the docs expect.
    input: 'src/umd.ts',
    // The same file again as moesif.cjs, for Node's require('usertrail') (moesif-browser-js's README installs
    // it that way): the package is "type": "module", so Node would load a .js file as ESM. Bundlers read
    // the "module" export condition first and give require() the ES module, so that an app mixing
    // import and require bundles one copy, one instance (test/package/bundlers.test.ts).
    output: ['dist/moesif.min.js', 'dist/moesif.cjs'].map((file) => ({
      file,
      format: 'iife',
      name: 'moesif',
      exports: 'default',
      footer: '"object"==typeof module&&(module.exports=moesif);',
      sourcemap: true,
      plugins: [scriptTagMinify],
    })),
    plugins: [replaceVersion, nodeResolve({ browser: true }), ts()],
  },
  {
    // The bundler build: ES modules, dependencies left to the app's bundler so they are shared.
    // usertrail/capture on its own lets an SPA that never calls start() leave capture out:
    // import { createMoesif } from 'usertrail' and pass createCapture from 'usertrail/capture' if wanted.
    input: { usertrail: 'src/index.ts', capture: 'src/capture/index.ts' },
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].mjs', chunkFileNames: '[name]-[hash].mjs', sourcemap: true },
    external: (id) => runtimeDependencies.some((dep) => id === dep || id.startsWith(`${dep}/`)),
    plugins: [replaceVersion, ts()],
  },
  {
    // usertrail/server: Node middleware; Node's built-ins stay imports, nothing of it reaches the browser builds.
    input: { server: 'src/server/index.ts' },
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].mjs', sourcemap: true },
    external: (id) => id.startsWith('node:'),
    plugins: [replaceVersion, ts('./src/server/tsconfig.json')],
  },
  {
    // require('usertrail/server'): the factory as module.exports (see src/server/cjs.ts). Node 20 can
    // require() an ES module, but returns its namespace object, which cannot be called.
    input: 'src/server/cjs.ts',
    output: { file: 'dist/server.cjs', format: 'cjs', exports: 'default', sourcemap: true },
    external: (id) => id.startsWith('node:'),
    plugins: [replaceVersion, ts('./src/server/tsconfig.json')],
  },
  {
    // require('usertrail/capture'), so that its types resolve for CommonJS consumers too (issue 17):
    // exports.createCapture, for createMoesif in the ES module build or a bundler that reads "require".
    // uuid is bundled in (its browser build, crypto.getRandomValues, which Node 20 and jsdom have): uuid
    // 12 and later are ES modules only, which Node 20.19's require() loads but Jest's does not (before
    // Node 24.9), so `import ... from 'usertrail/capture'` in a Jest test failed with "Must use import
    // to load ES Module" (test/package/test-runners.test.ts).
    input: 'src/capture/index.ts',
    output: { file: 'dist/capture.cjs', format: 'cjs', exports: 'named', sourcemap: true },
    plugins: [replaceVersion, nodeResolve({ browser: true }), ts()],
  },
];
