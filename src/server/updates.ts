/**
 * The methods an app calls itself, as moesif-nodejs has them: profiles (updateUser, updateCompany),
 * subscriptions and actions, each one immediate POST in moesif-nodejs's wire format; the governance
 * rules usertrail/server does not have; and how the app's callbacks are called.
 */
import { idString } from './hooks.js';
import { errorName, type Log } from './log.js';
import type { Send } from './transport.js';
import type {
  ActionModel,
  CampaignModel,
  CompanyModel,
  DeliveryOutcome,
  GovernanceRule,
  SubscriptionModel,
  UserModel,
} from './types.js';
import type { BatchPath, ServerKind, SinglePath } from '../wire.js';

type Callback = (error: Error | null, outcome: DeliveryOutcome) => void;

/** moesif-nodejs takes camelCase profiles; the wire is snake_case. Unknown keys pass through. */
function snakeKey(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

function toWireProfile(model: UserModel | CompanyModel): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(model)) {
    // A field without a value (a database's empty column) is left out, as moesif-nodejs leaves it out.
    if (value === undefined || value === null) continue;
    if (key === 'metadata') out.metadata = value; // the app's own keys: never renamed
    else if (key === 'campaign' && typeof value === 'object') {
      const campaign: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as CampaignModel)) campaign[snakeKey(k)] = v;
      out.campaign = campaign;
    } else if (value instanceof Date) out[snakeKey(key)] = value.toISOString();
    else {
      const wireKey = snakeKey(key);
      // An ObjectId or a BigInt id as its string, as for calls; a BigInt would not even serialize.
      out[wireKey] = wireKey === 'user_id' || wireKey === 'company_id' ? (idString(value) ?? value) : value;
    }
  }
  return out;
}

/** moesif-nodejs's first callback argument: null when the collector took the request, else an Error. */
const errorOf = (outcome: DeliveryOutcome): Error | null =>
  outcome.error === undefined && outcome.status >= 200 && outcome.status < 300 ? null : new Error(outcome.error ?? `HTTP ${outcome.status}`);

/**
 * Call one of the app's callbacks with an outcome. What it throws is its own business, and so is
 * the promise an async callback returns: rejected and left alone, it would be an unhandled
 * rejection, which ends a Node process by default.
 */
export function notify(cb: Callback, outcome: DeliveryOutcome, onError: () => void = () => {}): void {
  try {
    const result: unknown = cb(errorOf(outcome), outcome);
    if (result instanceof Promise) result.catch(onError);
  } catch {
    onError();
  }
}

function settle(outcome: DeliveryOutcome, cb: Callback | undefined): DeliveryOutcome {
  if (cb) notify(cb, outcome);
  return outcome;
}

/** Ids sent as strings: an ObjectId or a BigInt id becomes its string. */
const ITEM_ID_KEYS = new Set(['user_id', 'company_id', 'subscription_id']);

/**
 * Subscriptions and actions as moesif-nodejs sends them: keys in snake_case (an action's request too,
 * where moesif-nodejs renames ipAddress and userAgentString), Dates as ISO strings, ids as strings, and
 * fields without a value (undefined or null) left out, as moesifapi leaves them out. Unlike
 * moesif-nodejs, snake_case keys are taken too and unknown keys pass through, as for profiles.
 */
function toWireItem(model: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(model)) {
    if (value === undefined || value === null) continue;
    const wireKey = snakeKey(key);
    if (key === 'metadata') out.metadata = value; // the app's own keys: never renamed
    else if (key === 'request' && typeof value === 'object') out.request = toWireItem(value);
    else if (value instanceof Date) out[wireKey] = value.toISOString();
    else out[wireKey] = ITEM_ID_KEYS.has(wireKey) ? (idString(value) ?? value) : value;
  }
  return out;
}

/** How one kind of item goes on the wire, and what it must have (undefined when it has it). */
interface WireRules {
  kind: ServerKind;
  toWire(item: object): Record<string, unknown>;
  missing(wire: Record<string, unknown>): string | undefined;
}

/** An empty string is no id, as moesif-nodejs refuses it (`if (!userModel.userId)`). */
const isId = (value: unknown) => (typeof value === 'string' && value !== '') || typeof value === 'number';
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object';

const profileRules = (kind: 'users' | 'companies', idKey: 'user_id' | 'company_id'): WireRules => ({
  kind,
  toWire: toWireProfile,
  missing: (wire) => (isId(wire[idKey]) ? undefined : `${idKey} is required`),
});

const RULES = {
  users: profileRules('users', 'user_id'),
  companies: profileRules('companies', 'company_id'),
  subscriptions: {
    kind: 'subscriptions',
    toWire: toWireItem,
    // Moesif's API requires both; moesif-nodejs would send the subscription without them and be refused.
    missing: (wire) => (!isId(wire.subscription_id) ? 'subscription_id is required' : !isId(wire.company_id) ? 'company_id is required' : undefined),
  },
  actions: {
    kind: 'actions',
    toWire: toWireItem,
    // What moesif-nodejs checks before it sends an action.
    missing: (wire) =>
      typeof wire.action_name !== 'string' || wire.action_name === ''
        ? 'action_name is required'
        : !isObject(wire.request) || typeof wire.request.uri !== 'string' || wire.request.uri === ''
          ? 'request.uri is required'
          : undefined,
  },
} satisfies Record<string, WireRules>;

/**
 * The updaters of profiles, subscriptions and actions: one immediate POST each, no queue (they are
 * rare and the app awaits them). Bad input is an outcome with an error, never a throw or a rejection.
 */
export function createUpdaters(send: Send | undefined) {
  async function post(path: SinglePath | BatchPath, items: unknown[], rules: WireRules, cb: Callback | undefined) {
    const { kind } = rules;
    let wire: Array<Record<string, unknown>>;
    try {
      // A hole in a batch (null) has no id; a getter of the app's object may throw: values, not rejections.
      wire = items.map((item) => (isObject(item) ? rules.toWire(item) : {}));
    } catch (error) {
      return settle({ status: 0, kind, count: items.length, error: errorName(error) }, cb);
    }
    if (!send) return settle({ status: 0, kind, count: wire.length, error: 'middleware disabled (see the console error)' }, cb);
    const missing = wire.length === 0 ? rules.missing({}) : wire.map(rules.missing).find((problem) => problem !== undefined);
    if (missing !== undefined) return settle({ status: 0, kind, count: wire.length, error: missing }, cb);
    let json: string;
    try {
      json = JSON.stringify(wire.length === 1 && !path.endsWith('/batch') ? wire[0] : wire);
    } catch (error) {
      return settle({ status: 0, kind, count: wire.length, error: errorName(error) }, cb);
    }
    const result = await send(path, json);
    const outcome: DeliveryOutcome = { status: result.status, kind, count: wire.length };
    if (result.error !== undefined) outcome.error = result.error;
    else if (result.status < 200 || result.status >= 300) outcome.error = `HTTP ${result.status}`;
    return settle(outcome, cb);
  }
  const list = (items: unknown): unknown[] => (Array.isArray(items) ? items : []);
  return {
    updateUser: (user: UserModel, cb?: Callback) => post('/v1/users', [user ?? {}], RULES.users, cb),
    updateUsersBatch: (users: UserModel[], cb?: Callback) => post('/v1/users/batch', list(users), RULES.users, cb),
    updateCompany: (company: CompanyModel, cb?: Callback) => post('/v1/companies', [company ?? {}], RULES.companies, cb),
    updateCompaniesBatch: (companies: CompanyModel[], cb?: Callback) => post('/v1/companies/batch', list(companies), RULES.companies, cb),
    updateSubscription: (subscription: SubscriptionModel, cb?: Callback) =>
      post('/v1/subscriptions', [subscription ?? {}], RULES.subscriptions, cb),
    updateSubscriptionsBatch: (subscriptions: SubscriptionModel[], cb?: Callback) =>
      post('/v1/subscriptions/batch', list(subscriptions), RULES.subscriptions, cb),
    sendAction: (action: ActionModel, cb?: Callback) => post('/v1/actions', [action ?? {}], RULES.actions, cb),
    sendActionsBatch: (actions: ActionModel[], cb?: Callback) => post('/v1/actions/batch', list(actions), RULES.actions, cb),
  };
}

/**
 * moesif-nodejs's governance rules (blocking or changing a response by user or company) come from
 * Moesif's config; usertrail/server has none. Code written for moesif-nodejs asks for the rules that
 * apply to a user and acts on the list, so it gets what moesif-nodejs returns for an application
 * without rules: an empty list (a new one each time), with one warning that rules are not supported.
 */
export function governanceRules(log: Log) {
  const none = (): GovernanceRule[] => {
    log.warnOnce('governance', 'governance rules are not supported by usertrail/server: getApplicableRulesFor*Id() returns no rules');
    return [];
  };
  return { getApplicableRulesForUserId: (_userId: unknown) => none(), getApplicableRulesForCompanyId: (_companyId: unknown) => none() };
}
