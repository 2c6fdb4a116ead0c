// Slots held by jobs waiting out their --delay, as `delay` events show them: taken at the event,
// let go when the job starts, is dropped (a skip naming it) or its process stops.
import type { PoolTracker } from './pool-tracker.js';

export class DelayHolds {
  /** process, job id -> the pool and since when. */
  private readonly held = new Map<string, { pool: PoolTracker; since: number }>();

  begin(procKey: string, jobId: string, pool: PoolTracker, t: number): void {
    const key = `${procKey}\0${jobId}`;
    if (this.held.has(key)) return;
    this.held.set(key, { pool, since: t });
    pool.hold(1, t);
  }

  /** The job started or was dropped at `t`; since when it held its slot, if it did. */
  end(procKey: string, jobId: string, t: number): number | undefined {
    const key = `${procKey}\0${jobId}`;
    const h = this.held.get(key);
    if (!h) return undefined;
    this.held.delete(key);
    h.pool.hold(-1, t);
    return h.since;
  }

  /** A stop cancels the delayed jobs of its process, or leaves them to the spool: their slots are free. */
  endProcess(procKey: string, t: number): void {
    for (const [key, h] of this.held) {
      if (!key.startsWith(`${procKey}\0`)) continue;
      h.pool.hold(-1, t);
      this.held.delete(key);
    }
  }

  endAll(t: number): void {
    for (const h of this.held.values()) h.pool.hold(-1, t);
    this.held.clear();
  }
}
