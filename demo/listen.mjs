// For demo/collector/*.mjs, which import '../listen.mjs', until the collector is TypeScript (issue 19):
// then delete this file. Runs under tsx and vitest, which load the TypeScript it re-exports.
export { listen } from './listen.ts';
