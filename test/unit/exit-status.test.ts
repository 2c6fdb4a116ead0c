// Exit codes: what each command exits with for what happened (SPEC "Exit status").
import { describe, expect, it } from 'vitest';
import { outcomeOf } from '../../src/exit-record.js';
import { exitCodeOf, newTally, onceExitCode, runExitCode, watchExitCode } from '../../src/exit-status.js';
import { exitRecord } from '../helpers/records.js';

describe('exitCodeOf', () => {
  it('is the command own code', () => {
    expect(exitCodeOf(0, null)).toBe(0);
    expect(exitCodeOf(42, null)).toBe(42);
  });

  it('is 128+n for a death by signal n', () => {
    expect(exitCodeOf(null, 'SIGTERM')).toBe(143);
    expect(exitCodeOf(null, 'SIGKILL')).toBe(137);
    expect(exitCodeOf(null, 'SIGINT')).toBe(130);
  });

  it('is 126 or 127 for a command that could not be executed or found, as shells say', () => {
    expect(exitCodeOf(null, null, 'EACCES: permission denied (not executable?)')).toBe(126);
    expect(exitCodeOf(null, null, 'ENOENT: command or working folder not found')).toBe(127);
    expect(exitCodeOf(null, null, 'EAGAIN: too many processes')).toBe(1);
  });
});

describe('outcomeOf', () => {
  it('names a timeout whatever the job exited with', () => {
    expect(outcomeOf('timeout', 0, null)).toBe('timeout');
    expect(outcomeOf('timeout', null, 'SIGKILL')).toBe('timeout');
  });

  it('calls a stopped or signalled job killed, else ok or failed by its code', () => {
    expect(outcomeOf('terminated', 0, null)).toBe('killed');
    expect(outcomeOf(undefined, null, 'SIGSEGV')).toBe('killed');
    expect(outcomeOf(undefined, 0, null)).toBe('ok');
    expect(outcomeOf(undefined, 3, null)).toBe('failed');
  });
});

describe('once', () => {
  it('is 0 when nothing fired or all jobs succeeded', () => {
    expect(onceExitCode(newTally(), 1, undefined)).toBe(0);
    expect(onceExitCode({ ...newTally(), ok: 2 }, 2, undefined)).toBe(0);
  });

  it('is 128+n after a signal, before anything else', () => {
    expect(onceExitCode({ ...newTally(), failed: 1, checkErrors: 1 }, 1, 143)).toBe(143);
  });

  it('is 69 when the pool\'s server could not be reached, before job outcomes and skips', () => {
    expect(onceExitCode({ ...newTally(), unavailable: 1, failed: 1, skipped: 1, checkErrors: 1 }, 1, undefined)).toBe(69);
    expect(onceExitCode({ ...newTally(), unavailable: 1, internal: 1 }, 1, undefined)).toBe(70);
  });

  it('is 3 for a check error, before job failures and skips', () => {
    expect(onceExitCode({ ...newTally(), checkErrors: 1, skipped: 1 }, 1, undefined)).toBe(3);
  });

  it("is the only job's own code, else 1", () => {
    const last = exitRecord({ exitCode: 9, outcome: 'failed' });
    expect(onceExitCode({ ...newTally(), failed: 1, last }, 1, undefined)).toBe(9);
    expect(onceExitCode({ ...newTally(), failed: 1, ok: 1, last }, 2, undefined)).toBe(1);
  });

  it('is 124 for the only job ended by its timeout, whatever it exited with', () => {
    const last = exitRecord({ exitCode: 0, outcome: 'timeout' });
    expect(onceExitCode({ ...newTally(), failed: 1, last }, 1, undefined)).toBe(124);
  });

  it('is 75 when the trigger was skipped and nothing failed', () => {
    expect(onceExitCode({ ...newTally(), skipped: 1 }, 1, undefined)).toBe(75);
  });

  it('is 70 when warden itself failed (the pool), whatever the jobs did', () => {
    expect(onceExitCode({ ...newTally(), internal: 1 }, 1, undefined)).toBe(70);
    expect(onceExitCode({ ...newTally(), internal: 1, skipped: 1, failed: 1 }, 1, undefined)).toBe(70);
    expect(onceExitCode({ ...newTally(), internal: 1 }, 1, 130)).toBe(130);
  });
});

describe('watch and run', () => {
  it('watch: 128+n after a signal, else 1 if a job failed, else 0', () => {
    expect(watchExitCode({ ...newTally(), failed: 1 }, 130)).toBe(130);
    expect(watchExitCode({ ...newTally(), failed: 1 }, undefined)).toBe(1);
    expect(watchExitCode({ ...newTally(), ok: 5 }, undefined)).toBe(0);
  });

  it("run: the signal's 128+n, else 124 on a timeout, else the command's own", () => {
    expect(runExitCode(exitRecord({ exitCode: 0, outcome: 'killed' }), 143)).toBe(143);
    expect(runExitCode(exitRecord({ exitCode: 0, outcome: 'timeout' }), undefined)).toBe(124);
    expect(runExitCode(exitRecord({ exitCode: null, signal: 'SIGKILL', outcome: 'timeout' }), undefined)).toBe(124);
    expect(runExitCode(exitRecord({ exitCode: 5, outcome: 'failed' }), undefined)).toBe(5);
  });
});
