/**
 * Items are stored compactly: the payload without the values other columns hold anyway (ids, the
 * action name, the times, a user agent and a session token by reference), put back byte for byte
 * on read.
 */
import type { JsonObject } from '../validate.js';
import type { Refs } from './refs.js';
import { iso } from './rows.js';

/**
 * What packPayload took out of a stored payload (bits of items.packed): values other columns hold
 * anyway. Taken out only when putting it back gives the item exactly as sent, key order included
 * where an answer shows it (request and response are shown whole; the top level only by field).
 */
const PACKED = { user: 1, anonymous: 2, company: 4, name: 8, requestTime: 16, userAgent: 32, responseTime: 64, session: 128 } as const;

const isPlainObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The payload to store, without what columns hold: ids, the action name, the times, a user agent and a session token (by reference). */
export function packPayload(
  payload: JsonObject,
  known: { user_id?: string; anonymous_id?: string; company_id?: string; action_name?: string; session_token?: string; time: number },
  refs: Pick<Refs, 'nameRef' | 'sessionRef'>,
): { payload: string; packed: number; user_agent: number | null; session: number | null } {
  const out: JsonObject = { ...payload };
  let packed = 0;
  let userAgent: number | null = null;
  let session: number | null = null;
  const take = (key: string, value: string | undefined, bit: number): void => {
    if (value !== undefined && out[key] === value) {
      delete out[key];
      packed |= bit;
    }
  };
  take('user_id', known.user_id, PACKED.user);
  take('anonymous_id', known.anonymous_id, PACKED.anonymous);
  take('company_id', known.company_id, PACKED.company);
  take('action_name', known.action_name, PACKED.name);
  if (known.session_token !== undefined && out.session_token === known.session_token) {
    session = refs.sessionRef(known.session_token);
    delete out.session_token;
    packed |= PACKED.session;
  }
  const time = new Date(known.time).toISOString();
  if (isPlainObject(out.request)) {
    const request: JsonObject = { ...out.request };
    const keys = Object.keys(request);
    if (keys[0] === 'time' && request.time === time) {
      delete request.time;
      packed |= PACKED.requestTime;
    }
    if (keys[keys.length - 1] === 'user_agent_string' && typeof request.user_agent_string === 'string') {
      userAgent = refs.nameRef(request.user_agent_string);
      delete request.user_agent_string;
      packed |= PACKED.userAgent;
    }
    out.request = request;
  }
  if (isPlainObject(out.response) && Object.keys(out.response)[0] === 'time' && out.response.time === time) {
    const { time: _time, ...rest } = out.response;
    out.response = rest;
    packed |= PACKED.responseTime;
  }
  return { payload: JSON.stringify(out), packed, user_agent: userAgent, session };
}

/** The item exactly as sent, from its stored row (packPayload undone). */
export function unpackPayload(row: Record<string, unknown>): JsonObject {
  const payload = JSON.parse(row.payload as string) as JsonObject;
  const packed = row.packed as number;
  if (packed === 0) return payload;
  const time = iso(row.time as number) as string;
  if (packed & PACKED.user) payload.user_id = row.sent_user_id;
  if (packed & PACKED.anonymous) payload.anonymous_id = row.anonymous_id;
  if (packed & PACKED.company) payload.company_id = row.sent_company_id;
  if (packed & PACKED.name) payload.action_name = row.action_name;
  if (packed & PACKED.session) payload.session_token = row.session_token;
  if (isPlainObject(payload.request)) {
    let request = payload.request;
    if (packed & PACKED.requestTime) request = { time, ...request };
    if (packed & PACKED.userAgent) request = { ...request, user_agent_string: row.user_agent };
    payload.request = request;
  }
  if (packed & PACKED.responseTime && isPlainObject(payload.response)) payload.response = { time, ...payload.response };
  return payload;
}
