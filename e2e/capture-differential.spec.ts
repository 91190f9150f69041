import type { Page } from '@playwright/test';
import { expect, test } from './support/fixtures';
import { startFuzzApi } from './support/fuzz-api';
import { generate, runProgram, type CallSeen, type ProgramResult, type Step } from './support/fuzz-program';

/**
 * Differential testing of capture (README "What capture does to your calls"): seeded random programs
 * of fetch and XMLHttpRequest usage (support/fuzz-program.ts) run in a page without usertrail and in
 * one with its UMD build, init() and start() (support/fuzz-api.ts serves both, and an API whose answers
 * depend only on the request). What the app observed must be the same, the collector must get one
 * event for each http(s) call that got an answer (and at most one, failed, for a call that did not),
 * and the SDK must say nothing on the console.
 *
 * FUZZ_RUNS=n runs n programs (seeds FUZZ_BASE + 1 ... + n; FUZZ_BASE is 0 by default, so a run is
 * repeatable); FUZZ_SEED=s runs only the program of seed s, as a failure prints it. For hunting:
 * FUZZ_TRACE=1 prints each trace, FUZZ_TIMES=1 each program's time, and FUZZ_AA=1 runs both without
 * the SDK, which tells a difference the network's timing makes from one capture makes.
 *
 * The programs avoid what the network's timing decides (see fuzz-program.ts: an abort once the headers
 * came is given a body that never ends, an XMLHttpRequest timeout an answer that never comes, no abort
 * from a progress event); `normalize` below takes out the rest.
 */

const runs = Number(process.env.FUZZ_RUNS ?? 40);
const base = Number(process.env.FUZZ_BASE ?? 0);
/**
 * Programs that crash Debian's Chromium renderer without the SDK too (a browser bug, not capture's):
 * 829, whose first step alone (an XMLHttpRequest PUT of FormData to a blob: URL, reopened from its
 * error listener) crashes the page; a smaller hand-written case did not.
 */
const CRASHES_CHROMIUM = new Set([829]);
const seeds = process.env.FUZZ_SEED
  ? [Number(process.env.FUZZ_SEED)]
  : Array.from({ length: runs }, (_, i) => base + i + 1).filter((seed) => !CRASHES_CHROMIUM.has(seed));

/**
 * What may legitimately differ between two runs of one program is the timing of the network: how
 * many parts a body arrives in decides how many `progress` events and readystatechange events at
 * readyState 3 fire (for the request's upload too), and whether the last progress event comes before
 * or after readyState became 4. A run of such entries is replaced by the set of
 * distinct entries in it; every other entry, and the order of all, must match.
 */
const STREAMING = /^(\w+:)?(progress|readystatechange 3) |^upload progress /;
/**
 * Chromium words json()'s error for an empty body by timing: "Failed to execute 'json' on 'Response': "
 * comes first when the body had ended by the time json() was called (its read then fails within the
 * call), not when it ends later; the same fetch without the SDK gives either, depending on how soon the
 * app calls json(). The wording is left out; the error's class, name and message stay.
 */
const JSON_TIMING = /Failed to execute 'json' on 'Response': (?=Unexpected end of JSON input)/;
function normalize(trace: string[]): string[] {
  const out: string[] = [];
  let run: Set<string> | undefined;
  const flush = () => {
    if (run) out.push(...[...run].sort());
    run = undefined;
  };
  for (const raw of trace) {
    // The last progress event may come before or after the readyState became 4.
    const entry = raw.replace(JSON_TIMING, '').replace(/^(\w+:)?progress \d/, '$1progress _');
    if (STREAMING.test(entry)) (run ??= new Set()).add(entry);
    else {
      flush();
      out.push(entry);
    }
  }
  flush();
  return out;
}

/**
 * Console errors and warnings of a page. The browser's own "Failed to load resource" lines are left
 * out: whether a call the app aborts at once is logged depends on how far the network got first.
 */
function consoleOf(page: Page): string[] {
  const messages: string[] = [];
  page.on('console', (message) => {
    if ((message.type() === 'error' || message.type() === 'warning') && !message.text().startsWith('Failed to load resource:')) messages.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => messages.push(`pageerror: ${error.message}`));
  return messages;
}

type CapturedEvent = { transaction_id: string; request: { uri: string }; response: { status: number }; metadata?: { error?: string } };

test(`${seeds.length} random programs of fetch and XMLHttpRequest see the same with capture as without, and each answered call is recorded once`, async ({ page, browser, collector }) => {
  test.setTimeout(Math.max(60_000, seeds.length * 4_000));
  const api = await startFuzzApi({ collectorUrl: collector.url });
  const plainContext = await browser.newContext();
  const plainPage = await plainContext.newPage();
  const plainConsole = consoleOf(plainPage);
  const sdkConsole = consoleOf(page);
  const allCalls: CallSeen[] = [];
  const eventsById = () => {
    const byId = new Map<string, CapturedEvent[]>();
    const seen = new Set<string>();
    for (const event of collector.items('events') as unknown as CapturedEvent[]) {
      // A request under way when its page closed is sent again by the next page, with the same
      // transaction_id, by which collectors drop the repeat (README, "Delivery"): one event.
      if (seen.has(event.transaction_id)) continue;
      seen.add(event.transaction_id);
      const id = /[?&]id=([^&]*)/.exec(event.request.uri)?.[1] ?? `(none: ${event.request.uri})`;
      byId.set(id, [...(byId.get(id) ?? []), event]);
    }
    return byId;
  };
  try {
    for (const seed of seeds) {
      const steps: Step[] = generate(seed);
      const replay = `seed ${seed}: replay with FUZZ_SEED=${seed} npx playwright test e2e/capture-differential.spec.ts --workers=1\nprogram: ${JSON.stringify(steps)}`;
      const runIn = async (target: Page, path: string): Promise<ProgramResult> => {
        if (process.env.FUZZ_TIMES) console.log(`seed ${seed}: ${path}`);
        await target.goto(api.url + path, { timeout: 10_000 });
        return target.evaluate(runProgram, { steps, prefix: String(seed) });
      };
      plainConsole.length = 0;
      sdkConsole.length = 0;
      const started = Date.now();
      const without = await runIn(plainPage, '/plain');
      const ranAt = Date.now();
      // FUZZ_AA=1: both runs without the SDK, to tell the timing of the network from capture's doing.
      const withCapture = await runIn(page, process.env.FUZZ_AA ? '/plain' : '/sdk');
      expect(normalize(withCapture.trace), `the app saw something else with capture; ${replay}`).toEqual(normalize(without.trace));
      expect(without.trace, `a step did not finish in 5 s (a gap of the test's); ${replay}`).not.toContain('stuck');
      expect(withCapture.calls, `the calls ended otherwise; ${replay}`).toEqual(without.calls);
      expect(sdkConsole.sort(), `the console differs; ${replay}`).toEqual(plainConsole.sort());
      // Each answered call is recorded, before the next program's page replaces this one.
      const answered = process.env.FUZZ_AA ? [] : withCapture.calls.filter((call) => call.outcome === 'response').map((call) => call.id);
      await expect.poll(() => answered.filter((id) => !eventsById().has(id)), { message: `events of the answered calls; ${replay}`, intervals: [50] }).toEqual([]);
      if (process.env.FUZZ_TRACE) console.log(without.trace.join('\n'));
      if (process.env.FUZZ_TIMES) console.log(`seed ${seed}: ${steps.length} steps, ${ranAt - started} ms a run, ${Date.now() - ranAt} ms with capture and its events${without.trace.includes('stuck') ? ', stuck' : ''}`);
      for (const message of sdkConsole) expect(message, replay).not.toContain('[usertrail]');
      allCalls.push(...withCapture.calls);
    }
    await collector.settled(page);
    const byId = eventsById();
    const seen = new Map(allCalls.map((call) => [call.id, call]));
    for (const [id, events] of byId) {
      const call = seen.get(id);
      expect(call, `an event for no call of the app's: ${events[0].request.uri}`).toBeDefined();
      const seed = id.split('.')[0];
      if (call!.outcome === 'response') expect(events.map((e) => e.response.status), `the events of call ${id} (seed ${seed})`).toEqual([call!.status]);
      else expect(events.map((e) => [e.response.status, typeof e.metadata?.error]), `the events of failed call ${id} (seed ${seed})`).toEqual([[0, 'string']]);
    }
  } finally {
    await plainContext.close();
    await api.close();
  }
});
