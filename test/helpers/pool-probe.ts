// Probing a pool from outside: are all N slots free? (N runs fit at once, the N+1th is refused with 75.)
import fs from 'node:fs';
import path from 'node:path';
import { startSupervised, type SupervisedResult } from './supervised.js';
import { readLedger } from './ledger.js';
import { taggedArgv, newTag } from './shell.js';
import { waitFor } from './wait.js';

/** Why: the cap must hold on every pool backend, so the cap tests run once per backend. */
export const BACKENDS = ['socket', 'flock'] as const;

/** Why: the exit codes a probe saw, for one exact assertion. */
export interface ProbeResult {
  /** Exit codes of the N runs that should all have got a slot. */
  holders: number[];
  /** Exit code of the N+1th run, refused while the N held their slots. */
  extra: number;
  extraStderr: string;
}

/**
 * Why: the only outside proof that no slot leaked: N `warden run --overflow skip` start
 * their commands together (each waits until all N have started), and one more gets 75.
 */
export async function probePool(stateDir: string, pool: string, n: number, backend = 'socket', deadlineMs = 15_000): Promise<ProbeResult> {
  const dir = fs.mkdtempSync(path.join(stateDir, '..', path.basename(stateDir) + '-probe-'));
  const ledger = path.join(dir, 'ledger');
  const release = path.join(dir, 'release');
  const tag = newTag('probe');
  const body = `while [ ! -e ${release} ]; do sleep 0.01; done`;
  const args = ['run', '--pool', pool, '--pool-backend', backend, '--max-live', String(n), '--overflow', 'skip', '--state-dir', stateDir, '--'];
  const holders = Array.from({ length: n }, () => startSupervised([...args, ...taggedArgv(tag, ledger, body)], { stateDir }));
  let failedEarly: SupervisedResult | undefined;
  for (const h of holders) void h.done.then((r) => { if (!fs.existsSync(release)) failedEarly = r; });
  try {
    await waitFor(
      () => {
        if (failedEarly) throw new Error(`a probe holder ended before the others started: exit ${failedEarly.code}: ${failedEarly.stderr.trim()}`);
        return readLedger(ledger).filter((e) => e.kind === 'start').length >= n;
      },
      deadlineMs,
      `${n} probe runs to start in pool ${pool}`,
    );
    const extra = await startSupervised([...args, 'true'], { stateDir }).done;
    fs.writeFileSync(release, '');
    const results = await Promise.all(holders.map((h) => h.done));
    return { holders: results.map((r) => r.code), extra: extra.code, extraStderr: extra.stderr };
  } finally {
    fs.writeFileSync(release, '');
    await Promise.allSettled(holders.map((h) => h.done));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
