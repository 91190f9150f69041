/**
 * Checks one item of each kind against Moesif's collection API field names and types, and turns it
 * into the normalised shape the store takes. Every failure names the field, so a developer pointing
 * their SDK at this collector learns exactly what is wrong.
 *
 * The one place the collector meets the wire contract (`src/wire.ts`): each kind's table of field
 * rules must name every field of the SDK's payload type (`FieldsOf`), so a field added there and not
 * here is a compile error, and test/collector/wire-contract.test.ts posts a payload of each type
 * with every field filled, which must be accepted.
 *
 * Unknown extra fields are allowed and kept in the stored payload: Moesif's API accepts them too, and
 * SDK versions add fields over time.
 */
import type { ActionPayload, CapturedEvent, CompanyPayload, Kind, UserPayload } from '../../src/wire.js';

export type { Kind };

export const KINDS: readonly Kind[] = ['users', 'companies', 'actions', 'events'];

/** Ids longer than this are surely a mistake (a whole token or document pasted in). */
const MAX_ID_LENGTH = 512;

/**
 * Deepest nesting kept. JSON.parse takes any depth, but JSON.stringify (storing, answering) overflows
 * the stack at a few thousand levels; real metadata and API bodies stay far below this.
 */
const MAX_DEPTH = 100;

export type JsonObject = Record<string, unknown>;

class FieldError extends Error {}

/** Checks the field `name` (its full path, for the message) of a value and gives it normalised. */
type Rule<T> = (value: unknown, name: string) => T;

/** A rule for every field of a wire type, and possibly more (fields Moesif takes that we do not send). */
type FieldsOf<T> = { [K in keyof Required<T>]: Rule<unknown> } & Record<string, Rule<unknown>>;

type Checked<S extends Record<string, Rule<unknown>>> = { [K in keyof S]: ReturnType<S[K]> };

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
const absent = (value: unknown): value is undefined | null => value === undefined || value === null;

function required<T>(rule: Rule<T | undefined>): Rule<T> {
  return (value, name) => {
    if (absent(value)) throw new FieldError(`${name} is required`);
    return rule(value, name) as T;
  };
}

const id: Rule<string | undefined> = (v, name) => {
  if (absent(v)) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new FieldError(`${name} must be a non-empty string`);
  if (v.length > MAX_ID_LENGTH) throw new FieldError(`${name} must be at most ${MAX_ID_LENGTH} characters`);
  return v;
};

/**
 * A user or company id, which the app gives: a string, or an integer taken as its decimal string
 * (anonymous ids are the SDK's own strings).
 * moesif-browser-js sends `identifyUser(12345)` as the number 12345, while server integrations and
 * usertrail send "12345"; both must name one profile (the seed recommends "a database id").
 */
const profileId: Rule<string | undefined> = (v, name) => (Number.isSafeInteger(v) ? String(v) : id(v, name));

const text: Rule<string | undefined> = (v, name) => {
  if (absent(v)) return undefined;
  if (typeof v !== 'string') throw new FieldError(`${name} must be a string`);
  return v;
};

/** An ISO 8601 date, returned in the one form (`toISOString`) so that stored times sort as text. */
const time: Rule<string | undefined> = (v, name) => {
  if (absent(v)) return undefined;
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new FieldError(`${name} must be an ISO 8601 date string`);
  return new Date(ms).toISOString();
};

const object: Rule<JsonObject | undefined> = (v, name) => {
  if (absent(v)) return undefined;
  if (!isObject(v)) throw new FieldError(`${name} must be an object`);
  return v;
};

/** Bodies are any JSON (or a base64 string): kept as sent. */
const anything: Rule<unknown> = (v) => v;

const isHeaderValue = (value: unknown): boolean => typeof value === 'string' || typeof value === 'number';

/**
 * Header maps, with values as Node gives them to server SDKs: a string, a number (`setHeader('X-Count', 3)`),
 * or a list of them for a header sent several times (two cookies set make `set-cookie` an array, and
 * moesif-nodejs sends `res.getHeaders()` as it is).
 */
const headers: Rule<JsonObject | undefined> = (v, name) => {
  const h = object(v, name);
  for (const [header, value] of Object.entries(h ?? {})) {
    if (!isHeaderValue(value) && !(Array.isArray(value) && value.every(isHeaderValue))) {
      throw new FieldError(`${name}.${header} must be a string, or a list of strings`);
    }
  }
  return h;
};

/** Campaign values are strings (utm_*, click ids, referrer). */
const campaign: Rule<JsonObject | undefined> = (v, name) => {
  const c = object(v, name);
  for (const [key, value] of Object.entries(c ?? {})) {
    if (!absent(value) && typeof value !== 'string') throw new FieldError(`${name}.${key} must be a string`);
  }
  return c;
};

const status: Rule<number | undefined> = (v, name) => {
  if (absent(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 999) throw new FieldError(`${name} must be an integer HTTP status`);
  return v;
};

/** Checks every field of `shape`, in its order (so the first wrong one is named), and gives them normalised. */
function checkFields<S extends Record<string, Rule<unknown>>>(obj: JsonObject, shape: S, path: string): Checked<S> {
  const out: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(shape)) out[key] = rule(obj[key], path + key);
  return out as Checked<S>;
}

/** A nested object checked against its own table. */
function nested<S extends Record<string, Rule<unknown>>>(shape: S): Rule<Checked<S> | undefined> {
  return (v, name) => {
    const obj = object(v, name);
    return obj && checkFields(obj, shape, `${name}.`);
  };
}

// ---- The tables: one per kind, each covering its wire type ---------------------------------------

const attribution = {
  user_id: profileId,
  anonymous_id: id,
  company_id: profileId,
  session_token: text,
};

const USER_FIELDS = {
  ...attribution,
  // Not sent by the browser SDK; usertrail/server and moesif-nodejs send them from a user model.
  modified_time: time,
  ip_address: text,
  user_agent_string: text,
  metadata: object,
  campaign,
} satisfies FieldsOf<UserPayload>;

const COMPANY_FIELDS = {
  company_id: required(profileId),
  company_domain: text,
  session_token: text,
  modified_time: time,
  ip_address: text,
  metadata: object,
  campaign,
} satisfies FieldsOf<CompanyPayload>;

const ACTION_REQUEST_FIELDS = {
  // Optional: moesif-browser-js track() sends none, and Moesif times such an action when it arrives
  // (ingest.ts does the same).
  time,
  uri: text,
  verb: text,
  user_agent_string: text,
} satisfies FieldsOf<ActionPayload['request']>;

const ACTION_FIELDS = {
  ...attribution,
  transaction_id: id,
  action_name: required(id),
  request: required(nested(ACTION_REQUEST_FIELDS)),
  metadata: object,
} satisfies FieldsOf<ActionPayload>;

const EVENT_REQUEST_FIELDS = {
  time: required(time),
  uri: required(text),
  verb: required(id),
  headers,
  body: anything,
  ip_address: text,
  api_version: text,
  transfer_encoding: text,
} satisfies FieldsOf<CapturedEvent['request']>;

const EVENT_RESPONSE_FIELDS = {
  time: required(time),
  status: required(status),
  headers,
  body: anything,
  transfer_encoding: text,
} satisfies FieldsOf<CapturedEvent['response']>;

const EVENT_FIELDS = {
  ...attribution,
  transaction_id: id,
  request: required(nested(EVENT_REQUEST_FIELDS)),
  response: required(nested(EVENT_RESPONSE_FIELDS)),
  tags: text,
  metadata: object,
  direction: text,
} satisfies FieldsOf<CapturedEvent>;

// ---- What the rest of the collector takes ----------------------------------------------------------

export interface CheckedUser {
  user_id?: string;
  anonymous_id?: string;
  company_id?: string;
  session_token?: string;
  modified_time?: string;
  metadata?: JsonObject;
  campaign?: JsonObject;
}

export interface CheckedCompany {
  company_id: string;
  company_domain?: string;
  session_token?: string;
  modified_time?: string;
  metadata?: JsonObject;
  campaign?: JsonObject;
}

/** An action or an API call, normalised: the columns the store indexes, and the item as sent. */
export interface CheckedItem {
  kind: 'action' | 'event';
  user_id?: string;
  anonymous_id?: string;
  company_id?: string;
  session_token?: string;
  transaction_id?: string;
  action_name?: string;
  /** Missing only on an action sent without request.time; ingest times it on arrival. */
  time?: string;
  /** The item exactly as sent, so that nothing the SDK sent is lost. */
  payload: JsonObject;
}

export type CheckedByKind = { users: CheckedUser; companies: CheckedCompany; actions: CheckedItem; events: CheckedItem };

/** Drops the keys whose value is undefined (the optional fields not sent). */
function defined<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}

const CHECKERS: { [K in Kind]: (item: JsonObject) => CheckedByKind[K] } = {
  users(item) {
    const user = defined(checkFields(item, USER_FIELDS, ''));
    if (user.user_id === undefined && user.anonymous_id === undefined) throw new FieldError('user_id or anonymous_id is required');
    return user;
  },
  companies: (item) => defined(checkFields(item, COMPANY_FIELDS, '')),
  actions(item) {
    const { request, metadata: _metadata, ...ids } = checkFields(item, ACTION_FIELDS, '');
    return defined({ kind: 'action', ...ids, time: request.time, payload: item });
  },
  events(item) {
    const { request, response: _response, tags: _tags, metadata: _metadata, direction: _direction, ...ids } = checkFields(item, EVENT_FIELDS, '');
    return defined({ kind: 'event', ...ids, time: request.time, payload: item });
  },
};

/**
 * Levels of arrays and objects in `value` (0 for a scalar), counted without recursion so that no
 * input can overflow the stack here either; stops counting past `limit`.
 */
function depth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: { value: unknown; level: number }[] = [{ value, level: 1 }];
  for (let next = stack.pop(); next; next = stack.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.level > deepest) deepest = next.level;
    if (deepest > limit) break;
    for (const child of Object.values(next.value)) stack.push({ value: child, level: next.level + 1 });
  }
  return deepest;
}

export type CheckResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Checks one item of `kind` and gives its normalised fields, or the error naming the first wrong field. */
export function checkItem<K extends Kind>(kind: K, item: unknown): CheckResult<CheckedByKind[K]> {
  if (!isObject(item)) return { ok: false, error: 'item must be a JSON object' };
  try {
    for (const [key, value] of Object.entries(item)) {
      if (depth(value, MAX_DEPTH) > MAX_DEPTH) throw new FieldError(`${key} is nested deeper than ${MAX_DEPTH} levels`);
    }
    return { ok: true, value: CHECKERS[kind](item) };
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, error: err.message };
    throw err;
  }
}

/** Parses a request body as JSON whatever its content type: beacons arrive as text/plain. */
export function parseJsonBody(body: Buffer | undefined): CheckResult<unknown> {
  const raw = body && body.length ? body.toString('utf8') : '';
  if (raw.trim() === '') return { ok: false, error: 'body is empty; expected JSON' };
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false, error: 'body is not valid JSON' };
  }
}

export const isKind = (value: string): value is Kind => (KINDS as readonly string[]).includes(value);
