// SPEC --detach: the command returns at once; a small runner keeps the slots, reaps the jobs and logs their exits.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { maxConcurrent, readLedger } from '../helpers/ledger.js';
import { probePool } from '../helpers/pool-probe.js';
import { isAlive } from '../helpers/procfs.js';
import { readLogFile } from '../helpers/supervised.js';
import { waitFor } from '../helpers/wait.js';

const fixture = useFixture();

describe('detached jobs', () => {
  it('once --detach returns at once, and its runner logs every exit exactly once, keeps the cap and frees the slots', async () => {
    const f = fixture('detach');
    const release = path.join(f.work, 'release');
    const hold = f.job(`while [ ! -e ${release} ]; do sleep 0.01; done`);
    const w = f.start(['once', '--detach', '--pool', 'dt', '--max-live', '3', '--log-file', f.logFile, '--job', hold, '--job', hold, '--job', f.job('exit 3')],
      { settleMs: 15_000 });
    const pid = await w.pid();
    // The two held jobs cannot end before the test writes `release`: returning at all is returning at once.
    await waitFor(() => !isAlive(pid), 10_000, 'once --detach to return while its jobs are held');
    expect(readLedger(f.ledger).filter((e) => e.kind === 'end').length, 'only the failing job, not a held one, ended before once returned').toBeLessThanOrEqual(1);
    await waitFor(() => readLedger(f.ledger).filter((e) => e.kind === 'start').length >= 2, 10_000, 'the detached jobs to start');
    await waitFor(() => readLogFile(f.logFile).events.some((e) => e.event === 'exit' && e.exitCode === 3), 10_000, 'the exit of the failing job');
    const refused = await f.start(['run', '--pool', 'dt', '--max-live', '2', '--overflow', 'skip', '--', 'true']).done;
    expect(refused.code, 'the runner\'s jobs hold two slots').toBe(75);
    fs.writeFileSync(release, '');
    const r = await w.done;
    expect(r.code, `once --detach returns 0 once its jobs are started: ${r.stderr}`).toBe(0);
    expect(r.report.escaped, 'the runner and its jobs all ended').toEqual([]);
    const events = readLogFile(f.logFile).events;
    const spawns = events.filter((e) => e.event === 'spawn').map((e) => String(e.jobId));
    const exits = events.filter((e) => e.event === 'exit');
    const skips = events.filter((e) => e.event === 'skip');
    expect(skips, 'nothing skipped').toEqual([]);
    expect(spawns, 'all three jobs started').toHaveLength(3);
    expect(exits.map((e) => String(e.jobId)).sort(), 'one exit per spawned job').toEqual([...spawns].sort());
    expect(exits.map((e) => e.outcome).sort()).toEqual(['failed', 'ok', 'ok']);
    expect(maxConcurrent(readLedger(f.ledger)).max).toBeLessThanOrEqual(3);
    expect(await probePool(f.stateDir, 'dt', 3)).toMatchObject({ holders: [0, 0, 0], extra: 75 });
  }, 30_000);

  it('keeps the slots of detached jobs whose runner was SIGKILLed until the jobs end', async () => {
    const f = fixture('detachkill');
    const release = path.join(f.work, 'release');
    const w = f.start(['once', '--detach', '--pool', 'dk', '--max-live', '1', '--log-file', f.logFile,
      '--job', f.job(`while [ ! -e ${release} ]; do sleep 0.01; done`)], { settleMs: 15_000 });
    await waitFor(() => readLedger(f.ledger).some((e) => e.kind === 'start'), 10_000, 'the detached job to start');
    // The job can write its ledger line before the runner has logged its spawn: wait for it.
    const runner = await waitFor(() => readLogFile(f.logFile).events.find((e) => e.event === 'spawn')?.pid, 10_000, 'the spawn event naming the runner');
    expect(runner, 'the spawn event names the runner').toBeDefined();
    process.kill(runner!, 'SIGKILL');
    await waitFor(() => !isAlive(runner!), 5000, 'the runner to die');
    const args = ['run', '--pool', 'dk', '--max-live', '1', '--overflow', 'skip', '--', 'true'];
    expect((await f.start(args).done).code, 'the orphaned detached job still holds the slot').toBe(75);
    fs.writeFileSync(release, '');
    expect((await w.done).report.escaped).toEqual([]);
    expect((await f.start(args).done).code, 'the slot is free once the job ended').toBe(0);
  }, 30_000);
});
