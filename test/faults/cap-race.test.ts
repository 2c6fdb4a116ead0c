// SPEC "The cap holds everywhere": watch, run and once processes racing for one pool while SIGKILLs fly.
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { maxConcurrent, readLedger } from '../helpers/ledger.js';
import { BACKENDS, probePool } from '../helpers/pool-probe.js';
import { type Supervised } from '../helpers/supervised.js';
import { statusLive } from '../helpers/status.js';
import { monotonicMs, pause, random, waitFor } from '../helpers/wait.js';

const fixture = useFixture();

describe.each(BACKENDS)('the cap holds everywhere (%s pools)', (backend) => {
    it('never lets more than 3 jobs of a pool live at once while watch, run and once processes race and are SIGKILLed, and frees every slot afterwards', async () => {
      const f = fixture('cap');
      const pool = 'cap';
      const common = ['--pool', pool, '--pool-backend', backend, '--max-live', '3', '--state-dir', f.stateDir, '--kill-after', '1s', '--log', 'json'];
      const jobBody = (): string => `sleep 0.${1 + random(3)}`;
      const sampler = f.sampler(3).start();
      const wardens = new Set<Supervised>();
      const track = (w: Supervised): Supervised => {
        wardens.add(w);
        void w.done.then(() => wardens.delete(w));
        return w;
      };
      const watchArgs = (overflow: string): string[] => [
        'watch', '--every', '100ms', ...common, '--overflow', overflow, '--max-queue', '1',
        '--job', f.job(jobBody()), '--job', f.job(jobBody()),
      ];
      const startWatch = (overflow: string): Supervised => track(f.start(watchArgs(overflow), { settleMs: 5000 }));
      const watches = [startWatch('wait'), startWatch('skip')];
      let kills = 0;
      // Race until enough happened, not for a fixed time: a loaded machine starts fewer processes
      // a second (the hard limit only keeps a broken run from going on for ever).
      const hardLimit = monotonicMs() + 40_000;
      const racing = (): boolean =>
        monotonicMs() < hardLimit && (kills < 6 || readLedger(f.ledger).filter((e) => e.kind === 'start').length < 12);
      let runs = 0;
      let onces = 0;
      const runLoop = async (): Promise<void> => {
        while (racing()) {
          runs++;
          await track(f.start(['run', ...common, '--', ...f.argv(jobBody())], { settleMs: 5000 })).done;
        }
      };
      const onceLoop = async (): Promise<void> => {
        while (racing()) {
          onces++;
          await track(f.start(['once', ...common, '--job', f.job(jobBody()), '--job', f.job(jobBody())], { settleMs: 5000 })).done;
        }
      };
      const chaos = async (): Promise<void> => {
        while (racing()) {
          await pause(50 + random(100));
          if (Math.random() < 0.5) {
            // SIGKILL a random warden process (its jobs are orphaned and must keep their slots).
            const list = [...wardens];
            const victim = list[random(list.length)];
            // Only a watch that really died is replaced: one that was not signalled (still
            // starting on a loaded machine) must stay in the list that is stopped at the end.
            if (victim && (await victim.signal('SIGKILL'))) {
              kills++;
              const i = watches.indexOf(victim);
              if (i >= 0) watches[i] = startWatch(i === 0 ? 'wait' : 'skip');
            }
          } else {
            // SIGKILL a random live job's whole process group.
            const groups = sampler.sample();
            const g = groups[random(groups.length)];
            if (g) {
              try {
                process.kill(-g.pgid, 'SIGKILL');
                kills++;
              } catch {
                /* already gone */
              }
            }
          }
        }
      };
      await Promise.all([runLoop(), runLoop(), onceLoop(), chaos()]);
      for (const w of watches) await w.signal('SIGTERM');
      await Promise.all([...wardens].map((w) => w.done));
      await waitFor(() => sampler.sample().length === 0, 15_000, 'every tagged job to end');
      const report = sampler.stop();
      const ledger = maxConcurrent(readLedger(f.ledger));

      expect(kills, 'the chaos loop killed something').toBeGreaterThanOrEqual(5);
      expect(ledger.starts, 'jobs ran').toBeGreaterThan(10);
      expect(report.samples, 'the sampler watched the race').toBeGreaterThan(10);
      expect(report.maxGroups, `groups at the peak: ${JSON.stringify(report.atMax)}`).toBeLessThanOrEqual(3);
      expect(ledger.max, 'jobs live at once, by their own start/end lines').toBeLessThanOrEqual(3);
      expect(await statusLive(f.stateDir, pool), 'status --json counts no live job').toBe(0);
      const probe = await probePool(f.stateDir, pool, 3, backend);
      expect(probe).toMatchObject({ holders: [0, 0, 0], extra: 75 });
      expect(runs + onces, 'run and once one-shots took part').toBeGreaterThan(4);
    }, 90_000);

});
