// A waiting `run`'s job, made ready before its slot frees. Starting a process from Node forks
// all of Node (1-3 ms on 2 cores, more while the old holder exits), and the waiter's own wake-up
// costs about as much again. So while `run` waits, a small perl process (ready-job-perl.ts)
// waits with it, already in the job's own session with the job's stdio, and becomes the job by
// an exec, holding the slot at descriptor 19 exactly as a spawned job would.
//
// Armed (the pool arms it when this run is first in the pool's line), perl watches the slots
// itself: the kernel wakes it when one frees, it binds the name and execs at once, and tells
// warden afterwards. Otherwise warden tells it which slot to take (G) and says go (X).
// perl starts with no environment but PATH (no PERL5OPT of the user's reaches it) and is given
// the job's at the exec. If warden dies, the control socket's end of file ends it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import type { Socket } from 'node:net';
import { SLOT_FD } from './launcher.js';
import type { ArmRequest, Slot, SlotTaker, TakeResult, Taken } from './pool/pool.js';
import { perlPath } from './perl.js';
import { handleFd } from './handle-fd.js';
import { READY_PERL } from './ready-job-perl.js';
import { RunningJob } from './running-job.js';
import type { JobIdentity } from './running-job.js';

export interface ReadyRequest {
  /** Who the job is; its slot is the one taken. */
  identity: JobIdentity;
  argv: string[];
  /** The job's environment but for the two variables below, which the take sets. */
  env: NodeJS.ProcessEnv;
  vars: { slot: string; trigger: string };
  /** The job exists (its process may not have reached the exec yet): signals go to it now. */
  onJob(job: RunningJob): void;
}

/** How long perl may take to answer a take (it answers in well under a millisecond). */
const REPLY_MS = 250;
/** How long the bookkeeping of an armed take leaves the job's start alone (see becomeSoon). */
const BECOME_AFTER_MS = 5;
/** How often an armed perl is looked at (a /proc read): a stopped one is given up. */
const WATCHDOG_MS = 1000;

const hex = (text: string, encoding: BufferEncoding = 'utf8'): string => Buffer.from(text, encoding).toString('hex');
/** One environment entry: hex of NAME=value, or of NAME alone to unset it. */
const entry = (name: string, value: string | undefined): string => hex(value === undefined ? name : `${name}=${value}`);
const ERRNO_NAMES = new Map(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

export class ReadyJob implements SlotTaker {
  /** The job, once a slot was taken for it. */
  job: RunningJob | undefined;
  /** The slot its job holds. */
  slot: Slot | undefined;
  private up = false;
  private busy = false;
  private gone = false;
  private buffered = '';
  private pending: ((line: string | undefined) => void) | undefined;
  private armedWith: ArmRequest | undefined;
  private armLine = '';
  private becoming: (() => void) | undefined;
  private disarming: Promise<Slot | undefined> | undefined;
  /** While armed: a perl stopped (SIGSTOP) would sit on a free slot; looked at now and then. */
  private watchdog: NodeJS.Timeout | undefined;
  private disarmed: (() => void) | undefined;
  private execDone: ((err: Error | undefined) => void) | undefined;
  private readonly child: ChildProcess;
  private readonly ctl: Socket;

  private constructor(
    private readonly request: ReadyRequest,
    perl: string,
  ) {
    this.child = spawn(perl, ['-e', READY_PERL, '--', String(SLOT_FD), ...request.argv], {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      detached: true,
      // Found where warden finds programs; nothing else of warden's environment reaches perl.
      env: process.env.PATH === undefined ? {} : { PATH: process.env.PATH },
    });
    this.ctl = this.child.stdio[3] as Socket;
    this.child.on('error', () => this.end());
    // A take it reported before its exec is read first, though its job may have ended since:
    // the end waits for the control socket to close (at once, unless a wrapper holds it).
    this.child.on('exit', () => (this.ctl.destroyed ? this.end() : setTimeout(() => this.end(), REPLY_MS)));
    this.ctl.on('error', () => this.end());
    this.ctl.on('close', () => this.end());
    this.ctl.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('latin1');
      for (let nl = this.buffered.indexOf('\n'); nl !== -1; nl = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.onLine(line);
      }
    });
    const env = Object.entries(request.env).flatMap(([k, v]) => (v === undefined ? [] : [entry(k, v)]));
    this.ctl.write(`V ${env.join(' ')}\nN ${hex(request.vars.slot)} ${hex(request.vars.trigger)}\n`);
  }

  /** Start one, or undefined where it cannot run at all (then the job is spawned as usual). */
  static start(request: ReadyRequest): ReadyJob | undefined {
    const perl = perlPath();
    if (!perl) return undefined;
    try {
      return new ReadyJob(request, perl);
    } catch {
      return undefined;
    }
  }

  get ready(): boolean {
    return this.up && !this.busy && !this.gone && !this.job && !this.armedWith;
  }

  /** Told to watch the slots (up, and asked to). */
  get armed(): boolean {
    return this.armedWith !== undefined && this.up && !this.gone;
  }

  arm(request: ArmRequest): boolean {
    if (this.busy || this.gone || this.job || this.armedWith) return false;
    this.armedWith = request;
    this.armLine = `A ${hex(request.flockMark)} ${request.addresses.map((a) => hex(a, 'latin1')).join(' ')}\n`;
    // Not up yet: told as soon as it says who it is (see onLine), unless the pool took a slot first.
    if (this.up) this.startWatching(request);
    // Asked to stop, not killed: a take it reported meanwhile is read first.
    this.watchdog = setInterval(() => stopped(this.child.pid) && void this.disarm(), WATCHDOG_MS);
    this.watchdog.unref();
    return true;
  }

  forgoArm(): void {
    if (!this.armedWith || this.up) return;
    this.armedWith = undefined;
    clearInterval(this.watchdog);
  }

  private startWatching(request: ArmRequest): void {
    this.ctl.write(this.armLine);
    request.watching();
  }

  /** Stop watching; resolves with the slot of a job perl started before it heard (it runs). */
  disarm(): Promise<Slot | undefined> {
    this.disarming ??= this.stopArmed().finally(() => (this.disarming = undefined));
    return this.disarming;
  }

  private async stopArmed(): Promise<Slot | undefined> {
    this.becoming?.();
    const armed = this.armedWith;
    if (armed && !this.up) {
      // Never told to arm (it was not up yet): it will not be; the pool watches again.
      this.armedWith = undefined;
      clearInterval(this.watchdog);
      armed.unarmed(-1);
    } else if (this.armed) {
      const done = new Promise<void>((resolve) => (this.disarmed = resolve));
      // Not through the stream: perl may be at its exec, and a write error there (EPIPE) would
      // destroy the socket before the take it reported (T) is read.
      this.writeNow('D\n');
      const late = setTimeout(() => this.child.kill('SIGKILL'), REPLY_MS);
      await done;
      clearTimeout(late);
      this.becoming?.();
    }
    return this.job ? this.slot : undefined;
  }

  async take(index: number, address: string, keep: () => boolean, taken: Taken): Promise<TakeResult> {
    if (!this.ready) return 'unavailable';
    this.busy = true;
    try {
      this.ctl.write(`G ${index} ${hex(address, 'latin1')}\n`);
      const reply = await this.next();
      if (reply === 'B') return 'busy';
      if (reply?.startsWith('F ')) throw errnoError(Number(reply.slice(2)), 'bind');
      if (!reply?.startsWith('L ')) return 'unavailable';
      let go = false;
      try {
        go = keep();
      } finally {
        this.ctl.write(go ? 'X\n' : 'R\n');
      }
      if (!go) return 'released';
      // Idle until the exec: the CPU is perl's now (on two cores the holder's exit has the other).
      await this.became(index, taken);
      return 'taken';
    } finally {
      this.busy = false;
    }
  }

  /** A take perl reported is done with now, not in a moment (a signal came: it is the job's). */
  settle(): void {
    this.becoming?.();
  }

  /** No job came of it (the wait ended): the helper goes. */
  close(): void {
    if (this.job || this.gone) return;
    this.child.kill('SIGKILL');
    // Whatever else holds the socket's other end (a wrapper's perl) reads its end of file.
    this.ctl.destroy();
    this.end();
  }

  /**
   * An armed perl took slot `index` and is at its exec. Our part waits a moment: woken by the
   * news, this process would otherwise take the core the job starts on (on two, the old
   * holder's exit has the other). Anything that needs the job sooner (the wait ending) does it now.
   */
  private becomeSoon(index: number, taken: Taken): void {
    const at = performance.now();
    const timer = setTimeout(() => this.becoming?.(), BECOME_AFTER_MS);
    this.becoming = () => {
      clearTimeout(timer);
      this.becoming = undefined;
      void this.became(index, taken, at);
    };
  }

  /** perl took slot `index` and execs: the job exists; the waiter is served once it runs. */
  private async became(index: number, taken: Taken, startedAt = performance.now()): Promise<void> {
    const { slot, serve } = taken(index);
    this.slot = slot;
    const execFailure = new Promise<Error | undefined>((resolve) => (this.execDone = resolve));
    if (this.gone) this.execDone?.(undefined);
    this.job = new RunningJob({ ...this.request.identity, slot: index }, this.child, undefined, execFailure, startedAt);
    this.request.onJob(this.job);
    await this.job.started;
    serve();
  }

  /** perl's next answer; one that does not come in time (perl stopped, starved) gives it up. */
  private next(): Promise<string | undefined> {
    if (this.gone) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const late = setTimeout(() => this.child.kill('SIGKILL'), REPLY_MS);
      this.pending = (line) => {
        clearTimeout(late);
        resolve(line);
      };
    });
  }

  private onLine(line: string): void {
    const [what, arg] = line.split(' ');
    // A perl that is not the process we started (a wrapper that runs it as a child) cannot
    // become the job: the job would not be the pid we know.
    if (what === 'ready') {
      if (Number(arg) !== this.child.pid) return this.close();
      this.up = true;
      if (this.armedWith) this.startWatching(this.armedWith);
    } else if (what === 'E') {
      // The exec failed: an armed take's own part comes first, the failure is its job's.
      this.becoming?.();
      this.execDone?.(errnoError(Number(arg), `spawn ${this.request.argv[0]}`));
      this.execDone = undefined;
    } else if ((what === 'T' || what === 'M' || what === 'd') && this.armedWith) {
      const armed = this.armedWith;
      this.armedWith = undefined;
      clearInterval(this.watchdog);
      if (what === 'T') {
        armed.took();
        this.becomeSoon(Number(arg), armed.taken);
      } else armed.unarmed(what === 'M' ? Number(arg) : -1);
      this.disarmed?.();
    } else {
      const reply = this.pending;
      this.pending = undefined;
      reply?.(line);
    }
  }

  /** A line written at once, bypassing the stream; a failure (perl gone) is read as its end. */
  private writeNow(line: string): void {
    const fd = handleFd(this.ctl);
    try {
      if (fd !== undefined) fs.writeSync(fd, line);
    } catch {
      // Gone, or at its exec: the end of file, or the take before it, says which.
    }
  }

  private end(): void {
    this.gone = true;
    // Died while it watched: the pool looks at every slot again itself.
    const armed = this.armedWith;
    this.armedWith = undefined;
    clearInterval(this.watchdog);
    if (armed && !this.job) armed.unarmed(-1);
    this.pending?.(undefined);
    this.pending = undefined;
    this.disarmed?.();
    // The socket closed at the exec (or the helper died before it): started, as far as it can tell.
    this.execDone?.(undefined);
    this.execDone = undefined;
  }
}

/** Whether a process is stopped (state T), from /proc/PID/stat. */
function stopped(pid: number | undefined): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] === 'T';
  } catch {
    return false;
  }
}

function errnoError(errno: number, syscall: string): NodeJS.ErrnoException {
  const code = ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  return err;
}
