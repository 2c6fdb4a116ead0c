// The check's part of a tick: run it with the tick in its environment, log its verdict, and turn
// a fired check into the triggers of this tick (one, or one per line with --each-line). With
// --on-change only what changed since the last check of any process on the pool fires.
import { startCheck } from './check.js';
import type { CheckResult, RunningCheck } from './check.js';
import type { Emit } from './events.js';
import type { OwnGroup } from './own-group.js';
import type { Settings } from './settings.js';
import type { ChangeDecision, Observation } from './change/change.js';
import { msg } from './messages.js';

// WARDEN_CHECK_OUTPUT is capped: an environment has a size limit of its own.
const MAX_CHECK_OUTPUT_ENV = 64 * 1024;

export interface Fired {
  /** One entry per trigger: the item with --each-line, else undefined. */
  items: (string | undefined)[];
  /** The check's stdout for WARDEN_CHECK_OUTPUT. */
  output: string;
}

export interface CheckStep {
  settings: Pick<Settings, 'check' | 'checkTimeoutMs' | 'killAfterMs' | 'eachLine'>;
  pool: string;
  emit: Emit;
  /** The running check, for shutdown to reach it; undefined once it has ended. */
  running: (check: RunningCheck | undefined) => void;
  /** Processes the check left behind. */
  leftover: (group: OwnGroup) => void;
  /** With --on-change: judge the result against the last one recorded, and record it. */
  change?: (obs: Observation) => Promise<ChangeDecision>;
}

/**
 * Run the tick's check; the triggers when it fired, undefined otherwise (a check error counts as
 * such). `tickAt`: the tick's scheduled time, when the fleet elected this process to check it.
 */
export async function checkStep(step: CheckStep, tick: number, tickAt?: string): Promise<{ fired?: Fired; failed: boolean }> {
  const { settings } = step;
  if (!settings.check) return { fired: { items: [undefined], output: '' }, failed: false };
  const check = startCheck({
    command: settings.check,
    env: { ...process.env, WARDEN_TICK: String(tick), WARDEN_POOL: step.pool },
    timeoutMs: settings.checkTimeoutMs,
    killAfterMs: settings.killAfterMs,
  });
  step.running(check);
  let result: CheckResult;
  try {
    result = await check.result;
  } finally {
    step.running(undefined);
  }
  if (result.leftover) step.leftover(result.leftover);
  let items: (string | undefined)[] = result.outcome !== 'fired' ? [] : settings.eachLine ? lines(result.stdout) : [undefined];
  let failed = result.outcome === 'error' || result.outcome === 'timeout';
  let change: ChangeDecision | undefined;
  if (step.change && !failed) {
    try {
      change = await step.change({ outcome: result.outcome, stdout: result.stdout, items });
      items = change.fire;
    } catch (err) {
      // Without the last result nothing can be said to have changed: fire nothing.
      failed = true;
      items = [];
      step.emit({ event: 'error', message: msg.changeFailed(err) });
    }
  }
  step.emit({
    event: 'check',
    tick,
    outcome: result.outcome,
    exitCode: result.exitCode,
    signal: result.signal,
    durationMs: result.durationMs,
    triggers: items.length,
    ...(failed && result.stderr ? { stderr: result.stderr } : {}),
    ...(change ? { changed: change.changed } : {}),
    ...(change && settings.eachLine ? { items: change.fire.filter((i): i is string => i !== undefined) } : {}),
    ...(tickAt ? { tickAt } : {}),
  });
  // Held back: one skip per item with --each-line, else one for the tick.
  const held = change && result.outcome === 'fired' ? (settings.eachLine ? change.held : change.held.slice(0, 1)) : [];
  for (const item of held) step.emit({ event: 'skip', reason: 'unchanged', tick, pool: step.pool, ...(item !== undefined ? { item } : {}) });
  if (result.outcome !== 'fired' || !items.length) return { failed };
  return { fired: { items, output: truncateUtf8(result.stdout, MAX_CHECK_OUTPUT_ENV) }, failed };
}

/** The non-empty lines of a check's output, without their line ends. */
export function lines(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '');
}

/** At most `maxBytes` of UTF-8, never ending in half a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  return Buffer.from(text).subarray(0, maxBytes).toString('utf8').replace(/\uFFFD$/, '');
}
