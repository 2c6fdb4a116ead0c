// What every backend's slot shares: its holder record and the once-only close of this process's
// copy of the kernel object. A backend supplies only how that copy is closed.
import fs from 'node:fs';
import { clearHolder, writeHolder } from './holders.js';
import type { HolderInfo, Slot } from './pool.js';

export abstract class HeldSlot implements Slot {
  private closed = false;

  constructor(
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

/** A slot that another process took and holds (a ready job's, see ready-job.ts): nothing here to close. */
export class TakenSlot extends HeldSlot {
  protected closeHere(): void {}
}
