/**
 * The CommonJS entry of usertrail/server (dist/server.cjs, issue 17). `require('usertrail/server')`
 * is the factory itself, as moesif-nodejs's `module.exports` is, so the seed's
 * `const moesif = require(...); moesif({ applicationId })` runs unchanged. Node 20 would otherwise
 * hand a require() of the ES module its namespace object, and `moesif(...)` would throw "moesif is
 * not a function". The named exports (and `default`, for code compiled from ES modules) ride along
 * as properties of the factory. Its types are written by scripts/cjs-types.mjs.
 */
import * as server from './index.js';

export default Object.assign(server.default, server);
