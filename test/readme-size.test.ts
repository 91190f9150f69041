// @vitest-environment node
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import { rollup } from 'rollup';
import { expect, it } from 'vitest';

/** What an app's bundler ships for `entry` from the built package: tree-shaken, minified, gzip -9 bytes (as test/size.test.ts measures). */
async function bundledSize(entry: string): Promise<number> {
  const bundle = await rollup({
    input: 'entry',
    plugins: [{ name: 'entry', resolveId: (id) => (id === 'entry' ? id : null), load: (id) => (id === 'entry' ? entry : null) }, nodeResolve({ browser: true })],
    onwarn: () => undefined,
  });
  const { output } = await bundle.generate({ format: 'es', plugins: [terser({ ecma: 2020, module: true })] });
  return gzipSync(output[0].code, { level: 9 }).length;
}

it("the README's Quick start says, within 5 %, what an app saves by making its own instance without capture", async () => {
  const readme = readFileSync(`${process.cwd()}/README.md`, 'utf8');
  const stated = Number(/can ship\s+about ([\d.]+) KB gzip less by making its own instance/.exec(readme)![1]) * 1000;
  const calls = "m.init({ applicationId: 'x' }); m.identifyUser('u'); m.track('t'); m.reset();";
  const withDefault = await bundledSize(`import m from './dist/usertrail.mjs'; ${calls}`);
  const ownInstance = await bundledSize(`import { createMoesif } from './dist/usertrail.mjs'; const m = createMoesif(); ${calls}`);
  expect(Math.abs(withDefault - ownInstance - stated)).toBeLessThanOrEqual(stated * 0.05);
});
