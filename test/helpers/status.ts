// Reading `warden status --json` from outside: how many slots of a pool are live.
import { runSupervised } from './supervised.js';

interface StatusPool {
  name: string;
  live: number;
}

/** Why: the second outside view of a leak: status must count 0 live once every job is gone. */
export async function statusLive(stateDir: string, pool: string): Promise<number | undefined> {
  const r = await runSupervised(['status', '--json', '--pool', pool, '--state-dir', stateDir], { stateDir });
  let parsed: { pools?: StatusPool[] };
  try {
    parsed = JSON.parse(r.stdout) as { pools?: StatusPool[] };
  } catch {
    throw new Error(`warden status --json exited ${r.code} without JSON on stdout: ${JSON.stringify(r.stdout.slice(0, 500))} stderr: ${r.stderr.slice(-1000)}`);
  }
  return parsed.pools?.find((p) => p.name === pool)?.live;
}
