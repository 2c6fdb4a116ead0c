// Slots as flock(2) locks on files in the state dir, for where abstract sockets do not reach
// (containers in other network namespaces sharing a volume, non-Linux). Node has no flock
// binding, so a short perl helper locks descriptors that this process opened and passed to it:
// the lock belongs to the shared open file, outlives the helper, and is released by the
// kernel when the last descriptor of that file closes, on any death.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BasePool, FdSlot } from './slot.js';
import { abortable, scanOrder } from './wait.js';
import type { AcquireOptions, PoolOptions, Slot } from './pool.js';

// try: lock the first free descriptor without blocking. wait: one blocking locker per
// descriptor, the first to win stops the rest; every descriptor that ended up locked is
// printed, so the caller can keep one and release any that won the same race.
// test: report which descriptors are locked by someone, unlocking at once.
const HELPER = String.raw`
use strict; use Fcntl qw(:flock);
my ($mode, @fds) = @ARGV; $| = 1;
my %fh; for my $fd (@fds) { open(my $h, '+<&=', $fd) or die "fd $fd: $!"; $fh{$fd} = $h; }
if ($mode eq 'try') { for my $fd (@fds) { if (flock($fh{$fd}, LOCK_EX | LOCK_NB)) { print "$fd\n"; exit 0; } } exit 1; }
if ($mode eq 'test') { for my $fd (@fds) { if (flock($fh{$fd}, LOCK_EX | LOCK_NB)) { flock($fh{$fd}, LOCK_UN); } else { print "$fd\n"; } } exit 0; }
my %kids;
for my $fd (@fds) { my $pid = fork(); die "fork: $!" unless defined $pid;
  if ($pid == 0) { exit(flock($fh{$fd}, LOCK_EX) ? 0 : 1); } $kids{$pid} = $fd; }
my $first = waitpid(-1, 0); my $won = ($? == 0) ? $kids{$first} : undef; delete $kids{$first};
print "$won\n" if defined $won;
kill 'KILL', keys %kids;
for my $pid (keys %kids) { waitpid($pid, 0); print "$kids{$pid}\n" if $? == 0; }
exit(defined $won ? 0 : 1);
`;

type Mode = 'try' | 'wait' | 'test';

export class FlockPool extends BasePool {
  readonly backend = 'flock' as const;

  constructor(options: PoolOptions) {
    super(options, 'flock');
  }

  async tryAcquire(): Promise<Slot | undefined> {
    if (!Number.isFinite(this.maxLive)) {
      for (let base = 0; ; base += 64) {
        const slot = await this.lockOne('try', range(base, 64));
        if (slot) return slot;
      }
    }
    const free = [...scanOrder(this.hint, this.maxLive)].filter((i) => !this.ours.has(i));
    return free.length ? this.lockOne('try', free) : undefined;
  }

  async acquire(options: AcquireOptions = {}): Promise<Slot> {
    const first = await this.tryAcquire();
    if (first) return first;
    for (;;) {
      const slot = await abortable<Slot | undefined>(options, (resolve, reject, settled) => {
        let cancel = (): void => undefined;
        const stop = (): void => {
          cancel();
          this.waits.delete(stop);
        };
        this.waits.add(stop);
        this.lockOne('wait', range(0, this.maxLive), (kill) => (cancel = kill)).then((slot) => {
          if (slot && settled()) slot.release();
          else resolve(slot);
        }, reject);
        return stop;
      });
      if (slot) return slot;
    }
  }

  private slotFile(index: number): string {
    return path.join(this.dir, `slot-${index}.lock`);
  }

  /** Open the slots' files, let the helper lock one, keep the winner and close the rest. */
  private async lockOne(mode: Mode, indexes: number[], onStart?: (kill: () => void) => void): Promise<Slot | undefined> {
    const fds = indexes.map((i) => fs.openSync(this.slotFile(i), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600));
    let won: number[] = [];
    try {
      won = await runHelper(mode, fds, onStart);
    } finally {
      const keep = won[0];
      fds.forEach((fd) => fd !== keep && fs.closeSync(fd));
    }
    if (won[0] === undefined) return undefined;
    const index = indexes[fds.indexOf(won[0])];
    this.hint = index + 1;
    const slot = new FdSlot(this.name, index, won[0], this.dir, this.maxLive, this.forgetSlot);
    this.ours.set(index, slot);
    return slot;
  }

  protected async heldSlots(indexes: number[]): Promise<Set<number>> {
    const fromProc = procLockedInodes();
    if (fromProc) {
      return new Set(
        indexes.filter((i) => {
          try {
            return fromProc.has(fs.statSync(this.slotFile(i)).ino);
          } catch {
            return false;
          }
        }),
      );
    }
    const fds = indexes.map((i) => fs.openSync(this.slotFile(i), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600));
    try {
      const locked = new Set(await runHelper('test', fds));
      return new Set(indexes.filter((_, k) => locked.has(fds[k])));
    } finally {
      fds.forEach((fd) => fs.closeSync(fd));
    }
  }
}

/** Run the perl helper over our descriptors; resolves with the descriptors it reported. */
function runHelper(mode: Mode, fds: number[], onStart?: (kill: () => void) => void): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('perl', ['-e', HELPER, mode, ...fds.map((_, k) => String(k + 3))], {
      stdio: ['ignore', 'pipe', 'inherit', ...fds],
      detached: mode === 'wait',
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out.split('\n').filter(Boolean).map((n) => fds[Number(n) - 3])));
    onStart?.(() => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    });
  });
}

/** Inodes with a flock held, from /proc/locks; undefined off Linux. */
function procLockedInodes(): Set<number> | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  const inodes = new Set<number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // "1: FLOCK ADVISORY WRITE 1234 fd:01:5678 0 EOF"; blocked waiters are marked "->".
    if (f[1] !== 'FLOCK' || f.includes('->')) continue;
    const ino = f[5]?.split(':')[2];
    if (ino) inodes.add(Number(ino));
  }
  return inodes;
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, k) => from + k);
