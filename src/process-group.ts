// Signals go to a job's whole process group: /bin/sh (dash) neither forwards signals nor execs
// its last command, so signalling the shell alone would leave the real work running.
import fs from 'node:fs';

/** Send a signal to every process in the group; false when the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any process of the group is still alive. A zombie does not count: an orphan that the
 * machine's init has not reaped yet still answers kill(-pgid, 0), but holds nothing and runs nothing.
 */
export function groupAlive(pgid: number): boolean {
  return exists(-pgid) && (liveMember(pgid) ?? true);
}

/** Whether any process (a zombie included) is in the group: a signal 0 costs far less than a scan of /proc. */
export function groupExists(pgid: number): boolean {
  return exists(-pgid);
}

/** Whether a process exists (a zombie included): signal 0 checks without signalling. */
export function processAlive(pid: number): boolean {
  return exists(pid);
}

function exists(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether /proc shows a member of the group that is not a zombie; undefined without /proc. */
function liveMember(pgid: number): boolean | undefined {
  return groupMembers(pgid)?.some((m) => !m.zombie);
}

/** One process of a group as /proc shows it; `start` tells it apart from a later process with its pid. */
export interface Member {
  pid: number;
  start: string;
  zombie: boolean;
}

/** The processes of a group, zombies included; undefined without /proc. */
export function groupMembers(pgid: number): Member[] | undefined {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return undefined;
  }
  const members: Member[] = [];
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ... starttime(22nd)": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 20);
    if (Number(fields[2]) !== pgid) continue;
    members.push({ pid: Number(name), start: fields[19] ?? '', zombie: fields[0] === 'Z' || fields[0] === 'X' });
  }
  return members;
}

/** TERM then CONT, so that a stopped group can act on the TERM. */
export function terminateGroup(pgid: number): void {
  signalGroup(pgid, 'SIGTERM');
  signalGroup(pgid, 'SIGCONT');
}
