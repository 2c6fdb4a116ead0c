// The timeline's model, shared by the terminal drawing and the HTML page: a row per slot of
// each pool, a bar per job (one per attempt), and the waits and skips of each pool. Unlike the
// summary it keeps every job of the window (about 150 bytes each, plus its tail for the page).
import type { PoolTracker } from './pool-tracker.js';
import type { JobRun, JobSpan, Listener, Mark } from './summary-types.js';

/** More slots than this in one pool (an unlimited cap) are shown as a count, not as rows. */
export const MAX_SLOT_ROWS = 64;
const TAIL_KEEP = 600;

export interface TimelinePool {
  label: string;
  cap: number | null;
  /** Slot numbers, in row order. */
  slots: number[];
  /** Slots beyond MAX_SLOT_ROWS, not drawn (their jobs are counted in `hiddenJobs`). */
  hiddenSlots: number;
  hiddenJobs: number;
}

export interface TimelineBar extends JobRun {
  pool: number;
  /** Index into the pool's `slots`. */
  row: number;
}

export interface TimelineMark {
  pool: number;
  ts: number;
  kind: 'wait' | 'skip';
  reason: string;
}

export interface Timeline {
  from: number;
  to: number;
  pools: TimelinePool[];
  bars: TimelineBar[];
  marks: TimelineMark[];
}

export class TimelineCollector implements Listener {
  private readonly bars: TimelineBar[] = [];
  private readonly slots: number[] = [];
  private readonly marks: TimelineMark[] = [];
  private readonly trackers = new Map<PoolTracker, number>();
  /** One copy of each command, however many jobs ran it. */
  private readonly commands = new Map<string, string>();

  /** `details`: keep each job's output tail (the page shows it; the terminal does not). */
  constructor(private readonly details: boolean) {}

  job(span: JobSpan): void {
    let command = this.commands.get(span.command);
    if (command === undefined) this.commands.set(span.command, (command = span.command));
    const tail = !this.details ? '' : span.tail.length > TAIL_KEEP ? `…${span.tail.slice(-TAIL_KEEP)}` : span.tail;
    this.slots.push(span.slot);
    this.bars.push({
      pool: this.index(span.pool),
      row: -1,
      held: span.held,
      start: span.start,
      end: span.end,
      outcome: span.outcome,
      command,
      jobId: span.jobId,
      attempt: span.attempt,
      pid: span.pid,
      host: span.host,
      exitCode: span.exitCode,
      signal: span.signal,
      tail,
    });
  }

  mark(mark: Mark): void {
    this.marks.push({ pool: this.index(mark.pool), ts: mark.ts, kind: mark.kind, reason: mark.reason });
  }

  private index(pool: PoolTracker): number {
    let i = this.trackers.get(pool);
    if (i === undefined) this.trackers.set(pool, (i = this.trackers.size));
    return i;
  }

  /** Lay the jobs out; `from`/`to` frame the drawing (the window, else the log's own span). */
  build(from: number, to: number): Timeline {
    const trackers = [...this.trackers.keys()];
    const used = trackers.map(() => new Set<number>());
    this.bars.forEach((b, i) => used[b.pool].add(this.slots[i]));
    const pools: TimelinePool[] = trackers.map((t, i) => {
      // A finite cap shows every slot, idle ones too: the spare capacity is part of the picture.
      if (typeof t.cap === 'number' && t.cap <= MAX_SLOT_ROWS) for (let s = 0; s < t.cap; s++) used[i].add(s);
      const all = [...used[i]].sort((a, b) => a - b);
      const twin = trackers.filter((o) => o.name === t.name).length > 1;
      return {
        label: twin && t.host ? `${t.name} @${t.host}` : t.name,
        cap: t.cap ?? null,
        slots: all.slice(0, MAX_SLOT_ROWS),
        hiddenSlots: Math.max(0, all.length - MAX_SLOT_ROWS),
        hiddenJobs: 0,
      };
    });
    const rowOf = pools.map((p) => new Map(p.slots.map((slot, row) => [slot, row])));
    const bars: TimelineBar[] = [];
    this.bars.forEach((b, i) => {
      const row = rowOf[b.pool].get(this.slots[i]);
      if (row === undefined) pools[b.pool].hiddenJobs++;
      else {
        b.row = row;
        bars.push(b);
      }
    });
    bars.sort((a, b) => a.start - b.start);
    // Pools in the order of their names (and hosts), not of their first job.
    const order = pools.map((_, i) => i).sort((a, b) => pools[a].label.localeCompare(pools[b].label));
    const moved = new Array<number>(pools.length);
    order.forEach((old, i) => (moved[old] = i));
    for (const b of bars) b.pool = moved[b.pool];
    for (const m of this.marks) m.pool = moved[m.pool];
    return { from, to: Math.max(to, from + 1), pools: order.map((i) => pools[i]), bars, marks: this.marks };
  }
}
