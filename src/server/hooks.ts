/**
 * Asking the app's hooks about one call (skip, identifyUser, identifyCompany, getSessionToken,
 * getTags, getMetadata, getApiVersion, maskContent), for incoming calls, route handlers and outgoing
 * calls alike: each hook's failure or delay is reported once and never stops the call being logged.
 */
import { errorName, type Log } from './log.js';
import { defaultIdentifyUser, type Hook, type ResolvedOptions } from './options.js';
import type { Metadata, MoesifEvent } from './types.js';

/**
 * Strings for the id fields. Numbers and BigInts (database ids) are written out, and so is an id
 * object by its own toString(), as moesif-nodejs takes it: `req.user._id` is a MongoDB ObjectId,
 * and was logged without a user. Anything else (a plain object, an array) says nothing and is ignored.
 * Profile updates read their ids through it too.
 */
export function idString(value: unknown): string | undefined {
  if (typeof value === 'string') return value !== '' ? value : undefined;
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') return String(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  try {
    if (value.toString === Object.prototype.toString) return undefined;
    const text = String(value);
    return text !== '' ? text : undefined;
  } catch {
    return undefined; // a toString() that throws
  }
}

/** The hook's value, or `timedOut` when it is still pending at `deadline`. A synchronous value always wins. */
async function within<T>(value: T | Promise<T>, deadline: number): Promise<{ timedOut: false; value: T } | { timedOut: true }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<{ timedOut: true }>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), Math.max(0, deadline - Date.now()));
    timer.unref?.();
  });
  try {
    return await Promise.race([Promise.resolve(value).then((v) => ({ timedOut: false as const, value: v })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const isThenable = (value: unknown): value is Promise<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';

export type HookResult = { ok: boolean; value: unknown };

/** One call as its hooks see it, and the deadline they share (see hookCaller). */
export interface HookedCall<Req, Res> {
  /** The request and response each hook is given: Node's, or outgoing.ts's mocked pair. */
  req: Req;
  res: Res;
  log: Log;
  /** When the call's hooks stop being waited for (ms since epoch): `hookTimeout` after the call ended. */
  deadline: number;
  /** The hookTimeout option, named in the warning for a hook past the deadline. */
  hookTimeout: number;
}

/**
 * A caller of the user's hooks for one call: a throw, a rejection or a hook past the deadline is
 * reported once and becomes `undefined`. Most hooks answer synchronously, and then so does the
 * caller: no promise, timer or race for them (those were a good part of the middleware's CPU time
 * under load, issue 18).
 */
export function hookCaller<Req, Res>({ req, res, log, deadline, hookTimeout }: HookedCall<Req, Res>) {
  return (name: string, hook: ((req: Req, res: Res) => unknown) | undefined): HookResult | Promise<HookResult> => {
    if (!hook) return { ok: true, value: undefined };
    const failed = (error: unknown): HookResult => {
      log.warnOnce(name, `${name} threw (${errorName(error)}); using the default`);
      return { ok: false, value: undefined };
    };
    try {
      const returned = hook(req, res);
      if (!isThenable(returned)) return { ok: true, value: returned };
      return within(returned, deadline).then((result): HookResult => {
        if (!result.timedOut) return { ok: true, value: result.value };
        log.warnOnce(name, `${name} did not settle within ${hookTimeout / 1000} s; using the default`);
        return { ok: false, value: undefined };
      }, failed);
    } catch (error) {
      return failed(error);
    }
  };
}

/** What the app's hooks say of one call (incoming, or outgoing with mocked request and response). */
export interface HookAnswers {
  userId: string | undefined;
  companyId: string | undefined;
  sessionToken: unknown;
  tags: unknown;
  metadata: unknown;
  apiVersion: unknown;
}

/** Calls one hook of a call (see hookCaller). */
export type CallHook = (name: string, hook: Hook | undefined) => HookResult | Promise<HookResult>;

/**
 * Asks the app's hooks about one call, one after the other as moesif-nodejs does: undefined when
 * `skip` leaves it out. A failed identifyUser (it threw, or took too long) falls back to the default.
 */
export async function askHooks(call: CallHook, options: ResolvedOptions): Promise<HookAnswers | undefined> {
  if ((await call('skip', options.skip)).value) return undefined;
  const user = await call('identifyUser', options.identifyUser);
  return {
    userId: idString(user.ok ? user.value : (await call('identifyUser', defaultIdentifyUser)).value),
    companyId: idString((await call('identifyCompany', options.identifyCompany)).value),
    sessionToken: (await call('getSessionToken', options.getSessionToken)).value,
    tags: (await call('getTags', options.getTags)).value,
    metadata: (await call('getMetadata', options.getMetadata)).value,
    apiVersion: (await call('getApiVersion', options.getApiVersion)).value,
  };
}

/**
 * Puts the hooks' answers into the event, each only when it has a value of the right type, and names
 * the bodies logged only in part (`truncated`, as the browser SDK names them: a metadata field, since
 * Moesif's event has no other place for it), under the app's own metadata.
 */
export function applyAnswers(event: MoesifEvent, answers: HookAnswers, truncated: ReadonlyArray<'request' | 'response'>): void {
  const { userId, companyId, sessionToken, tags, metadata, apiVersion } = answers;
  if (typeof apiVersion === 'string' && apiVersion) event.request.api_version = apiVersion;
  if (userId !== undefined) event.user_id = userId;
  if (companyId !== undefined) event.company_id = companyId;
  if (typeof sessionToken === 'string' && sessionToken) event.session_token = sessionToken;
  if (typeof tags === 'string' && tags) event.tags = tags;
  const appMetadata = metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata) ? (metadata as Metadata) : undefined;
  if (truncated.length > 0) event.metadata = { truncated: [...truncated], ...appMetadata };
  else if (appMetadata) event.metadata = appMetadata;
}

/**
 * The event as the app's maskContent returns it, or undefined to drop it (maskContent threw or did
 * not settle by `deadline`). Incoming and outgoing calls alike.
 */
export async function maskEvent(event: MoesifEvent, options: ResolvedOptions, log: Log, deadline: number): Promise<MoesifEvent | undefined> {
  if (!options.maskContent) return event;
  try {
    const returned: unknown = options.maskContent(event);
    const result = isThenable(returned) ? await within<unknown>(returned, deadline) : { timedOut: false as const, value: returned };
    if (result.timedOut) {
      log.warnOnce('maskContent', `maskContent did not settle within ${options.hookTimeout / 1000} s; the event was dropped`);
      return undefined;
    }
    const masked = result.value;
    return masked !== null && typeof masked === 'object' ? (masked as MoesifEvent) : event;
  } catch (error) {
    // Unlike the other hooks, there is no safe default here: sending the unmasked event would leak
    // exactly what the app asked to hide. The event is dropped instead.
    log.warnOnce('maskContent', `maskContent threw (${errorName(error)}); the event was dropped`);
    return undefined;
  }
}
