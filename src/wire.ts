/**
 * The Moesif collection API, described once: endpoints, headers and the JSON of each kind of item.
 * Field names are Moesif's (snake_case), so the same requests work against Moesif and our collector.
 * The browser SDK, usertrail/server, the demo collector and the tests all import these types; the
 * browser bundle pays nothing for the types (they are erased) and little for the constants below.
 * Fields left undefined are absent from the JSON sent: Moesif takes a missing field, never a null one.
 */

/**
 * The app's own data on an item. On the wire any JSON object; a public method that takes metadata
 * accepts any `object` (an app's interface-typed profile has no index signature, so TypeScript would
 * not let it into this type), and checks that it is a plain, serializable object when it is queued.
 */
export type Metadata = Record<string, unknown>;

/** First-touch marketing attribution, sent with users and companies. */
export interface Campaign {
  utm_source?: string;
  utm_medium?: string;
  utm_campaign?: string;
  utm_term?: string;
  utm_content?: string;
  gclid?: string;
  fbclid?: string;
  msclkid?: string;
  referrer?: string;
  referring_domain?: string;
}

/** Who an item belongs to: the identified user, or else the anonymous visitor. */
export interface Attribution {
  user_id?: string;
  anonymous_id?: string;
  company_id?: string;
  session_token?: string;
}

/** `/v1/users`: a user profile. The browser always sends user_id or anonymous_id. */
export interface UserPayload extends Attribution {
  metadata?: Metadata;
  campaign?: Campaign;
  /** usertrail/server sends these from its UserModel (camelCase in, snake_case out). */
  ip_address?: string;
  user_agent_string?: string;
  modified_time?: string;
}

/** `/v1/companies`: a company profile. */
export interface CompanyPayload {
  company_id: string;
  company_domain?: string;
  session_token?: string;
  metadata?: Metadata;
  campaign?: Campaign;
  ip_address?: string;
  modified_time?: string;
}

/** `/v1/actions`: something the user did (a page view, a click the app tracks). */
export interface ActionPayload extends Attribution {
  action_name: string;
  transaction_id: string;
  /** The page it happened on, recorded as a GET of it (moesif's form): when, its address, the browser's User-Agent. */
  request: { time: string; uri: string; verb: string; user_agent_string: string };
  metadata?: Metadata;
}

/**
 * `/v1/actions` as usertrail/server sends them (moesif-nodejs's `sendAction`): the app describes the
 * request itself, so only `action_name` and `request.uri` are required (what moesif-nodejs checks);
 * there is no browser to give a verb or user agent, and no transaction id unless the app gives one.
 */
export interface ServerActionPayload {
  action_name: string;
  transaction_id?: string;
  user_id?: string;
  company_id?: string;
  session_token?: string;
  request: { uri: string; time?: string; verb?: string; ip_address?: string; user_agent_string?: string; headers?: Headers };
  metadata?: Metadata;
}

/**
 * `/v1/subscriptions`: a company's billing subscription (moesif-nodejs's `updateSubscription`). Sent by
 * usertrail/server only; the demo collector does not store subscriptions (it answers 404).
 */
export interface SubscriptionPayload {
  subscription_id: string;
  company_id: string;
  current_period_start?: string;
  current_period_end?: string;
  /** Moesif's values: active, cancelled, paused, trialing, pending, draft, future. */
  status?: string;
  metadata?: Metadata;
}

/**
 * Header names lower-cased or as sent, one value each (repeats joined by ", "). A header that carries
 * a credential has the value MASK.
 */
export type Headers = Record<string, string>;

/** What a masked value is sent as: a credential header's, and a secret body field's from usertrail/server. */
export const MASK = '*****';

/**
 * How `body` is to be read. Without it, `body` is the JSON value itself when the text was JSON and
 * whole, else the text (a cut body stays text, never half-parsed). `base64`: bytes that are not UTF-8
 * text, base64-encoded. `json` is Moesif's name for a parsed JSON value; usertrail sends none (a
 * parsed body goes without transfer_encoding), and the demo collector accepts it.
 */
export type TransferEncoding = 'base64' | 'json';

/**
 * `/v1/events`: one API call. The browser sends the calls a page made (`Outgoing`), usertrail/server
 * the calls a server answered (`Incoming`, with the client's address).
 */
export interface EventPayload extends Attribution {
  request: {
    time: string;
    uri: string;
    verb: string;
    headers: Headers;
    ip_address?: string;
    api_version?: string;
    body?: unknown;
    transfer_encoding?: TransferEncoding;
  };
  response: {
    time: string;
    status: number;
    headers: Headers;
    body?: unknown;
    transfer_encoding?: TransferEncoding;
  };
  transaction_id: string;
  /** Comma-separated, as Moesif takes it. */
  tags?: string;
  metadata?: Metadata;
  direction?: 'Incoming' | 'Outgoing';
}

/**
 * An API call the page made, as the browser SDK sends it. A call that failed or was aborted has
 * `response.status` 0 and `metadata.error` (the browser's error, or the failure event's type:
 * 'abort', 'error', 'timeout'). A body kept only in part (over `maxBodyBytes`, still streaming after
 * capture's wait, or still being read when the page was left) or left out for its Content-Length is
 * named in `metadata.truncated` (`['request']`, `['response']` or both). The app's `getMetadata` adds
 * its fields over these.
 */
export interface CapturedEvent extends EventPayload {
  direction?: 'Outgoing';
}

/**
 * The item each endpoint takes, by kind: `/v1/${kind}` takes one, `/v1/${kind}/batch` an array. These
 * are the browser SDK's items and the kinds the demo collector stores; the server's are ServerItems.
 */
export interface Items {
  actions: ActionPayload;
  events: EventPayload;
  users: UserPayload;
  companies: CompanyPayload;
}

export type Kind = keyof Items;

/**
 * What usertrail/server sends to each endpoint: actions as the app describes them, and one kind more,
 * subscriptions, which neither the browser nor the demo collector knows.
 */
export interface ServerItems extends Omit<Items, 'actions'> {
  actions: ServerActionPayload;
  subscriptions: SubscriptionPayload;
}

export type ServerKind = keyof ServerItems;

/** The body of a POST to `/v1/${kind}/batch`. */
export type BatchBody<K extends Kind> = Array<Items[K]>;

export type BatchPath = `/v1/${ServerKind}/batch`;
export type SinglePath = `/v1/${ServerKind}`;

/*
 * Items of a kind go to `/v1/${kind}/batch` (the single-item endpoints are the same without `/batch`),
 * as JSON, with the application id header and X-Moesif-SDK: each transport writes both where it sends
 * (src/delivery/transport.ts, src/server/transport.ts). A beacon cannot carry headers, so the
 * application id goes in the query string under the same name.
 */

export const APPLICATION_ID_HEADER = 'X-Moesif-Application-Id';

/** Names the sending library and its version: `usertrail/1.2.3`, `usertrail-node/1.2.3`. */
export const SDK_HEADER = 'X-Moesif-SDK';

export const SDK_HEADER_VALUE = 'usertrail/__USERTRAIL_VERSION__';

/**
 * What a delivery callback receives for each request to the collector: moesif's `callback` option in
 * the browser, usertrail/server's `callback` option and profile updaters. Failures are values, never
 * throws: a collector that is down must not become an exception in the app that reports to it.
 */
export interface DeliveryOutcome {
  /** HTTP status, or 0 when the request never got an answer (refused, reset, timed out). */
  status: number;
  kind: Kind;
  /** Items in the request. */
  count: number;
  /** A short reason when the request failed (never payload data). */
  error?: string;
}

/** usertrail/server's outcome (its own `DeliveryOutcome`): the same, with subscriptions among the kinds. */
export interface ServerDeliveryOutcome extends Omit<DeliveryOutcome, 'kind'> {
  kind: ServerKind;
}
