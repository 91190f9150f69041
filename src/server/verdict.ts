/**
 * What one request's result means for its batch, and what the app and the console are told of it.
 * The rules are the browser SDK's (classify.ts).
 */
import { classifyResponse, type Verdict } from '../delivery/classify.js';
import type { Log } from './log.js';
import type { SendResult } from './transport.js';
import type { DeliveryOutcome } from './types.js';

export interface JudgeDeps {
  log: Log;
  /** The callback option, told of every request. */
  onOutcome?: (outcome: DeliveryOutcome) => void;
}

/** Tells the app how a request with `count` events went, and returns what to do with them. */
export function judgeResult({ log, onOutcome }: JudgeDeps, count: number, result: SendResult): Verdict {
  tellApp({ log, onOutcome }, count, result);
  // A process has no ad blocker: a collector that never answers is retried, never taken for blocked.
  const verdict = classifyResponse({ status: result.status, count, unanswered: 0 });
  if (verdict === 'drop') {
    // Not debug only: a wrong applicationId (401/403) drops every event of the app, silently unless
    // someone thought to turn debug on. Once per status, so it is not a flood.
    const hint = result.status === 401 || result.status === 403 ? ' (check applicationId)' : '';
    log.warnOnce(`rejected ${result.status}`, `the collector refused events with HTTP ${result.status}${hint}; they were dropped`);
  } else if (verdict === 'retry' && result.status === 0) {
    // A typo in the host or an untrusted certificate fails the same way for ever: say so once per kind
    // of failure (a code, never the address), not only in stats().
    const reason = result.error ?? 'no answer';
    log.warnOnce(`unreachable ${reason}`, `could not reach the collector (${reason}); events are kept and retried`);
  }
  return verdict;
}

/** The callback option gets the outcome; one that throws is ignored, and said so once. */
function tellApp({ log, onOutcome }: JudgeDeps, count: number, { status, error }: SendResult): void {
  if (!onOutcome) return;
  const outcome: DeliveryOutcome = { status, kind: 'events', count };
  if (error !== undefined) outcome.error = error;
  try {
    onOutcome(outcome);
  } catch {
    log.warnOnce('callback', 'the callback option threw; ignored');
  }
}
