/**
 * The Moesif collection API, described once: endpoints, headers and the JSON of each kind of item.
 * Field names are Moesif's (snake_case), so the same requests work against Moesif and our collector.
 */

// any, not unknown: an app's metadata is often typed by an interface, which TypeScript lets into
// Record<string, any> only (JSON serializability is checked when it is queued).
export type Metadata = Record<string, any>;

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

export interface UserPayload {
  user_id?: string;
  anonymous_id?: string;
  company_id?: string;
  session_token?: string;
  metadata?: Metadata;
  campaign?: Campaign;
}

export interface CompanyPayload {
  company_id: string;
  company_domain?: string;
  session_token?: string;
  metadata?: Metadata;
  campaign?: Campaign;
}

/** Who an item belongs to: the identified user, or else the anonymous visitor. */
export interface Attribution {
  user_id?: string;
  anonymous_id?: string;
  company_id?: string;
  session_token?: string;
}

export interface ActionPayload extends Attribution {
  action_name: string;
  transaction_id: string;
  request: { time: string; uri: string; verb: string; user_agent_string: string };
  metadata?: Metadata;
}

export type Headers = Record<string, string>;

/** An API call the page made, as Moesif's events endpoint takes it. */
export interface CapturedEvent extends Attribution {
  request: {
    time: string;
    uri: string;
    verb: string;
    headers: Headers;
    body?: unknown;
    transfer_encoding?: 'base64' | 'json';
    api_version?: string;
  };
  response: {
    time: string;
    status: number;
    headers: Headers;
    body?: unknown;
    transfer_encoding?: 'base64' | 'json';
  };
  transaction_id: string;
  tags?: string;
  metadata?: Metadata;
  direction?: 'Outgoing';
}

export type Kind = 'actions' | 'events' | 'users' | 'companies';

/*
 * Items of a kind go to `/v1/${kind}/batch` (the single-item endpoints are the same without `/batch`),
 * as JSON, with the application id header and X-Moesif-SDK: delivery writes both where it sends, since
 * a function here for either costs bytes that terser does not inline away.
 */

export const APPLICATION_ID_HEADER = 'X-Moesif-Application-Id';

export const SDK_HEADER_VALUE = 'usertrail/__USERTRAIL_VERSION__';

/** What moesif's `callback` option receives for each request to the collector. */
export interface DeliveryOutcome {
  /** HTTP status, or 0 when the request never got an answer. */
  status: number;
  kind: Kind;
  /** Items in the request. */
  count: number;
  /** A short reason when the request failed. */
  error?: string;
}
