// A waiting `run`'s job, made ready before its slot frees. Starting a process from Node forks
// all of Node (2-5 ms on a 2-core machine); on the hand-off that fork is most of the wait. So
// while `run` waits, a small perl process waits with it, already in the job's own session with
// the job's stdio. Told that a slot looks free, it binds the slot's name itself, says so, and
// on our word becomes the job (exec), the slot at descriptor 19: the job then holds the slot
// exactly as one that warden spawned would.
//
// On the control socket (its descriptor 3, closed by the exec), one line each way:
//   warden: G <address> <NAME=value>...   bind the slot (each field hex)
//           X | R                          exec the job | let the slot go and wait again
//   perl:   ready | L (bound) | B (held by someone else) | F <errno> (bind failed)
//           E <errno> (exec failed; it exits 127); end of file: the exec happened.
// perl starts with no environment but PATH (nothing of the user's PERL5OPT or locale reaches
// it) and is given the job's own at the exec. If warden dies, the socket's end of file ends it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Socket } from 'node:net';
import { SLOT_FD } from './launcher.js';
import type { SlotTaker, TakeResult } from './pool/pool.js';
import { RunningJob } from './running-job.js';
import type { JobIdentity } from './running-job.js';

const LAUNCHER = String.raw`
use strict; use Socket qw(AF_UNIX SOCK_STREAM pack_sockaddr_un); use Fcntl qw(F_SETFD F_DUPFD FD_CLOEXEC); use Errno qw(EADDRINUSE);
my ($slotfd, @argv) = @ARGV; $slotfd += 0;
open(my $ctl, '+<&=', 3) or exit 70; fcntl($ctl, F_SETFD, FD_CLOEXEC) or exit 70;
select($ctl); $| = 1; print "ready\n";
my %env; sub setenv { my $h = shift; for (@_) { my ($k, $v) = split /=/, pack('H*', $_), 2; if (defined $v) { $h->{$k} = $v } else { delete $h->{$k} } } }
while (my $go = <$ctl>) {
  chomp $go; my ($g, @f) = split / /, $go;
  if ($g eq 'V') { setenv(\%env, @f); next; }
  next unless $g eq 'G'; my ($addr, @env) = @f; %ENV = %env; setenv(\%ENV, @env);
  socket(my $s, AF_UNIX, SOCK_STREAM, 0) or do { print 'F ', $! + 0, "\n"; next };
  if (!bind($s, pack_sockaddr_un(pack('H*', $addr)))) { print $! == EADDRINUSE ? "B\n" : 'F ' . ($! + 0) . "\n"; next; }
  listen($s, 4096) or do { print 'F ', $! + 0, "\n"; next };
  print "L\n"; my $ok = <$ctl>; next unless defined $ok && $ok eq "X\n";
  my $fd = fcntl($s, F_DUPFD, $slotfd); if (!defined $fd || $fd != $slotfd) { print 'E ', $! + 0 || 9, "\n"; exit 127; }
  exec { $argv[0] } @argv;
  print 'E ', $! + 0, "\n"; exit 127;
}
exit 0;
`;

export interface ReadyRequest {
  /** Who the job is; its slot is the one taken. */
  identity: JobIdentity;
  argv: string[];
  /** The job's environment, given to perl at its start... */
  env: NodeJS.ProcessEnv;
  /** ...but for what only the take tells (the slot's index, the moment), set then. */
  takenEnv(index: number): Record<string, string>;
  /** The job exists (its process may not have reached the exec yet): signals go to it now. */
  onJob(job: RunningJob): void;
}

/** How long perl may take to answer a take (it answers in well under a millisecond). */
const REPLY_MS = 1000;

const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex');
const ERRNO_NAMES = new Map(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

/** One environment entry for the control line: hex of NAME=value, or of NAME alone to unset it. */
const entry = (name: string, value: string | undefined): string => hex(value === undefined ? name : `${name}=${value}`);

const goLine = (address: string, env: Record<string, string>): string =>
  `G ${Buffer.from(address, 'latin1').toString('hex')} ${Object.entries(env)
    .map(([k, v]) => entry(k, v))
    .join(' ')}\n`;

export class ReadyJob implements SlotTaker {
  /** The job, once a slot was taken for it. */
  job: RunningJob | undefined;
  private up = false;
  private busy = false;
  private gone = false;
  private buffered = '';
  private pending: ((line: string | undefined) => void) | undefined;
  private readonly child: ChildProcess;
  private readonly ctl: Socket;
  private execDone: ((err: Error | undefined) => void) | undefined;

  private constructor(private readonly request: ReadyRequest) {
    this.child = spawn('perl', ['-e', LAUNCHER, '--', String(SLOT_FD), ...request.argv], {
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
      detached: true,
      // Found where warden finds programs; nothing else of warden's environment reaches perl.
      env: process.env.PATH === undefined ? {} : { PATH: process.env.PATH },
    });
    this.ctl = this.child.stdio[3] as Socket;
    // What a take runs, run once now: its first run in a process costs most.
    goLine('', request.takenEnv(0));
    this.ctl.write(`V ${Object.entries(request.env).flatMap(([k, v]) => (v === undefined ? [] : [entry(k, v)])).join(' ')}\n`);
    this.child.on('error', () => this.end());
    this.child.on('exit', () => this.end());
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
  }

  /** Start one, or undefined where it cannot run at all (then the job is spawned as usual). */
  static start(request: ReadyRequest): ReadyJob | undefined {
    try {
      return new ReadyJob(request);
    } catch {
      return undefined;
    }
  }

  get ready(): boolean {
    return this.up && !this.busy && !this.gone && !this.job;
  }

  async take(index: number, address: string, keep: () => boolean, taken: () => void): Promise<TakeResult> {
    if (!this.ready) return 'unavailable';
    this.busy = true;
    try {
      this.ctl.write(goLine(address, this.request.takenEnv(index)));
      const reply = await this.next();
      if (reply === 'B') return 'busy';
      if (reply?.startsWith('F ')) throw errnoError(Number(reply.slice(2)), 'bind');
      if (reply !== 'L') return 'unavailable';
      let go = false;
      try {
        go = keep();
      } finally {
        this.ctl.write(go ? 'X\n' : 'R\n');
      }
      if (!go) return 'released';
      taken();
      const execFailure = new Promise<Error | undefined>((resolve) => (this.execDone = resolve));
      if (this.gone) this.execDone?.(undefined);
      this.job = new RunningJob({ ...this.request.identity, slot: index }, this.child, undefined, execFailure);
      this.request.onJob(this.job);
      // Idle until the exec: the CPU is perl's now (on two cores the holder's exit has the other).
      await this.job.started;
      return 'taken';
    } finally {
      this.busy = false;
    }
  }

  /** No job came of it (the wait ended): the helper goes. */
  close(): void {
    if (this.job || this.gone) return;
    this.child.kill('SIGKILL');
  }

  /** perl's next line; a perl that does not answer in time (stopped, starved) is given up. */
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
    if (line === 'ready') {
      this.up = true;
      return;
    }
    if (line.startsWith('E ') && this.execDone) {
      const code = Number(line.slice(2));
      this.execDone(errnoError(code, `spawn ${this.request.argv[0]}`));
      this.execDone = undefined;
      return;
    }
    const reply = this.pending;
    this.pending = undefined;
    reply?.(line);
  }

  private end(): void {
    this.gone = true;
    this.pending?.(undefined);
    this.pending = undefined;
    // The socket closed at the exec (or the helper died before it): started, as far as it can tell.
    this.execDone?.(undefined);
    this.execDone = undefined;
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
