// Admission: a pool slot for each job request, else a place in this process's queue, else the
// overflow policy (wait, skip, replace). Queued requests are served first come, first served
// by one pump that waits on the pool.
import type { Emit, SkipReason } from './events.js';
import { msg } from './messages.js';
import type { Pool, Slot } from './pool/pool.js';
import { PoolTimeoutError, finite } from './pool/pool.js';
import { liveSlots } from './pool/live-slots.js';
import type { Overflow } from './settings.js';

export interface Request {
  tick: number;
  command: string;
  item?: string;
}

export interface AdmissionOptions<R extends Request> {
  pool: Pool;
  maxQueue: number;
  overflow: Overflow;
  waitTimeoutMs?: number;
  emit: Emit;
  /** A slot was found for the request: start it (or hold it through its delay). */
  admit(request: R, slot: Slot): void;
  /** Terminate this process's oldest job, for `replace`; false when there is none. */
  replaceOldest(): boolean;
}

/** What became of a request: a retry whose request was skipped has failed for good. */
export type Decision = 'started' | 'queued' | 'skipped';

interface Entry<R> {
  request: R;
  admitted: () => void;
}

export class Admission<R extends Request> {
  private readonly queue: Entry<R>[] = [];
  private pumping = false;
  /** Ends the pump's current wait for a slot. */
  private pumpWait: AbortController | undefined;
  private closed = false;

  constructor(private readonly options: AdmissionOptions<R>) {}

  get queued(): number {
    return this.queue.length;
  }

  /** Decide one request. With `wait`, resolves only once the request has a slot or a place. */
  async submit(request: R): Promise<Decision> {
    const o = this.options;
    if (this.closed) return 'skipped';
    if (this.queue.length === 0) {
      const slot = await o.pool.tryAcquire();
      if (slot) {
        if (this.closed) {
          slot.release();
          return 'skipped';
        }
        o.admit(request, slot);
        return 'started';
      }
    }
    if (this.queue.length < o.maxQueue) {
      this.enqueue(request);
      return 'queued';
    }
    switch (o.overflow) {
      case 'skip':
        this.skip(request, o.maxQueue === 0 ? 'pool-full' : 'queue-full');
        return 'skipped';
      case 'replace':
        if (!o.replaceOldest()) {
          this.skip(request, o.maxQueue === 0 ? 'pool-full' : 'queue-full');
          return 'skipped';
        }
        this.enqueue(request, true);
        return 'queued';
      case 'wait':
        return this.waitForRoom(request);
    }
  }

  /** Stop admitting: queued requests are dropped, waits end. */
  close(): number {
    this.closed = true;
    const dropped = this.queue.length;
    for (const entry of this.queue.splice(0)) entry.admitted();
    this.pumpWait?.abort();
    return dropped;
  }

  private waitForRoom(request: R): Promise<Decision> {
    const o = this.options;
    // The kernel's count, across every process (ours alone would miss the others, and lag
    // behind jobs that died but are not reaped yet).
    void liveSlots(o.pool).then((live) => o.emit({ event: 'wait', pool: o.pool.name, live, maxLive: finite(o.pool.maxLive), tick: request.tick }));
    return new Promise<Decision>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const entry = this.enqueue(request, false, () => {
        if (timer) clearTimeout(timer);
        resolve(this.closed ? 'skipped' : 'queued');
      });
      if (o.waitTimeoutMs !== undefined) {
        timer = setTimeout(() => {
          const at = this.queue.indexOf(entry);
          // Still beyond the queue's own room: give up on this request.
          if (at >= o.maxQueue) {
            this.queue.splice(at, 1);
            // Nothing left to wait for: the pump must not go on to take a slot nobody uses.
            if (!this.queue.length) this.pumpWait?.abort();
            this.skip(request, 'wait-timeout');
            resolve('skipped');
          }
        }, o.waitTimeoutMs);
      }
    });
  }

  private enqueue(request: R, front = false, admitted: () => void = () => undefined): Entry<R> {
    const entry = { request, admitted };
    if (front) this.queue.unshift(entry);
    else this.queue.push(entry);
    if (front || this.queue.length <= this.options.maxQueue) this.enterRoom(entry);
    void this.pump();
    return entry;
  }

  // A waiting request is "in" once it is within the queue's room (or admitted outright).
  private enterRoom(entry: Entry<R> | undefined): void {
    if (!entry) return;
    const done = entry.admitted;
    entry.admitted = () => undefined;
    done();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length && !this.closed) {
        let slot: Slot;
        const wait = new AbortController();
        this.pumpWait = wait;
        try {
          slot = await this.options.pool.acquire({ signal: wait.signal });
        } catch (err) {
          if (err instanceof PoolTimeoutError || this.closed) return;
          if (wait.signal.aborted) continue;
          // The pool itself failed (a state dir removed under us): say so and try again.
          this.options.emit({ event: 'error', message: msg.poolFailed(this.options.pool.name, err) });
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        const entry = this.queue.shift();
        if (!entry || this.closed) {
          slot.release();
          return;
        }
        this.enterRoom(entry);
        // The request that just moved up into the queue's last place of room is in now.
        if (Number.isFinite(this.options.maxQueue)) this.enterRoom(this.queue[this.options.maxQueue - 1]);
        this.options.admit(entry.request, slot);
      }
    } finally {
      this.pumping = false;
    }
  }

  private skip(request: R, reason: SkipReason): void {
    this.options.emit({ event: 'skip', reason, tick: request.tick, pool: this.options.pool.name, command: request.command, item: request.item });
  }
}
