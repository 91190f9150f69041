// @ts-check
/**
 * Checks one item of each kind against Moesif's collection API field names and types, and turns it
 * into the normalised shape the store takes. Every failure names the field, so a developer pointing
 * their SDK at this collector learns exactly what is wrong.
 *
 * Unknown extra fields are allowed and kept in the stored payload: Moesif's API accepts them too, and
 * SDK versions add fields over time.
 */

/** @typedef {'users' | 'companies' | 'actions' | 'events'} Kind */
/** @typedef {{ ok: true, value: any } | { ok: false, error: string }} Checked */

export const KINDS = /** @type {const} */ (['users', 'companies', 'actions', 'events']);

/** Ids longer than this are surely a mistake (a whole token or document pasted in). */
const MAX_ID_LENGTH = 512;

/**
 * Deepest nesting kept. JSON.parse takes any depth, but JSON.stringify (storing, answering) overflows
 * the stack at a few thousand levels; real metadata and API bodies stay far below this.
 */
const MAX_DEPTH = 100;

class FieldError extends Error {}

/**
 * Levels of arrays and objects in `value` (0 for a scalar), counted without recursion so that no
 * input can overflow the stack here either; stops counting past `limit`.
 * @param {unknown} value
 * @param {number} limit
 */
function depth(value, limit) {
  let deepest = 0;
  /** @type {[unknown, number][]} */
  const stack = [[value, 1]];
  while (stack.length) {
    const [v, level] = /** @type {[unknown, number]} */ (stack.pop());
    if (typeof v !== 'object' || v === null) continue;
    if (level > deepest) deepest = level;
    if (deepest > limit) break;
    for (const child of Object.values(v)) stack.push([child, level + 1]);
  }
  return deepest;
}

/** @param {unknown} value */
const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string} path
 * @param {boolean} required
 * @returns {string | undefined}
 */
function id(obj, key, path, required = false) {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw new FieldError(`${path}${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.trim() === '') throw new FieldError(`${path}${key} must be a non-empty string`);
  if (v.length > MAX_ID_LENGTH) throw new FieldError(`${path}${key} must be at most ${MAX_ID_LENGTH} characters`);
  return v;
}

/**
 * A user or company id, which the app gives: a string, or an integer taken as its decimal string
 * (anonymous ids are the SDK's own strings).
 * moesif-browser-js sends `identifyUser(12345)` as the number 12345, while server integrations and
 * usertrail send "12345"; both must name one profile (the seed recommends "a database id").
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string} path
 * @param {boolean} required
 * @returns {string | undefined}
 */
function profileId(obj, key, path, required = false) {
  const v = obj[key];
  return Number.isSafeInteger(v) ? String(v) : id(obj, key, path, required);
}

/**
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string} path
 * @param {boolean} required
 * @returns {string | undefined}
 */
function text(obj, key, path, required = false) {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw new FieldError(`${path}${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new FieldError(`${path}${key} must be a string`);
  return v;
}

/**
 * An ISO 8601 date, returned in the one form (`toISOString`) so that stored times sort as text.
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string} path
 * @param {boolean} required
 * @returns {string | undefined}
 */
function time(obj, key, path, required = false) {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw new FieldError(`${path}${key} is required`);
    return undefined;
  }
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new FieldError(`${path}${key} must be an ISO 8601 date string`);
  return new Date(ms).toISOString();
}

/**
 * @param {Record<string, unknown>} obj
 * @param {string} key
 * @param {string} path
 * @param {boolean} required
 * @returns {Record<string, unknown> | undefined}
 */
function object(obj, key, path, required = false) {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw new FieldError(`${path}${key} is required`);
    return undefined;
  }
  if (!isObject(v)) throw new FieldError(`${path}${key} must be an object`);
  return /** @type {Record<string, unknown>} */ (v);
}

/**
 * Header maps: Moesif takes string values; numbers are common from server SDKs, so they are allowed.
 * @param {Record<string, unknown>} obj
 * @param {string} path
 */
function headers(obj, path) {
  const h = object(obj, 'headers', path);
  if (h === undefined) return undefined;
  for (const [name, value] of Object.entries(h)) {
    if (typeof value !== 'string' && typeof value !== 'number') throw new FieldError(`${path}headers.${name} must be a string`);
  }
  return h;
}

/** Campaign values are strings (utm_*, click ids, referrer). */
function campaign(/** @type {Record<string, unknown>} */ obj) {
  const c = object(obj, 'campaign', '');
  if (c === undefined) return undefined;
  for (const [name, value] of Object.entries(c)) {
    if (value !== undefined && value !== null && typeof value !== 'string') throw new FieldError(`campaign.${name} must be a string`);
  }
  return c;
}

/** @param {Record<string, unknown>} item */
function checkUser(item) {
  const user_id = profileId(item, 'user_id', '');
  const anonymous_id = id(item, 'anonymous_id', '');
  if (user_id === undefined && anonymous_id === undefined) throw new FieldError('user_id or anonymous_id is required');
  return {
    user_id,
    anonymous_id,
    company_id: profileId(item, 'company_id', ''),
    session_token: text(item, 'session_token', ''),
    modified_time: time(item, 'modified_time', ''),
    metadata: object(item, 'metadata', ''),
    campaign: campaign(item),
  };
}

/** @param {Record<string, unknown>} item */
function checkCompany(item) {
  return {
    company_id: /** @type {string} */ (profileId(item, 'company_id', '', true)),
    company_domain: text(item, 'company_domain', ''),
    session_token: text(item, 'session_token', ''),
    modified_time: time(item, 'modified_time', ''),
    metadata: object(item, 'metadata', ''),
    campaign: campaign(item),
  };
}

/** Who an action or event belongs to, as sent. */
function attribution(/** @type {Record<string, unknown>} */ item) {
  return {
    user_id: profileId(item, 'user_id', ''),
    anonymous_id: id(item, 'anonymous_id', ''),
    company_id: profileId(item, 'company_id', ''),
    session_token: text(item, 'session_token', ''),
    transaction_id: id(item, 'transaction_id', ''),
  };
}

/** @param {Record<string, unknown>} item */
function checkAction(item) {
  const action_name = /** @type {string} */ (id(item, 'action_name', '', true));
  const request = /** @type {Record<string, unknown>} */ (object(item, 'request', '', true));
  const out = {
    ...attribution(item),
    action_name,
    // Optional: moesif-browser-js track() sends none, and Moesif times such an action when it arrives
    // (ingest.mjs does the same).
    time: time(request, 'time', 'request.'),
    uri: text(request, 'uri', 'request.'),
    verb: text(request, 'verb', 'request.'),
    status: undefined,
    metadata: object(item, 'metadata', ''),
  };
  text(request, 'user_agent_string', 'request.');
  return out;
}

/** @param {Record<string, unknown>} item */
function checkEvent(item) {
  const request = /** @type {Record<string, unknown>} */ (object(item, 'request', '', true));
  const response = /** @type {Record<string, unknown>} */ (object(item, 'response', '', true));
  const out = {
    ...attribution(item),
    action_name: undefined,
    time: /** @type {string} */ (time(request, 'time', 'request.', true)),
    uri: /** @type {string} */ (text(request, 'uri', 'request.', true)),
    verb: /** @type {string} */ (id(request, 'verb', 'request.', true)),
    status: 0,
    metadata: object(item, 'metadata', ''),
  };
  headers(request, 'request.');
  text(request, 'ip_address', 'request.');
  text(request, 'api_version', 'request.');
  text(request, 'transfer_encoding', 'request.');
  time(response, 'time', 'response.', true);
  const status = response.status;
  if (status === undefined || status === null) throw new FieldError('response.status is required');
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 999) {
    throw new FieldError('response.status must be an integer HTTP status');
  }
  out.status = status;
  headers(response, 'response.');
  text(response, 'transfer_encoding', 'response.');
  text(item, 'tags', '');
  text(item, 'direction', '');
  return out;
}

const CHECKERS = { users: checkUser, companies: checkCompany, actions: checkAction, events: checkEvent };

/**
 * Checks one item of `kind`. On success `value` holds the normalised fields plus `payload`, the item
 * exactly as sent (kept so that nothing the SDK sent is lost).
 * @param {Kind} kind
 * @param {unknown} item
 * @returns {Checked}
 */
export function checkItem(kind, item) {
  if (!isObject(item)) return { ok: false, error: 'item must be a JSON object' };
  try {
    for (const [key, value] of Object.entries(/** @type {Record<string, unknown>} */ (item))) {
      if (depth(value, MAX_DEPTH) > MAX_DEPTH) throw new FieldError(`${key} is nested deeper than ${MAX_DEPTH} levels`);
    }
    const fields = CHECKERS[kind](/** @type {Record<string, unknown>} */ (item));
    return { ok: true, value: { ...fields, payload: item } };
  } catch (err) {
    if (err instanceof FieldError) return { ok: false, error: err.message };
    throw err;
  }
}

/**
 * Parses a request body as JSON whatever its content type: beacons arrive as text/plain.
 * @param {Buffer | undefined} body
 * @returns {{ ok: true, value: unknown } | { ok: false, error: string }}
 */
export function parseJsonBody(body) {
  const raw = body && body.length ? body.toString('utf8') : '';
  if (raw.trim() === '') return { ok: false, error: 'body is empty; expected JSON' };
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false, error: 'body is not valid JSON' };
  }
}
