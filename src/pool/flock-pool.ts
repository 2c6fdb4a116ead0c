// Slots as flock(2) locks on files in the state dir, for where abstract sockets do not reach
// (containers in other network namespaces sharing a volume, non-Linux). Node has no flock
// binding, so a short perl helper locks descriptors that this process opened and passed to it:
// the lock belongs to the shared open file, outlives the helper, and is released by the
// kernel when the last descriptor of that file closes, on any death.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FdSlot } from './held-slot.js';
import { BasePool } from './slot.js';
import { msg } from '../messages.js';
import { openPrivate } from './safe-fs.js';
import { abortable, scanOrder } from './wait.js';
import { perlPath } from '../perl.js';
import { PoolError } from './pool.js';
import { socketSlotsHeld } from './mixed-backends.js';
import { fileKey, procLockedFiles } from './proc-locks.js';
import type { AcquireOptions, PoolOptions, Slot } from './pool.js';

// try: lock the first free descriptor without blocking (exit 1: none free). wait: one blocking
// locker per descriptor, the first to win stops the rest; every descriptor that ended up
// locked is printed, so the caller can keep one and release any that won the same race.
// test: report which descriptors are locked by someone, unlocking at once.
// Every helper process asks the kernel to SIGKILL it when its parent dies (PR_SET_PDEATHSIG,
// where the syscall number is known), so no locker outlives a SIGKILLed warden to take a turn.
const HELPER = String.raw`
use strict; use Fcntl qw(:flock);
my ($mode, $prctl, $parent, @fds) = @ARGV; $| = 1;
sub guard { my ($p) = @_; syscall($prctl, 1, 9) if $prctl > 0; exit 2 if getppid() != $p; }
guard($parent);
my %fh; for my $fd (@fds) { open(my $h, '+<&=', $fd) or die "fd $fd: $!\n"; $fh{$fd} = $h; }
if ($mode eq 'try') { for my $fd (@fds) { if (flock($fh{$fd}, LOCK_EX | LOCK_NB)) { print "$fd\n"; exit 0; } } exit 1; }
if ($mode eq 'test') { for my $fd (@fds) { if (flock($fh{$fd}, LOCK_EX | LOCK_NB)) { flock($fh{$fd}, LOCK_UN); } else { print "$fd\n"; } } exit 0; }
my $me = $$; my %kids;
for my $fd (@fds) { my $pid = fork(); die "fork: $!\n" unless defined $pid;
  if ($pid == 0) { guard($me); exit(flock($fh{$fd}, LOCK_EX) ? 0 : do { print STDERR "flock: $!\n"; 1 }); } $kids{$pid} = $fd; }
my $first = waitpid(-1, 0); my $won = ($? == 0) ? $kids{$first} : undef; delete $kids{$first};
print "$won\n" if defined $won;
kill 'KILL', keys %kids;
for my $pid (keys %kids) { waitpid($pid, 0); print "$kids{$pid}\n" if $? == 0; }
exit(defined $won ? 0 : 1);
`;

// prctl(2)'s number, per architecture (Linux only; elsewhere the helpers go without).
const PRCTL: Partial<Record<string, number>> = { x64: 157, arm64: 167, riscv64: 167, ia32: 172, arm: 172, s390x: 172, ppc64: 171, loong64: 167 };
const prctl = process.platform === 'linux' ? (PRCTL[process.arch] ?? 0) : 0;

type Mode = 'try' | 'wait' | 'test';

/** Slot files one helper tries at once. */
const BATCH = 64;

export class FlockPool extends BasePool {
  readonly backend = 'flock' as const;

  private readonly stateDir: string;

  constructor(options: PoolOptions) {
    super(options, 'flock');
    this.stateDir = options.stateDir;
  }

  async tryAcquire(): Promise<Slot | undefined> {
    if (!Number.isFinite(this.maxLive)) {
      for (let base = 0; ; base += BATCH) {
        const slot = await this.lockOne('try', range(base, BATCH));
        if (slot) return slot;
      }
    }
    // In batches, as above: a large cap must not mean a descriptor (and a file) for every slot.
    const free = [...scanOrder(this.hint, this.maxLive)].filter((i) => !this.ours.has(i));
    for (let k = 0; k < free.length; k += BATCH) {
      const slot = await this.lockOne('try', free.slice(k, k + BATCH));
      if (slot) return slot;
    }
    return undefined;
  }

  async acquire(options: AcquireOptions = {}): Promise<Slot> {
    const first = await this.tryAcquire();
    if (first) return first;
    return abortable<Slot>(options, (resolve, reject, settled) => {
      let cancel = (): void => undefined;
      const stop = (): void => {
        cancel();
        this.waits.delete(stop);
      };
      this.waits.add(stop);
      this.lockOne('wait', range(0, this.maxLive), (kill) => (cancel = kill)).then((slot) => {
        if (slot && settled()) slot.release();
        else if (slot) resolve(slot);
        // Unless we stopped it, a waiting helper ends only with a lock: without one it failed
        // (perl died, ENOLCK), and starting another would only fail again.
        else if (!settled()) reject(new PoolError(msg.flockHelperFailed('exited without a lock')));
      }, reject);
      return stop;
    });
  }

  private slotFile(index: number): string {
    return path.join(this.dir, `slot-${index}.lock`);
  }

  /** Open the slots' files, let the helper lock one, keep the winner and close the rest. */
  private async lockOne(mode: Mode, indexes: number[], onStart?: (kill: () => void) => void): Promise<Slot | undefined> {
    const fds = openAll(indexes.map((i) => this.slotFile(i)));
    let won: number[] = [];
    try {
      won = await runHelper(mode, fds, onStart);
    } finally {
      const keep = won[0];
      fds.forEach((fd) => fd !== keep && fs.closeSync(fd));
    }
    if (won[0] === undefined) return undefined;
    if (socketSlotsHeld(this.stateDir, this.name, this.dir, this.maxLive)) {
      fs.closeSync(won[0]);
      throw new PoolError(msg.mixedBackends('socket'));
    }
    const index = indexes[fds.indexOf(won[0])];
    this.hint = index + 1;
    const slot = new FdSlot(index, won[0], this.dir, this.maxLive, this.forgetSlot);
    this.ours.set(index, slot);
    return slot;
  }

  protected async heldSlots(indexes: number[]): Promise<Set<number>> {
    const fromProc = procLockedFiles();
    if (fromProc) {
      return new Set(
        indexes.filter((i) => {
          try {
            return fromProc.has(fileKey(fs.lstatSync(this.slotFile(i), { bigint: true })));
          } catch {
            return false;
          }
        }),
      );
    }
    const fds = openAll(indexes.map((i) => this.slotFile(i)));
    try {
      const locked = new Set(await runHelper('test', fds));
      return new Set(indexes.filter((_, k) => locked.has(fds[k])));
    } finally {
      fds.forEach((fd) => fs.closeSync(fd));
    }
  }
}

/**
 * Run the perl helper over our descriptors; resolves with the descriptors it reported. Rejects
 * when it could not run or failed in a way other than "none free" / "stopped by us".
 */
function runHelper(mode: Mode, fds: number[], onStart?: (kill: () => void) => void): Promise<number[]> {
  return new Promise((resolve, reject) => {
    // Not detached: killing the helper kills its lockers too (they die with it, PR_SET_PDEATHSIG).
    const perl = perlPath();
    if (!perl) return reject(new PoolError(msg.flockHelperFailed('perl is not installed')));
    const child = spawn(perl, ['-e', HELPER, mode, String(prctl), String(process.pid), ...fds.map((_, k) => String(k + 3))], {
      stdio: ['ignore', 'pipe', 'pipe', ...fds],
    });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', (e: NodeJS.ErrnoException) => reject(new PoolError(msg.flockHelperFailed(e.code === 'ENOENT' ? 'perl is not installed' : e.message))));
    child.on('close', (code, signal) => {
      const reported = out.split('\n').filter(Boolean).map((n) => fds[Number(n) - 3]);
      if (code === 0 || killed || (code === 1 && mode !== 'test')) resolve(reported);
      else reject(new PoolError(msg.flockHelperFailed(err.trim().split('\n')[0] || `exit ${code ?? signal}`)));
    });
    onStart?.(() => {
      killed = true;
      child.kill('SIGKILL');
    });
  });
}

/** Open every slot file, or none (a refused one closes those already open). */
function openAll(files: string[]): number[] {
  const fds: number[] = [];
  try {
    for (const file of files) fds.push(openPrivate(file));
  } catch (err) {
    fds.forEach((fd) => fs.closeSync(fd));
    throw err;
  }
  return fds;
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, k) => from + k);
