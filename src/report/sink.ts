// A synchronous, line-atomic writer to one descriptor that never throws: a full disk, a closed
// pipe (EPIPE from `| head`) or a non-blocking terminal must not crash the supervisor.
import fs from 'node:fs';
import { describeFsError } from '../settings.js';

const pause = new Int32Array(new SharedArrayBuffer(4));

export class Sink {
  private broken = false;
  private failing = false;

  constructor(
    readonly fd: number,
    private readonly what: string,
    private readonly onError: (what: string, why: string) => void,
  ) {}

  get usable(): boolean {
    return !this.broken;
  }

  write(text: string | Buffer): void {
    if (this.broken) return;
    const buf = typeof text === 'string' ? Buffer.from(text) : text;
    let off = 0;
    let spins = 0;
    while (off < buf.length) {
      try {
        off += fs.writeSync(this.fd, buf, off, buf.length - off);
        spins = 0;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' && spins++ < 2000) {
          Atomics.wait(pause, 0, 0, 1);
          continue;
        }
        if (code === 'EPIPE' || code === 'EBADF') this.broken = true;
        if (!this.failing) this.onError(this.what, describeFsError(err));
        this.failing = true;
        return;
      }
    }
    this.failing = false;
  }
}
