// `warden run -- CMD`: take a slot, run one command in its own process group holding the slot,
// forward signals to the group, and exit with the command's own code. GNU `sem --fg` and
// `flock -n` done right: the slot is the kernel's, so no crash can leak it.
import os from 'node:os';
import { liveSlots } from '../admission.js';
import { launch } from '../launcher.js';
import { msg } from '../messages.js';
import { PoolTimeoutError, finite } from '../pool/pool.js';
import type { Slot } from '../pool/pool.js';
import { reapGroups } from '../process-group.js';
import type { Settings } from '../settings.js';
import { EXIT, SIGNAL_EXIT } from '../exit.js';
import { handleSignals, startEvent, openReporter, openSettingsPool } from './common.js';
import type { Signal } from '../exit.js';

export async function runCommand(settings: Settings): Promise<number> {
  const reporter = await openReporter(settings, settings.log === 'json' ? 'json' : 'none', 2);
  const pool = openSettingsPool(settings);
  const command = settings.argv.length === 1 ? settings.argv[0] : settings.argv.map(shellQuote).join(' ');
  const jobId = `run-${process.pid}`;
  reporter.emit(startEvent('run', pool, settings));

  // Waiting for a slot: a signal ends the wait and warden exits as signalled, having run nothing.
  const waitAbort = new AbortController();
  let signalled: Signal | undefined;
  let onSignal = (sig: Signal): void => {
    signalled ??= sig;
    waitAbort.abort();
  };
  const undoSignals = handleSignals((sig) => onSignal(sig));
  try {
    let slot: Slot | undefined = await pool.tryAcquire();
    if (!slot && settings.overflow === 'skip') {
      reporter.emit({ event: 'skip', reason: 'pool-full', tick: 1, pool: pool.name, command });
      reporter.notice(msg.runSkipped(pool.name, await liveSlots(pool), pool.maxLive));
      return EXIT.tempFail;
    }
    if (!slot) {
      reporter.emit({ event: 'wait', pool: pool.name, live: await liveSlots(pool), maxLive: finite(pool.maxLive), tick: 1 });
      try {
        slot = await pool.acquire({ signal: waitAbort.signal, timeoutMs: settings.waitTimeoutMs });
      } catch (err) {
        if (signalled) return SIGNAL_EXIT[signalled];
        // The pool itself failed (its helper could not lock): one line, not a silent exit.
        if (!(err instanceof PoolTimeoutError)) throw err;
        reporter.emit({ event: 'skip', reason: 'wait-timeout', tick: 1, pool: pool.name, command });
        reporter.notice(msg.runWaitTimeout(pool.name));
        return EXIT.tempFail;
      }
    }
    if (signalled) {
      slot.release();
      return SIGNAL_EXIT[signalled];
    }

    if (settings.detach) {
      const { Detacher } = await import('./detach.js');
      const detacher = new Detacher(settings);
      detacher.add({ tick: 1, jobId, command, spec: { run: command, delayMs: 0 }, trigger: new Date().toISOString(), checkOutput: '' }, slot);
      await detacher.settled();
      return EXIT.ok;
    }
    const job = launch({
      jobId,
      command,
      // One plain word needs no shell: exec it directly (a shell start saved per one-shot).
      ...(settings.argv.length === 1 && !PLAIN_WORD.test(settings.argv[0]) ? { shell: settings.argv[0] } : { argv: settings.argv }),
      env: { ...process.env, WARDEN_JOB_ID: jobId, WARDEN_POOL: pool.name, WARDEN_SLOT: String(slot.index), WARDEN_TRIGGER: new Date().toISOString(), WARDEN_ATTEMPT: '1' },
      slot,
      tick: 1,
      attempt: 1,
      timeoutMs: settings.jobTimeoutMs,
      killAfterMs: settings.killAfterMs,
      output: { kind: 'inherit' },
      stdin: 'inherit',
    });
    if (job.pid !== null) {
      slot.describe({ pid: job.pid, owner: process.pid, command, jobId, startedAt: new Date().toISOString() });
      reporter.emit({ event: 'spawn', jobId, jobPid: job.pid, command, slot: slot.index, tick: 1, attempt: 1, delayMs: 0 });
    }
    // The terminal's Ctrl-C reaches only warden (the job leads its own group): pass it on,
    // as the job would have seen it. A second Ctrl-C, or TERM/HUP, terminates the group.
    let interrupts = 0;
    onSignal = (sig) => {
      signalled ??= sig;
      if (sig === 'SIGINT' && interrupts++ === 0) job.signal('SIGINT');
      else {
        if (sig === 'SIGHUP') job.signal('SIGHUP');
        job.stop('terminated');
      }
    };
    const record = await job.exited;
    reporter.emit({ event: 'exit', ...record });
    // Our copy of the slot goes now (after the exit is logged: a waiter's spawn comes after it);
    // processes the job left behind still hold theirs.
    slot.forget();
    if (record.error) reporter.notice(msg.cannotStart(command, record.error));
    if (job.pid !== null) await reapGroups([job.pid], settings.killAfterMs);
    // Stopped by a signal, warden says so (128+n) whatever the command made of it.
    return signalled ? SIGNAL_EXIT[signalled] : exitCodeOf(record.exitCode, record.signal, record.error);
  } finally {
    undoSignals();
    pool.close();
    reporter.close();
  }
}

/** The command's own code; 128+n for a signal; 127/126 when it could not be started, as shells do. */
export function exitCodeOf(exitCode: number | null, signal: string | null, error?: string): number {
  if (exitCode !== null) return exitCode;
  if (signal) return 128 + (os.constants.signals[signal as NodeJS.Signals] ?? 0);
  if (error?.startsWith('EACCES')) return 126;
  if (error?.startsWith('ENOENT')) return 127;
  return EXIT.failed;
}

const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

function shellQuote(arg: string): string {
  return PLAIN_WORD.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
