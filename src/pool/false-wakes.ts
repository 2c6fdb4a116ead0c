// Wake-ups that were not a free slot. A watcher's connection is reset when the slot frees, and
// ends cleanly when its holder accepts and drops it (a job that serves its slot's socket, a
// squatter): then the take fails, and watching again at once would spin. The first such wake of a slot is
// answered at once; the next ones, while they keep coming, after a pause that doubles.
const FIRST_PAUSE_MS = 5;
const MAX_PAUSE_MS = 250;
/** A slot quiet this long starts over. */
const QUIET_MS = 100;

export class FalseWakes {
  private readonly last = new Map<number, { at: number; pauseMs: number }>();

  /** How long to wait before watching slot `index` again, after a wake that was not a free slot. */
  pauseFor(index: number): number {
    const now = performance.now();
    const last = this.last.get(index);
    const pauseMs = last && now - last.at < QUIET_MS ? Math.min(MAX_PAUSE_MS, Math.max(FIRST_PAUSE_MS, last.pauseMs * 2)) : 0;
    this.last.set(index, { at: now + pauseMs, pauseMs });
    return pauseMs;
  }

  /** Slot `index` was taken: its next wake is news again. */
  forget(index: number): void {
    this.last.delete(index);
  }
}
