// --on-change: what a check's result means given the last result any process recorded for the
// same pool and check. Pure: the store (change-store.ts) makes the read-decide-write atomic.
import { fnv64 } from '../hash.js';
import type { CheckOutcome } from '../events.js';
import type { OnChange } from '../settings.js';

/** The last recorded result of a check; output and items are kept as digests only. */
export interface ChangeState {
  firing: boolean;
  output: string;
  items: string[];
}

export interface Observation {
  outcome: CheckOutcome;
  stdout: string;
  /** The triggers the check produced: its lines with --each-line, else one without an item. */
  items: (string | undefined)[];
}

export interface ChangeDecision {
  /** The state to record; undefined leaves the recorded one as it is (a check error). */
  next: ChangeState | undefined;
  /** Triggers that fire. */
  fire: (string | undefined)[];
  /** Triggers held back because nothing changed for them. */
  held: (string | undefined)[];
  /** Whether the result differs from the recorded one (a first result always does). */
  changed: boolean;
}

const digest = (text: string): string => fnv64(text) + fnv64(text, 1);

export function decideChange(mode: OnChange, eachLine: boolean, prev: ChangeState | undefined, obs: Observation): ChangeDecision {
  // A flaky check must not re-fire everything: errors and timeouts leave the state alone.
  if (obs.outcome === 'error' || obs.outcome === 'timeout') return { next: undefined, fire: [], held: [], changed: false };
  if (obs.outcome === 'idle') {
    return { next: { firing: false, output: '', items: [] }, fire: [], held: [], changed: prev === undefined || prev.firing };
  }
  const output = digest(obs.stdout);
  if (eachLine) {
    const before = new Set(prev?.firing ? prev.items : []);
    const now = obs.items.map((item) => digest(item ?? ''));
    const fire = obs.items.filter((_, k) => !before.has(now[k]));
    const held = obs.items.filter((_, k) => before.has(now[k]));
    const after = [...new Set(now)];
    const changed = !prev?.firing || fire.length > 0 || after.length !== before.size;
    return { next: { firing: true, output, items: after }, fire, held, changed };
  }
  const changed = !prev?.firing || prev.output !== output;
  const fires = mode === 'output' ? changed : !prev?.firing;
  return { next: { firing: true, output, items: [] }, fire: fires ? obs.items : [], held: fires ? [] : obs.items, changed };
}

export function sameState(a: ChangeState | undefined, b: ChangeState | undefined): boolean {
  if (!a || !b) return a === b;
  return a.firing === b.firing && a.output === b.output && a.items.length === b.items.length && a.items.every((x, k) => x === b.items[k]);
}
