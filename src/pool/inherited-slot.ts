// A slot whose descriptor this process inherited (the --detach runner): the kernel object is
// the same, so holding, handing off and releasing work as for a slot acquired here.
import fs from 'node:fs';
import { clearHolder, poolDir, writeHolder } from './holders.js';
import type { HolderInfo, Slot } from './pool.js';

export class InheritedSlot implements Slot {
  private closed = false;
  private readonly dir: string;

  constructor(
    readonly pool: string,
    readonly index: number,
    readonly fd: number,
    stateDir: string,
    private readonly maxLive: number,
  ) {
    this.dir = poolDir(stateDir, pool);
  }

  describe(info: Omit<HolderInfo, 'slot' | 'maxLive'>): void {
    writeHolder(this.dir, { ...info, slot: this.index, maxLive: this.maxLive });
  }

  release(): void {
    if (this.closed) return;
    clearHolder(this.dir, this.index, process.pid);
    this.handOff();
  }

  handOff(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed.
    }
  }
}
