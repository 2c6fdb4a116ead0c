// A synchronous, line-atomic writer to one descriptor that never throws: a full disk, a closed
// pipe (EPIPE from `| head`) or a non-blocking terminal must not crash the supervisor.
import fs from 'node:fs';
import { describeFsError } from '../messages.js';

const pause = new Int32Array(new SharedArrayBuffer(4));
const NEWLINE = Buffer.from('\n');

export class Sink {
  private broken = false;
  private failing = false;
  /**
   * A write failed partway through a line (a disk filling up): the next write ends that line
   * first, so the torn piece stays a line of its own instead of spoiling the next whole line.
   */
  private torn = false;

  constructor(
    readonly fd: number,
    private readonly what: string,
    private readonly onError: (what: string, why: string, code?: string) => void,
  ) {}

  get usable(): boolean {
    return !this.broken;
  }

  write(text: string | Buffer): void {
    if (this.broken) return;
    const given = typeof text === 'string' ? Buffer.from(text) : text;
    const buf = this.torn ? Buffer.concat([NEWLINE, given]) : given;
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
        if (off > 0) this.torn = buf[off - 1] !== NEWLINE[0];
        // A closed pipe, a hung-up terminal: nobody will read this descriptor again.
        if (code === 'EPIPE' || code === 'EBADF' || code === 'EIO') this.broken = true;
        const first = !this.failing;
        this.failing = true;
        // Set before reporting: the report may come back here (the same terminal) and must not recurse.
        if (first) this.onError(this.what, describeFsError(err), code);
        return;
      }
    }
    this.failing = false;
    this.torn = false;
  }
}
