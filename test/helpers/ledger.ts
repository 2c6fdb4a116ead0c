// The ledger: an append-only file where jobs write "start|end|<word> PID NANOSECONDS" lines.
import fs from 'node:fs';

/** Why: one ledger line, parsed ("start 1234 1700000000000000000"). */
export interface LedgerEntry {
  kind: string;
  pid: number;
  ns: bigint;
}

/** Why: jobs are the only witnesses of their own lifetime; their lines are the ground truth for overlap. */
export function readLedger(path: string): LedgerEntry[] {
  let text = '';
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: LedgerEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\w+) (\d+) (\d+)$/.exec(line.trim());
    if (m) out.push({ kind: m[1]!, pid: Number(m[2]), ns: BigInt(m[3]!) });
  }
  return out;
}

/** Why: counts lines of one kind (e.g. "int" when jobs trap SIGINT), per pid. */
export function countByPid(entries: LedgerEntry[], kind: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of entries) if (e.kind === kind) out.set(e.pid, (out.get(e.pid) ?? 0) + 1);
  return out;
}

/** Why: the answer to "how many jobs were live at once", with what it was computed from. */
export interface Overlap {
  max: number;
  starts: number;
  ends: number;
  /** Starts without an end (jobs that were SIGKILLed or are still running). */
  unfinished: number[];
}

/**
 * Why: the maximum number of jobs live at once according to the jobs themselves.
 * Unfinished jobs are ignored (their end is unknown; the sampler covers them) unless
 * `unfinishedRunForever` is set, in which case they count as live until the end.
 */
export function maxConcurrent(entries: LedgerEntry[], unfinishedRunForever = false): Overlap {
  const starts = new Map<number, bigint>();
  const ends = new Map<number, bigint>();
  for (const e of entries) {
    if (e.kind === 'start') starts.set(e.pid, e.ns);
    if (e.kind === 'end') ends.set(e.pid, e.ns);
  }
  const points: { ns: bigint; delta: number }[] = [];
  const unfinished: number[] = [];
  for (const [pid, ns] of starts) {
    const end = ends.get(pid);
    if (end === undefined) {
      unfinished.push(pid);
      if (unfinishedRunForever) points.push({ ns, delta: 1 });
      continue;
    }
    points.push({ ns, delta: 1 }, { ns: end, delta: -1 });
  }
  // Ends before starts at the same instant: a handed-over slot is not an overlap.
  points.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.delta - b.delta));
  let live = 0;
  let max = 0;
  for (const p of points) {
    live += p.delta;
    max = Math.max(max, live);
  }
  return { max, starts: starts.size, ends: ends.size, unfinished };
}
