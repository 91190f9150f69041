/**
 * The collector modules the demo's start script uses, imported in one place: demo/collector is being
 * moved to TypeScript (issue 19), and then these become './collector/<name>.js' (tsx and TypeScript
 * resolve .js to .ts).
 */
export { startCollector, DEFAULT_APP_ID } from './collector/server.mjs';
export { DEFAULT_DB_PATH, DEFAULT_PORT } from './collector/config.mjs';
export { portFromEnv } from './collector/main.mjs';
