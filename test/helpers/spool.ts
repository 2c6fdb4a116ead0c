// The spool tests' scene: each test its own state dir, and a job that leaves a trace of each run.
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach } from 'vitest';
import { eventsNamed } from './events.js';
import type { LogEvent } from './events.js';
import { readText, startWarden, testDir, waitFor } from './warden.js';
import type { Started } from './warden.js';

export interface SpoolScene {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Each run of `job` appends the epoch milliseconds it started at here. */
  ledger: string;
  job: string;
  /** The start times of the job's runs, in epoch ms. */
  runs(): number[];
  /** The default pool's spool folder. */
  spoolDir(): string;
  /** The entries in it (none while it does not exist). */
  spooled(): string[];
  /** A watch whose first tick delays the job; resolves once the delay is logged (and spooled). */
  watchUntilDelay(delay: string, extra?: string[]): Promise<{ w: Started; delay: LogEvent }>;
  /** The same, and the watch SIGKILLed: the job is left in the spool. */
  spoolOne(delay: string, extra?: string[]): Promise<LogEvent>;
}

/** Why: the spool tests all ask the same of a test: how often the job ran, and what is spooled. */
export function useSpoolScene(label: string): SpoolScene {
  const scene: SpoolScene = {
    dir: '',
    env: {},
    ledger: '',
    job: '',
    runs: () => readText(scene.ledger).split('\n').filter(Boolean).map(Number),
    spoolDir: () => path.join(scene.dir, 'state', 'spool', 'default'),
    spooled: () => {
      try {
        return fs.readdirSync(scene.spoolDir()).filter((n) => n.endsWith('.json'));
      } catch {
        return [];
      }
    },
    watchUntilDelay: async (delay, extra = []) => {
      const w = startWarden(['watch', '--every', '1h', '--log', 'json', '--delay', delay, '--job', scene.job, ...extra], { env: scene.env });
      return { w, delay: await waitFor('the delay event', () => eventsNamed(w.events(), 'delay')[0]) };
    },
    spoolOne: async (delay, extra = []) => {
      const { w, delay: event } = await scene.watchUntilDelay(delay, extra);
      await stopWarden(w, 'SIGKILL');
      return event;
    },
  };
  beforeEach(() => {
    ({ dir: scene.dir, env: scene.env } = testDir(label));
    scene.ledger = path.join(scene.dir, 'ran');
    scene.job = `date +%s%3N >> "${scene.ledger}"`;
  });
  return scene;
}

/** Signals a warden and waits for it to end; one that already ended (a fast resume) is fine. */
export async function stopWarden(w: Started, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  w.child.kill(signal); // unlike process.kill, no throw when it has already been reaped
  await w.done;
}
