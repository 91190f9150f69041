/**
 * Starts the real collector on 127.0.0.1 (port 0) with a real SQLite file in a fresh temp dir, and
 * gives tests small helpers to talk to it over HTTP. No mocks: everything crosses the loopback wire.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, DEFAULT_APP_ID } from '../../demo/collector/server.js';

export { DEFAULT_APP_ID };

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

export interface TestCollector {
  url: string;
  dbPath: string;
  /** POST JSON (or a raw string/Buffer) with the demo application id header unless `appId: null`. */
  post(path: string, body: unknown, options?: { appId?: string | null; raw?: boolean; headers?: Record<string, string> }): Promise<Answer>;
  get(path: string): Promise<Answer>;
  close(): Promise<void>;
  /** Close and start again on the same SQLite file. */
  restart(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'usertrail-collector-'));
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (the dashboard page): keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

export async function startTestCollector(options: { applicationId?: string } = {}): Promise<TestCollector> {
  const dir = tempDir();
  const dbPath = join(dir, 'collector.db');
  let running = await startCollector({ port: 0, db: dbPath, ...options });
  const appId = options.applicationId ?? DEFAULT_APP_ID;
  const collector: TestCollector = {
    get url() {
      return running.url as string;
    },
    dbPath,
    async post(path, body, { appId: id = appId, raw = false, headers = {} } = {}) {
      const h: Record<string, string> = { 'Content-Type': 'application/json', ...headers };
      if (id !== null) h['X-Moesif-Application-Id'] = id;
      const res = await fetch(running.url + path, { method: 'POST', headers: h, body: raw ? (body as string) : JSON.stringify(body) });
      return answer(res);
    },
    async get(path) {
      return answer(await fetch(running.url + path));
    },
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await running.close();
      running = await startCollector({ port: 0, db: dbPath, ...options });
    },
  };
  return collector;
}

let counter = 0;
/** A unique transaction id per call. */
export const txId = (): string => `tx-${Date.now()}-${++counter}`;

/** ISO time `seconds` after a fixed base, so orderings in tests are explicit. */
export const at = (seconds: number): string => new Date(Date.UTC(2025, 0, 1, 12, 0, seconds)).toISOString();

export function action(fields: Record<string, unknown> & { time?: string; uri?: string }): Record<string, unknown> {
  const { time = at(0), uri = 'http://docs.example.test/docs/', ...rest } = fields;
  return {
    action_name: 'Page View',
    transaction_id: txId(),
    request: { time, uri, verb: 'GET', user_agent_string: 'test' },
    ...rest,
  };
}

export function apiCall(fields: Record<string, unknown> & { time?: string; uri?: string; status?: number; verb?: string }): Record<string, unknown> {
  const { time = at(0), uri = 'http://api.example.test/test', status = 200, verb = 'GET', ...rest } = fields;
  return {
    transaction_id: txId(),
    request: { time, uri, verb, headers: { accept: 'application/json' } },
    response: { time, status, headers: { 'content-type': 'application/json' }, body: { ok: true } },
    ...rest,
  };
}
