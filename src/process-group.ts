// Signals go to a job's whole process group: /bin/sh (dash) neither forwards signals nor execs
// its last command, so signalling the shell alone would leave the real work running.

/** Send a signal to every process in the group; false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of the group is still alive (or a zombie not yet reaped). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** TERM then CONT, so that a stopped group can act on the TERM. */
export function terminateGroup(pgid: number): void {
  signalGroup(pgid, 'SIGTERM');
  signalGroup(pgid, 'SIGCONT');
}

/** Make sure groups are gone: TERM and CONT, KILL whatever is left after the grace. */
export async function reapGroups(pgids: number[], killAfterMs: number): Promise<void> {
  const alive = (): number[] => pgids.filter(groupAlive);
  if (!alive().length) return;
  alive().forEach(terminateGroup);
  const deadline = performance.now() + killAfterMs;
  while (alive().length && performance.now() < deadline) await sleep(20);
  alive().forEach((p) => signalGroup(p, 'SIGKILL'));
  const hard = performance.now() + 2000;
  while (alive().length && performance.now() < hard) await sleep(10);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
