// Runs a Python driver inside a private pid namespace (`unshare --fork --pid --mount-proc`),
// where a test can steer pid reuse through ns_last_pid without touching the rest of the machine.
// The driver prints its findings as JSON on its last line of stdout; reap() is defined for it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const UNSHARE = ['--fork', '--pid', '--mount-proc'];

// The driver is pid 1 of its namespace: every orphan there is its child, and stays a zombie
// (its pid not free for reuse) until it is reaped.
const PRELUDE = `import os
def reap():
    while True:
        try:
            p, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if p == 0:
            return
`;

export function runInPidNamespace<T>(work: string, name: string, source: string, args: string[], env: NodeJS.ProcessEnv): T {
  if (spawnSync('unshare', [...UNSHARE, 'true']).status !== 0) {
    // Like setpriv for the other-user tests, this needs root (CAP_SYS_ADMIN): the suite runs as root.
    throw new Error('`unshare --fork --pid --mount-proc` does not work here: run the suite as root');
  }
  const script = path.join(work, `${name}.py`);
  fs.writeFileSync(script, PRELUDE + source);
  const out = spawnSync('unshare', [...UNSHARE, 'python3', script, ...args], { env, encoding: 'utf8', timeout: 45_000 });
  const line = out.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${name} driver failed (${out.status}): ${out.stdout}\n${out.stderr}`);
  }
}
