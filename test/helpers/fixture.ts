// Per-test scaffolding: a state dir, a tag, a ledger, and cleanup of every warden the test started.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach } from 'vitest';
import { makeTempDir, startSupervised, type Supervised, type SupervisedOptions } from './supervised.js';
import { newTag, taggedArgv, taggedJob } from './shell.js';
import { Sampler } from './sampler.js';
import { TAG_VAR } from './shell.js';
import { killTagged } from './warden.js';

/** Why: everything one test needs, in one value, so tests stay short and isolated. */
export interface Fixture {
  /** The test's own state dir (pools live here). */
  stateDir: string;
  /** A scratch dir beside it, for ledgers and logs that must survive the state dir. */
  work: string;
  tag: string;
  ledger: string;
  logFile: string;
  /** Start a warden under a subreaper; it is killed at the end of the test if still running. */
  start: (args: string[], options?: Partial<SupervisedOptions>) => Supervised;
  /** A `--job` command tagged for this test that writes to the ledger. */
  job: (body: string) => string;
  /** The same as an argv for `warden run --`. */
  argv: (body: string) => string[];
  sampler: (everyMs?: number) => Sampler;
  /** Kill whatever the test left running and remove its dirs. */
  cleanup: () => Promise<void>;
}

/** Why: every test gets a fresh, private world, and leaves nothing running behind it. */
export function fixture(label: string): Fixture {
  const stateDir = makeTempDir(label);
  const work = makeTempDir(`${label}-work`);
  const tag = newTag(label);
  const ledger = path.join(work, 'ledger');
  const logFile = path.join(work, 'events.jsonl');
  const started: Supervised[] = [];
  const samplers: Sampler[] = [];
  return {
    stateDir,
    work,
    tag,
    ledger,
    logFile,
    start: (args, options = {}) => {
      const w = startSupervised(args, { stateDir, ...options });
      started.push(w);
      return w;
    },
    job: (body) => taggedJob(tag, ledger, body),
    argv: (body) => taggedArgv(tag, ledger, body),
    sampler: (everyMs) => {
      const s = new Sampler(tag, everyMs);
      samplers.push(s);
      return s;
    },
    cleanup: async () => {
      for (const s of samplers) s.stop();
      for (const w of started) {
        if (w.child.exitCode === null && w.child.signalCode === null) {
          try {
            process.kill(await w.pid(), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      await Promise.allSettled(started.map((w) => w.done));
      killTagged(TAG_VAR, tag);
      fs.rmSync(stateDir, { recursive: true, force: true });
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * Why: the one afterEach every fault test file needs: call once at module level; the returned
 * function makes a fixture that is cleaned up when the test that made it ends, pass or fail.
 */
export function useFixture(): (label: string) => Fixture {
  let live: Fixture[] = [];
  afterEach(async () => {
    const done = live;
    live = [];
    for (const f of done) await f.cleanup();
  });
  return (label) => {
    const f = fixture(label);
    live.push(f);
    return f;
  };
}
