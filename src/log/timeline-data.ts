// The timeline's model, shared by the terminal drawing and the HTML page: a row per slot of
// each pool, a bar per job (one per attempt), and the waits and skips of each pool. Unlike the
// summary it keeps every job of the window (about 150 bytes each, plus its tail for the page).
import type { PoolTracker } from './pool-tracker.js';
import type { JobSpan, Listener, Mark } from './summary-types.js';

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

export interface TimelineBar {
  pool: number;
  /** Index into the pool's `slots`. */
  row: number;
  start: number;
  end: number;
  outcome: string;
  command: string;
  jobId: string;
  attempt: number;
  pid: number;
  host: string;
  exitCode: number | null;
  signal: string | null;
  tail: string;
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
  private readonly spans: JobSpan[] = [];
  private readonly marks: Mark[] = [];

  job(span: JobSpan): void {
    this.spans.push(span.tail.length > TAIL_KEEP ? { ...span, tail: `…${span.tail.slice(-TAIL_KEEP)}` } : span);
  }

  mark(mark: Mark): void {
    this.marks.push(mark);
  }

  /** Lay the jobs out; `from`/`to` frame the drawing (the window, else the log's own span). */
  build(from: number, to: number): Timeline {
    const trackers: PoolTracker[] = [];
    const seen = (p: PoolTracker): number => {
      const at = trackers.indexOf(p);
      return at >= 0 ? at : trackers.push(p) - 1;
    };
    const slotsOf = new Map<number, Set<number>>();
    for (const s of this.spans) {
      const i = seen(s.pool);
      let set = slotsOf.get(i);
      if (!set) slotsOf.set(i, (set = new Set()));
      set.add(s.slot);
    }
    for (const m of this.marks) seen(m.pool);
    const names = trackers.map((t) => t.name);
    const pools: TimelinePool[] = trackers.map((t, i) => {
      const used = slotsOf.get(i) ?? new Set<number>();
      // A finite cap shows every slot, idle ones too: the spare capacity is part of the picture.
      if (typeof t.cap === 'number' && t.cap <= MAX_SLOT_ROWS) for (let s = 0; s < t.cap; s++) used.add(s);
      const all = [...used].sort((a, b) => a - b);
      const twin = names.filter((n) => n === t.name).length > 1;
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
    for (const s of this.spans) {
      const pool = trackers.indexOf(s.pool);
      const row = rowOf[pool].get(s.slot);
      if (row === undefined) {
        pools[pool].hiddenJobs++;
        continue;
      }
      const { pool: _tracker, slot: _slot, ...rest } = s;
      bars.push({ ...rest, pool, row });
    }
    bars.sort((a, b) => a.start - b.start);
    const marks = this.marks.map((m) => ({ pool: trackers.indexOf(m.pool), ts: m.ts, kind: m.kind, reason: m.reason }));
    return { from, to: Math.max(to, from + 1), pools, bars, marks };
  }
}
