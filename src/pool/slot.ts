// The parts every backend's pool shares: the pool's folder, the wait registry, the slots this
// process holds, `inspect`. A backend supplies only how its kernel objects are acquired and seen.
import fs from 'node:fs';
import { FdSlot } from './held-slot.js';
import { poolDir, preparePoolDir, readHolder, recordedSlots } from './holders.js';
import type { AcquireOptions, Pool, PoolBackend, PoolOptions, Slot, SlotState } from './pool.js';
import { adoptSocketSlot } from './socket-slot.js';

/** An inherited slot (the --detach runner): the same kernel object, known by its descriptor. */
export function inheritedSlot(pool: string, index: number, fd: number, stateDir: string, maxLive: number): Slot {
  const dir = poolDir(stateDir, pool);
  return fs.fstatSync(fd).isSocket() ? adoptSocketSlot(index, fd, dir, maxLive) : new FdSlot(index, fd, dir, maxLive);
}

export abstract class BasePool implements Pool {
  abstract readonly backend: PoolBackend;
  readonly name: string;
  readonly maxLive: number;
  protected readonly dir: string;
  /** Where the next scan starts: just past the last slot taken. */
  protected hint = 0;
  protected readonly waits = new Set<() => void>();
  /**
   * Slots this process took and has not seen freed: a scan skips them, so a process holding
   * many slots does not retry its own on every tick (1000 live jobs: 1000 binds a tick).
   */
  protected readonly ours = new Map<number, Slot>();
  protected readonly forgetSlot = (slot: Slot): void => {
    // Only the current holder may clear its index: an old job's late exit must not.
    if (this.ours.get(slot.index) !== slot) return;
    this.ours.delete(slot.index);
    this.slotForgotten(slot.index);
  };

  /** A slot of ours may be free now (a backend that watches slots starts watching it again). */
  protected slotForgotten(_index: number): void {}

  constructor(options: PoolOptions, backend: PoolBackend) {
    this.name = options.name;
    this.maxLive = options.maxLive;
    this.dir = options.inspectOnly
      ? poolDir(options.stateDir, options.name)
      : preparePoolDir(options.stateDir, { name: options.name, backend, maxLive: options.maxLive });
  }

  abstract tryAcquire(): Promise<Slot | undefined>;
  abstract acquire(options?: AcquireOptions): Promise<Slot>;
  /** Which of these slots some process holds right now, as the kernel sees it. */
  protected abstract heldSlots(indexes: number[]): Promise<Set<number>>;

  async inspect(upTo: number): Promise<SlotState[]> {
    const top = Math.max(upTo, ...recordedSlots(this.dir).map((i) => i + 1));
    const indexes = Array.from({ length: top }, (_, i) => i);
    const held = await this.heldSlots(indexes);
    return indexes.map((slot) => {
      const holder = held.has(slot) ? readHolder(this.dir, slot) : undefined;
      return holder ? { slot, held: true, holder } : { slot, held: held.has(slot) };
    });
  }

  close(): void {
    for (const stop of [...this.waits]) stop();
  }
}
