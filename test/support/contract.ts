/**
 * The wire contract (src/wire.ts) at run time: what the recording collector checks every payload from
 * a usertrail SDK against. Each shape is typed by the interface it describes (`Shape<T>` has exactly
 * T's fields, optional where T's are), so a field added to, renamed in or dropped from wire.ts without
 * the same change here is a compile error, and a field the SDK sends that wire.ts does not have fails
 * the test that sent it.
 */
import type {
  ActionPayload,
  Attribution,
  BatchBody,
  Campaign,
  CompanyPayload,
  EventPayload,
  Kind,
  ServerActionPayload,
  ServerKind,
  SubscriptionPayload,
  UserPayload,
} from '../../src/wire';

interface Field<Optional extends boolean> {
  optional: Optional;
  /** Problems with a present value, as `field: reason` lines (empty when it fits). */
  check(value: unknown, at: string): string[];
}

/** One entry per field of T: optional exactly where T's field is. */
type Shape<T> = { [K in keyof T]-?: Field<object extends Pick<T, K> ? true : false> };

const typed =
  (type: 'string' | 'number' | 'object', valid: (value: unknown) => boolean = () => true) =>
  (value: unknown, at: string): string[] =>
    (type === 'object' ? value !== null && typeof value === 'object' && !Array.isArray(value) : typeof value === type) && valid(value)
      ? []
      : [`${at}: expected ${type}, got ${JSON.stringify(value)}`];

type Check = Field<boolean>['check'];
const required = (check: Check): Field<false> => ({ optional: false, check });
const optional = (check: Check): Field<true> => ({ optional: true, check });
const isoTime = (value: unknown) => typeof value === 'string' && !Number.isNaN(Date.parse(value));
const string = typed('string');
const time = typed('string', isoTime);
const object = typed('object');
const anything = () => [];
const oneOf =
  (...values: string[]) =>
  (value: unknown, at: string): string[] =>
    values.includes(value as string) ? [] : [`${at}: expected one of ${values.join(', ')}, got ${JSON.stringify(value)}`];
const headers = (value: unknown, at: string): string[] =>
  object(value, at).length ? object(value, at) : Object.entries(value as object).flatMap(([name, v]) => string(v, `${at}.${name}`));

/** Checks an object against a shape: no unknown fields, every required one present, each valid. */
function shaped<T>(shape: Shape<T>) {
  return (value: unknown, at: string): string[] => {
    const problems = object(value, at);
    if (problems.length) return problems;
    const record = value as Record<string, unknown>;
    const fields = shape as Record<string, Field<boolean>>;
    for (const name of Object.keys(record)) if (!(name in fields)) problems.push(`${at}.${name}: not in the wire contract`);
    for (const [name, field] of Object.entries(fields)) {
      const item = record[name];
      if (item === undefined) {
        if (!field.optional) problems.push(`${at}.${name}: required`);
      } else problems.push(...field.check(item, `${at}.${name}`));
    }
    return problems;
  };
}

const attribution: Shape<Attribution> = {
  user_id: optional(string),
  anonymous_id: optional(string),
  company_id: optional(string),
  session_token: optional(string),
};

const campaign: Shape<Campaign> = {
  utm_source: optional(string),
  utm_medium: optional(string),
  utm_campaign: optional(string),
  utm_term: optional(string),
  utm_content: optional(string),
  gclid: optional(string),
  fbclid: optional(string),
  msclkid: optional(string),
  referrer: optional(string),
  referring_domain: optional(string),
};

const user: Shape<UserPayload> = {
  ...attribution,
  metadata: optional(object),
  campaign: optional(shaped(campaign)),
  ip_address: optional(string),
  user_agent_string: optional(string),
  modified_time: optional(time),
};

const company: Shape<CompanyPayload> = {
  company_id: required(string),
  company_domain: optional(string),
  session_token: optional(string),
  metadata: optional(object),
  campaign: optional(shaped(campaign)),
  ip_address: optional(string),
  modified_time: optional(time),
};

const action: Shape<ActionPayload> = {
  ...attribution,
  action_name: required(string),
  transaction_id: required(string),
  request: required(
    shaped<ActionPayload['request']>({ time: required(time), uri: required(string), verb: required(string), user_agent_string: required(string) }),
  ),
  metadata: optional(object),
};

/** The server's actions: the app describes the request, so only its uri is required (wire.ts). */
const serverAction: Shape<ServerActionPayload> = {
  action_name: required(string),
  transaction_id: optional(string),
  user_id: optional(string),
  company_id: optional(string),
  session_token: optional(string),
  request: required(
    shaped<ServerActionPayload['request']>({
      uri: required(string),
      time: optional(time),
      verb: optional(string),
      ip_address: optional(string),
      user_agent_string: optional(string),
      headers: optional(headers),
    }),
  ),
  metadata: optional(object),
};

const subscription: Shape<SubscriptionPayload> = {
  subscription_id: required(string),
  company_id: required(string),
  current_period_start: optional(time),
  current_period_end: optional(time),
  status: optional(string),
  metadata: optional(object),
};

const transferEncoding = oneOf('base64', 'json');
const event: Shape<EventPayload> = {
  ...attribution,
  request: required(
    shaped<EventPayload['request']>({
      time: required(time),
      uri: required(string),
      verb: required(string),
      headers: required(headers),
      ip_address: optional(string),
      api_version: optional(string),
      body: optional(anything),
      transfer_encoding: optional(transferEncoding),
    }),
  ),
  response: required(
    shaped<EventPayload['response']>({
      time: required(time),
      status: required(typed('number')),
      headers: required(headers),
      body: optional(anything),
      transfer_encoding: optional(transferEncoding),
    }),
  ),
  transaction_id: required(string),
  tags: optional(string),
  metadata: optional(object),
  direction: optional(oneOf('Incoming', 'Outgoing')),
};

/** Which usertrail SDK sent a request: they send different actions, and only the server subscriptions. */
export type Sender = 'browser' | 'server';

const items: { browser: { [K in Kind]: Check }; server: { [K in ServerKind]: Check } } = {
  browser: { users: shaped(user), companies: shaped(company), actions: shaped(action), events: shaped(event) },
  server: { users: shaped(user), companies: shaped(company), actions: shaped(serverAction), events: shaped(event), subscriptions: shaped(subscription) },
};

/** The kind and whether it is the batch endpoint, for a path of the collection API; undefined for others. */
export function endpointOf(path: string): { kind: ServerKind; batch: boolean } | undefined {
  const match = /^\/v1\/(users|companies|actions|events|subscriptions)(\/batch)?$/.exec(path);
  return match ? { kind: match[1] as ServerKind, batch: match[2] !== undefined } : undefined;
}

/**
 * What is wrong with a request body for `path` by the wire contract of its sender: a batch endpoint
 * takes an array of items, a single one an item. Empty when it fits (and for paths outside the
 * collection API); an endpoint the sender has no business with is a problem.
 */
export function contractProblems(path: string, body: unknown, sender: Sender): string[] {
  const endpoint = endpointOf(path);
  if (!endpoint) return [];
  const checks: Partial<Record<ServerKind, Check>> = items[sender];
  const check = checks[endpoint.kind];
  if (!check) return [`${path}: the ${sender} SDK has no ${endpoint.kind}`];
  if (!endpoint.batch) return check(body, endpoint.kind);
  if (!Array.isArray(body)) return [`${path}: expected an array of ${endpoint.kind}`];
  return body.flatMap((item, index) => check(item, `${endpoint.kind}[${index}]`));
}

/** Every item in a request body: the array of a batch, or the one item. */
export const itemsOf = <K extends Kind>(body: unknown): BatchBody<K> => (Array.isArray(body) ? body : [body]) as BatchBody<K>;
