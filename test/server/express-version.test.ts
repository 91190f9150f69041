// @vitest-environment node
import { expect, it } from 'vitest';

/**
 * The vitest project `express-4` runs the middleware's Express tests again with `express` aliased to
 * the devDependency express-4 (see vitest.config.ts): this says which Express a project's tests get,
 * so that a broken alias cannot quietly run Express 5 twice.
 */
it(`the tests of this project run on Express ${process.env.EXPRESS_MAJOR ?? '5'}`, async () => {
  const { default: pkg } = await import('express/package.json', { with: { type: 'json' } });
  expect(pkg.version.split('.')[0]).toBe(process.env.EXPRESS_MAJOR ?? '5');
});
