// SPEC 1 "Never blocks the schedule": hanging checks and always-firing checks with failing jobs stay on schedule.
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { readLedger } from '../helpers/ledger.js';
import { waitFor } from '../helpers/wait.js';
import { readLogFile } from '../helpers/supervised.js';
import { Sampler } from '../helpers/sampler.js';
import { newTag, sq, TAG_VAR } from '../helpers/shell.js';

const fixture = useFixture();

describe('checks never overlap and never speed up the schedule', () => {
  it('kills a hanging check at --check-timeout, runs one check at a time, logs the missed ticks, and leaves no check behind', async () => {
    const f = fixture('hangcheck');
    const checkTag = newTag('check');
    // The check tags itself and records its start in the ledger as "check PID NS", then hangs.
    const check = `exec env ${TAG_VAR}=${checkTag} sh -c ${sq(`echo "check $$ $(date +%s%N)" >> ${f.ledger}; sleep 100`)}`;
    const checks = new Sampler(checkTag, 3).start();
    const r = await f.start(['watch', '--every', '200ms', '--check', check, '--check-timeout', '300ms', '--max-runs', '5',
      '--kill-after', '500ms', '--log-file', f.logFile, '--job', f.job('true')], { settleMs: 0 }).done;
    const seen = checks.stop();
    const events = readLogFile(f.logFile).events;
    const checkEvents = events.filter((e) => e.event === 'check');
    const started = readLedger(f.ledger).filter((e) => e.kind === 'check');

    expect(r.code, r.stderr.slice(-400)).toBe(0);
    expect(seen.maxGroups, 'checks alive at once').toBe(1);
    expect(checkEvents.length, 'checks run').toBeGreaterThanOrEqual(2);
    expect(checkEvents.map((e) => e.outcome), 'every check timed out').toEqual(Array(checkEvents.length).fill('timeout'));
    expect(started.length, 'one check process per check event').toBe(checkEvents.length);
    for (const e of checkEvents) expect(Number(e.durationMs), 'killed near the timeout').toBeLessThan(300 + 1500);
    expect(events.filter((e) => e.event === 'skip' && e.reason === 'overrun').length, 'missed ticks are logged').toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e.event === 'spawn'), 'a check that never finishes never fires').toEqual([]);
    expect(r.report.escaped, 'processes alive after warden exited').toEqual([]);
    expect(seen.zombies.filter((z) => !z.reaped)).toEqual([]);
  }, 30_000);

  it('starts jobs no faster than the schedule when the check always fires and every job fails at once, retries included', async () => {
    const f = fixture('firefail');
    // The check writes "check <tick> <ns>": WARDEN_TICK tells which tick of the schedule it is.
    const check = `echo "check $WARDEN_TICK $(date +%s%N)" >> ${f.ledger}`;
    // Runs until five checks have run (by the checks' own ledger lines), however many ticks a
    // loaded machine made late, then is stopped.
    const w = f.start(['watch', '--every', '100ms', '--check', check, '--retries', '2', '--retry-delay', '100ms',
      '--max-live', '4', '--log-file', f.logFile, '--job', f.job('exit 1')], { settleMs: 0 });
    await waitFor(() => readLedger(f.ledger).filter((e) => e.kind === 'check').length >= 5, 30_000, 'five checks');
    await w.signal('SIGTERM');
    const r = await w.done;
    const ledger = readLedger(f.ledger);
    const checks = ledger.filter((e) => e.kind === 'check').map((e) => ({ tick: e.pid, ms: Number(e.ns / 1_000_000n) }));
    const events = readLogFile(f.logFile).events;
    const spawns = events.filter((e) => e.event === 'spawn');
    const exits = events.filter((e) => e.event === 'exit');
    const overruns = events.filter((e) => e.event === 'skip' && e.reason === 'overrun');

    expect(r.code, r.stderr.slice(-400)).toBe(143);
    const ticks = [...checks.map((c) => c.tick), ...overruns.map((e) => Number(e.tick))].sort((a, b) => a - b);
    expect(ticks, 'every tick is a check or a logged overrun, once').toEqual(ticks.map((_, i) => i + 1));
    expect(checks.length).toBeGreaterThanOrEqual(5);
    expect(new Set(checks.map((c) => c.tick)).size, 'one check per tick').toBe(checks.length);
    // Over the run, tick n's check starts no earlier than (n - first) intervals after the first one
    // (150 ms of slack for a check process that starts late on a loaded machine): the schedule sets the pace.
    // Counted from the second check: the first one also waits for warden to load its check runner.
    const first = checks[1]!;
    const last = checks.at(-1)!;
    expect(last.ms - first.ms, `ms from the check of tick ${first.tick} to that of tick ${last.tick}`).toBeGreaterThanOrEqual((last.tick - first.tick) * 100 - 150);
    // The stop may come between the last check and its job.
    expect(spawns.length, 'the first attempt of every fired tick').toBeGreaterThanOrEqual(checks.length - 1);
    expect(spawns.length, 'at most 1 + 2 retries per trigger').toBeLessThanOrEqual(checks.length * 3);
    expect(exits.length, 'every attempt has its exit record').toBe(spawns.length);
    // A job the stop caught is killed; every other one failed by itself.
    for (const e of exits) expect(['failed', 'killed']).toContain(e.outcome);
    // Backoff: for each trigger, attempt k+1 starts at least retryDelay * 2^(k-1) after attempt k ended.
    const byTick = new Map<number, { attempt: number; start: number }[]>();
    for (const s of spawns) {
      const list = byTick.get(Number(s.tick)) ?? [];
      list.push({ attempt: Number(s.attempt), start: Date.parse(String(s.ts)) });
      byTick.set(Number(s.tick), list);
    }
    for (const [tick, list] of byTick) {
      list.sort((a, b) => a.attempt - b.attempt);
      expect(list.map((a) => a.attempt), `attempts of tick ${tick}`).toEqual(list.map((_, i) => i + 1));
      for (let k = 1; k < list.length; k++) {
        expect(list[k]!.start - list[k - 1]!.start, `tick ${tick}: gap before attempt ${k + 1}`).toBeGreaterThanOrEqual(100 * 2 ** (k - 1) - 10);
      }
    }
    expect(r.report.escaped).toEqual([]);
  }, 30_000);
});
