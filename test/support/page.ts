import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';
import { createMoesif, type Moesif } from '../../src/moesif';
import type { Options } from '../../src/options';
import { startCollector, type Collector } from './collector';

/** The moesif-compatible storage keys, without prefix. */
export const KEYS = {
  anonymousId: 'moesif_anonymous_id',
  userId: 'moesif_stored_user_id',
  companyId: 'moesif_stored_company_id',
  sessionToken: 'moesif_stored_session_id',
  campaign: 'moesif_campaign_data',
} as const;

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Cookie name → value, as the page sees them. */
export function cookies(): Record<string, string> {
  const jar: Record<string, string> = {};
  for (const part of document.cookie.split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    jar[part.slice(0, index).trim()] = decodeURIComponent(part.slice(index + 1).trim());
  }
  return jar;
}

/** Writes a cookie as moesif-browser-js (or another subdomain) would: on the site's domain. */
export function setCookie(name: string, value: string, domain: string | undefined = 'example.test'): void {
  document.cookie = `${name}=${encodeURIComponent(value)}; path=/${domain ? `; domain=${domain}` : ''}`;
}

/** Removes a cookie whatever domain it was set with (a cookie is only removed with its own domain). */
export function removeCookie(name: string): void {
  for (const domain of ['', '; domain=example.test', '; domain=app.example.test', '; domain=.example.test']) {
    document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/${domain}`;
  }
}

export function clearCookies(): void {
  for (const name of Object.keys(cookies())) removeCookie(name);
}

/** Names of the moesif-compatible keys present in localStorage / in the cookie jar. */
export const moesifKeysIn = (names: string[]): string[] => names.filter((name) => name.startsWith('moesif_'));
export const localKeys = (): string[] => Object.keys(localStorage);

export interface Sdk {
  collector: Collector;
  /** A fresh instance, initialized against the test collector with a unique application id. */
  start(options?: Partial<Options>): { moesif: Moesif; applicationId: string };
  /** A fresh, not yet initialized instance (flushed and forgotten after the test). */
  fresh(): Moesif;
}

let counter = 0;

/**
 * Hooks for a test file that runs the SDK in jsdom against a real collector on 127.0.0.1:
 * each test starts with an empty cookie jar and localStorage at http://app.example.test/, and every
 * instance it made is flushed afterwards, so that nothing of one test leaks into the next.
 */
export function useSdk(): Sdk {
  const made: Moesif[] = [];
  const sdk = { collector: undefined as unknown as Collector } as Sdk;
  const clean = (): void => {
    clearCookies();
    localStorage.clear();
    history.replaceState(null, '', '/');
  };
  beforeAll(async () => {
    sdk.collector = await startCollector();
  });
  afterAll(async () => {
    await sdk.collector.close();
  });
  beforeEach(clean);
  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(made.splice(0).map((moesif) => moesif.flush()));
    clean();
  });
  sdk.fresh = () => {
    const moesif = createMoesif();
    made.push(moesif);
    return moesif;
  };
  sdk.start = (options = {}) => {
    const applicationId = `app-${process.pid}-${++counter}`;
    const moesif = sdk.fresh();
    moesif.init({ applicationId, host: sdk.collector.url, batchMaxTime: 10, ...options });
    return { moesif, applicationId };
  };
  return sdk;
}

/** Console spies that still let the test see what was written. */
export function spyConsole() {
  return {
    warn: vi.spyOn(console, 'warn').mockImplementation(() => {}),
    error: vi.spyOn(console, 'error').mockImplementation(() => {}),
    log: vi.spyOn(console, 'log').mockImplementation(() => {}),
  };
}

/** The text of every call to a console spy, joined per call. */
export const messages = (spy: { mock: { calls: unknown[][] } }): string[] => spy.mock.calls.map((call) => call.map(String).join(' '));
