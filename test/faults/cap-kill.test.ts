// SPEC "The cap holds everywhere ... also after any of them is killed with SIGKILL": SIGKILL storms at one-shots.
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { maxConcurrent, readLedger } from '../helpers/ledger.js';
import { BACKENDS, probePool } from '../helpers/pool-probe.js';
import { statusLive } from '../helpers/status.js';
import { monotonicMs, pause, random, waitFor } from '../helpers/wait.js';

const fixture = useFixture();

describe.each(BACKENDS)('the cap holds everywhere (%s pools)', (backend) => {
    it('frees every slot after hundreds of warden run one-shots are SIGKILLed between their start and 50 ms into their job', async () => {
      const f = fixture('kill200');
      const iterations = Number(process.env.FAULT_KILL_ITERATIONS ?? (backend === 'socket' ? 200 : 100));
      const batch = 16;
      const args = ['run', '--pool', 'k', '--pool-backend', backend, '--max-live', '3', '--state-dir', f.stateDir, '--'];
      // Calibrate: how long from spawning warden to its job's first line, on this machine now.
      const t0 = monotonicMs();
      const calib = f.start([...args, ...f.argv('true')]);
      await waitFor(() => readLedger(f.ledger).some((e) => e.kind === 'start'), 15_000, 'the calibration job');
      const startupMs = monotonicMs() - t0;
      expect((await calib.done).code).toBe(0);
      const sampler = f.sampler(5).start();
      let killed = 0;
      // Until half of the iterations were killed in time (a run that ended before its kill does not
      // count): how fast a run is varies with the machine's load, so the count is the goal, not the time.
      for (let i = 0; killed <= iterations / 2 && i < 3 * iterations; i += batch) {
        await Promise.all(
          Array.from({ length: batch }, async () => {
            const w = f.start([...args, ...f.argv('sleep 0.05')], { settleMs: 5000 });
            const pid = await w.pid();
            await pause(random(startupMs + 50));
            try {
              process.kill(pid, 'SIGKILL');
              killed++;
            } catch {
              /* it had already finished */
            }
            await w.done;
          }),
        );
      }
      await waitFor(() => sampler.sample().length === 0, 10_000, 'every orphaned job to end');
      const report = sampler.stop();
      expect(killed).toBeGreaterThan(iterations / 2);
      expect(report.maxGroups, JSON.stringify(report.atMax)).toBeLessThanOrEqual(3);
      expect(maxConcurrent(readLedger(f.ledger)).max).toBeLessThanOrEqual(3);
      expect(await statusLive(f.stateDir, 'k'), 'status --json counts no live job').toBe(0);
      const probe = await probePool(f.stateDir, 'k', 3, backend);
      expect(probe).toMatchObject({ holders: [0, 0, 0], extra: 75 });
    }, 300_000);

  it('answers status --json correctly at every moment while holders start, finish and are SIGKILLed', async () => {
    const f = fixture('statuschurn');
    const args = ['run', '--pool', 'sc', '--pool-backend', backend, '--max-live', '3', '--state-dir', f.stateDir, '--'];
    const deadline = monotonicMs() + 3000;
    const churn = async (): Promise<void> => {
      while (monotonicMs() < deadline) {
        const w = f.start([...args, ...f.argv(`sleep 0.0${1 + random(9)}`)], { settleMs: 3000 });
        if (Math.random() < 0.5) {
          const pid = await w.pid();
          await pause(random(150));
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* done already */
          }
        }
        await w.done;
      }
    };
    const answers: { code: number; live: number | undefined; text: string }[] = [];
    const ask = async (): Promise<void> => {
      // At least six answers even on a machine too loaded to give them before the deadline.
      while (monotonicMs() < deadline || answers.length < 6) {
        const r = await f.start(['status', '--json', '--pool', 'sc', '--state-dir', f.stateDir]).done;
        let live: number | undefined;
        try {
          live = (JSON.parse(r.stdout) as { pools: { name: string; live: number }[] }).pools.find((p) => p.name === 'sc')?.live;
        } catch {
          live = undefined;
        }
        answers.push({ code: r.code, live, text: (r.stdout + r.stderr).slice(0, 300) });
      }
    };
    await Promise.all([churn(), churn(), churn(), churn(), ask(), ask()]);
    expect(answers.length).toBeGreaterThan(5);
    expect(answers.filter((a) => a.code !== 0 || (a.live !== undefined && (a.live < 0 || a.live > 3))), 'failed or impossible status answers').toEqual([]);
    await waitFor(() => f.sampler().sample().length === 0, 10_000, 'every job to end');
    expect(await statusLive(f.stateDir, 'sc')).toBe(0);
  }, 60_000);
});

