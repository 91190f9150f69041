/**
 * The collector's one config object: every option, its default, and the single step that
 * resolves them, so the rest of the collector never checks for `undefined`.
 */

/**
 * The application id the demo collector accepts unless told otherwise. It is not a secret. Long
 * enough for Moesif's own server SDKs, which refuse ids of fewer than 50 characters (moesif-nodejs
 * 3.x throws at start-up), so every SDK works with the defaults.
 */
export const DEFAULT_APP_ID = 'usertrail-demo-app-local-collector-id-for-any-moesif-sdk';

/** Default SQLite file, relative to the working directory (`.usertrail/` is git-ignored). */
export const DEFAULT_DB_PATH = '.usertrail/collector.db';

/** Default port of `npm run collector` and of the collector under `npm start`. */
export const DEFAULT_PORT = 8787;

export interface CollectorOptions {
  /** TCP port; 0 picks a free one. (default 0) */
  port?: number;
  /** Interface to listen on. (default '127.0.0.1') */
  host?: string;
  /** SQLite file path, or ':memory:'. (default ':memory:') */
  db?: string;
  /** The only application id accepted by the ingest API. (default DEFAULT_APP_ID) */
  applicationId?: string;
  /** Receives one line per request and per lifecycle step. (default no-op) */
  log?: (line: string) => void;
  /**
   * The token the query API and the dashboard require (`Authorization: Bearer <token>`, or the
   * dashboard opened once at `/?token=<token>`). Required when `host` is beyond loopback.
   */
  readToken?: string;
  /** Host names the query API and the dashboard answer for, besides loopback names and `host`. */
  allowedHosts?: string[];
  /**
   * How long a request may take to arrive, headers and body; a slower one (a body that never ends)
   * gets 408 and its connection closed. (default 30 s: a 1 MB batch at 35 KB/s)
   */
  requestTimeoutMs?: number;
}

export interface CollectorConfig {
  port: number;
  host: string;
  db: string;
  applicationId: string;
  log: (line: string) => void;
  /** Largest accepted request body; larger ones get 413 (the issue says 1 MB). */
  maxBodyBytes: number;
  /** Seconds a browser may cache a preflight answer (Chromium caps it at 7200). */
  corsMaxAge: number;
  /** Largest `limit` the query API honours. */
  maxPageSize: number;
  readToken: string | undefined;
  /** Lower-case host names (no port) the query API and the dashboard answer for. */
  allowedHosts: Set<string>;
  requestTimeoutMs: number;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1', '[::1]'];

/** Whether listening on `host` keeps the collector to this machine. */
export const isLoopback = (host: string): boolean => LOOPBACK_NAMES.includes(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);

export function resolveConfig(options: CollectorOptions = {}): CollectorConfig {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`port must be an integer from 0 to 65535, got ${port}`);
  const applicationId = options.applicationId ?? DEFAULT_APP_ID;
  if (typeof applicationId !== 'string' || applicationId.trim() === '') throw new TypeError('applicationId must be a non-empty string');
  const host = options.host ?? '127.0.0.1';
  const readToken = options.readToken === '' ? undefined : options.readToken;
  // The query API shows captured headers, bodies and session tokens: beyond this machine, only with a token.
  if (!isLoopback(host) && readToken === undefined) {
    throw new Error(`listening on ${host} (beyond loopback) needs a read token for the query API and the dashboard: set USERTRAIL_READ_TOKEN`);
  }
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  if (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs < 1) throw new TypeError(`requestTimeoutMs must be a positive integer, got ${requestTimeoutMs}`);
  const allowedHosts = new Set([...LOOPBACK_NAMES, ...(isLoopback(host) || host === '0.0.0.0' || host === '::' ? [] : [host]), ...(options.allowedHosts ?? [])].map((name) => name.toLowerCase()));
  return {
    port,
    host,
    readToken,
    allowedHosts,
    db: options.db ?? ':memory:',
    applicationId,
    log: options.log ?? (() => {}),
    maxBodyBytes: 1024 * 1024,
    corsMaxAge: 7200,
    maxPageSize: 500,
    requestTimeoutMs,
  };
}
