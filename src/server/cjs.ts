/**
 * The CommonJS entry of usertrail/server (dist/server.cjs, issue 17). `require('usertrail/server')`
 * is the factory itself, as moesif-nodejs's `module.exports` is, so the seed's
 * `const moesif = require(...); moesif({ applicationId })` runs unchanged. A CommonJS build of
 * index.ts itself would give require() an exports object ({ default, moesifMiddleware, ... }), as
 * require() of the ES module does on Node 20.19+ (older Node 20 refuses it: ERR_REQUIRE_ESM), and
 * `moesif(...)` would throw "moesif is not a function". The named exports (and `default`, for code compiled from ES modules) ride along
 * as properties of the factory. Its types are written by scripts/cjs-types.mjs.
 */
import * as server from './index.js';

export default Object.assign(server.default, server);
