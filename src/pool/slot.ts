// The parts every backend's slot and pool share: holder records, the once-only close, the
// wait registry. A backend supplies only how its kernel object is closed and acquired.
import fs from 'node:fs';
import { clearHolder, poolDir, preparePoolDir, readHolder, recordedSlots, writeHolder } from './holders.js';
import type { AcquireOptions, HolderInfo, Pool, PoolBackend, PoolOptions, Slot, SlotState } from './pool.js';

export abstract class HeldSlot implements Slot {
  private closed = false;

  constructor(
    readonly pool: string,
    readonly index: number,
    readonly fd: number,
    private readonly dir: string,
    private readonly maxLive: number,
    /** Tells the pool the slot may be free again. */
    private readonly onForget: (slot: Slot) => void = () => undefined,
  ) {}

  forget(): void {
    this.onForget(this);
  }

  describe(info: Omit<HolderInfo, 'slot' | 'maxLive'>): void {
    writeHolder(this.dir, { ...info, slot: this.index, maxLive: this.maxLive });
  }

  release(): void {
    if (this.closed) return;
    clearHolder(this.dir, this.index, process.pid);
    this.handOff();
    this.forget();
  }

  handOff(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeHere();
  }

  /** Close this process's hold on the kernel object. */
  protected abstract closeHere(): void;
}

/** A slot that is a plain descriptor here: a flock'd file, or one inherited from the one-shot. */
export class FdSlot extends HeldSlot {
  protected closeHere(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed.
    }
  }
}

/** An inherited slot (the --detach runner): the same kernel object, known by its descriptor. */
export function inheritedSlot(pool: string, index: number, fd: number, stateDir: string, maxLive: number): Slot {
  return new FdSlot(pool, index, fd, poolDir(stateDir, pool), maxLive);
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
