// Jobs admitted with a --delay: each keeps its slot while it waits for its time, then starts.
// Ctrl-C or a terminating shutdown cancels the waits and frees their slots.
import type { Emit } from './events.js';
import type { Slot } from './pool/pool.js';

export interface Delayable {
  jobId: string;
  command: string;
}

interface Delayed {
  slot: Slot;
  timer: NodeJS.Timeout;
}

export class Delays {
  private readonly waiting = new Set<Delayed>();

  constructor(private readonly emit: Emit) {}

  get size(): number {
    return this.waiting.size;
  }

  /** Hold the slot until `dueAt` (epoch ms), then call `start`. */
  hold(job: Delayable, slot: Slot, dueAt: number, start: () => void): void {
    const delayMs = Math.max(0, dueAt - Date.now());
    slot.describe({ pid: process.pid, owner: process.pid, command: `${job.command} (delayed)`, jobId: job.jobId, startedAt: new Date().toISOString() });
    const d: Delayed = {
      slot,
      timer: setTimeout(() => {
        this.waiting.delete(d);
        start();
      }, delayMs),
    };
    this.waiting.add(d);
    this.emit({ event: 'delay', jobId: job.jobId, command: job.command, dueAt: new Date(dueAt).toISOString(), delayMs });
  }

  /** Cancel every wait and free its slot; returns how many were cancelled. */
  cancelAll(): number {
    const n = this.waiting.size;
    for (const d of this.waiting) {
      clearTimeout(d.timer);
      d.slot.release();
    }
    this.waiting.clear();
    return n;
  }
}
