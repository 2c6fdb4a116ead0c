// How a fleet waiter waits: it asks the server, keeping its place in line, again whenever a
// release is announced (a wake-up) and at least every `pollMs` (a lost message, a host cut off
// and back; asking also keeps its place alive), until granted, timed out or aborted.
import type { AcquireOptions, Slot } from '../pool.js';
import { abortable } from '../wait.js';
import { UnreachableError } from './client.js';
import type { Lease } from './lease.js';

export interface WaitParts {
  /** Wake-ups of every waiter of the pool: a waiter adds itself while it waits. */
  wakers: Set<() => void>;
  pollMs: number;
  prepare(): Promise<Lease>;
  /** Ask for a slot, staying in line when not granted. */
  ask(lease: Lease): Promise<Slot | undefined>;
  /** Give up the lease (and the place in line) of a waiter that stopped waiting. */
  abandon(lease: Lease): void;
}

export function waitForLease(parts: WaitParts, options: AcquireOptions): Promise<Slot> {
  return abortable<Slot>(options, (resolve, reject, settled) => {
    let lease: Lease | undefined;
    let granted = false;
    let busy = false;
    let again = false;
    let timer: NodeJS.Timeout | undefined;
    const attempt = async (): Promise<void> => {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      if (timer) clearTimeout(timer);
      try {
        do {
          again = false;
          lease ??= await parts.prepare();
          if (settled()) return;
          const slot = await parts.ask(lease);
          if (slot) {
            granted = true;
            if (settled()) slot.release();
            else resolve(slot);
            return;
          }
        } while (again && !settled());
      } catch (err) {
        // The server away: asked again at the next wake-up or poll.
        if (!(err instanceof UnreachableError)) return reject(err);
      } finally {
        busy = false;
      }
      if (!settled()) timer = setTimeout(() => void attempt(), parts.pollMs);
    };
    parts.wakers.add(attempt);
    void attempt();
    return () => {
      parts.wakers.delete(attempt);
      if (timer) clearTimeout(timer);
      if (!granted && lease) parts.abandon(lease);
    };
  });
}
