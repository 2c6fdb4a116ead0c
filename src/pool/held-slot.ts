// What every backend's slot shares: its holder record, and the order in which this process
// lets go of its copy of the kernel object (at once, or once the child it was handed to is done).
import fs from 'node:fs';
import { clearHolder, writeHolder } from './holders.js';
import type { HolderInfo, Slot } from './pool.js';

export abstract class HeldSlot implements Slot {
  private closed = false;
  private handed = false;

  constructor(
    readonly pool: string,
    readonly index: number,
    readonly fd: number,
    private readonly dir: string,
    private readonly maxLive: number,
    /** Tells the pool the slot may be free again. */
    private readonly onForget: (slot: Slot) => void = () => undefined,
  ) {}

  /**
   * Whether this process keeps its copy after the hand-off until the child is done (a socket
   * slot keeps accepting, so that waiters' connections never pile up in its queue).
   */
  protected get keepsCopy(): boolean {
    return false;
  }

  forget(): void {
    if (this.handed) this.close();
    this.onForget(this);
  }

  describe(info: Omit<HolderInfo, 'slot' | 'maxLive'>): void {
    writeHolder(this.dir, { ...info, slot: this.index, maxLive: this.maxLive });
  }

  release(): void {
    if (this.closed) return;
    clearHolder(this.dir, this.index, process.pid);
    this.close();
    this.onForget(this);
  }

  handOff(): void {
    if (this.closed || this.handed) return;
    this.handed = true;
    if (!this.keepsCopy) this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closeHere();
  }

  /** Close this process's hold on the kernel object. */
  protected abstract closeHere(): void;
}

/** A slot that is a plain descriptor here: a flock'd file. */
export class FdSlot extends HeldSlot {
  protected closeHere(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed.
    }
  }
}
