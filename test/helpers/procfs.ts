// Small, exception-free readers of /proc: the suite judges warden by what the kernel shows.
import fs from 'node:fs';

/** Why: the fields of /proc/PID/stat the suite needs. */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgid: number;
  /** Clock ticks after boot: with the pid, identifies one process across pid reuse. */
  starttime: number;
}

/** Why: state, parent, process group and start time of a pid, or undefined once it is gone. */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: rest[0]!, ppid: Number(rest[1]), pgid: Number(rest[2]), starttime: Number(rest[19]) };
}

/** Why: a process's environment block; empty for zombies and exiting processes (their memory is gone). */
export function readEnviron(pid: number): Buffer {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`);
  } catch {
    return Buffer.alloc(0);
  }
}

/** Why: shows what a stray process is, in failure messages. */
export function readCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Why: every pid on the machine (in this pid namespace). */
export function listPids(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}

/** Why: a live, non-zombie process (a zombie holds no descriptors and so no slot). */
export function isAlive(pid: number): boolean {
  const st = readStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** Why: the peak resident memory of a process (VmHWM, kB), to bound warden's memory under output floods. */
export function readVmHWMkB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why: a process's peak RSS while it runs, sampled every `everyMs` from VmHWM (which is gone
 * once it exits); call the returned function when it has exited to stop sampling and get the peak in kB.
 */
export function samplePeakRss(pid: number, everyMs = 20): () => number {
  let peakKb = 0;
  const timer = setInterval(() => {
    peakKb = Math.max(peakKb, readVmHWMkB(pid) ?? 0);
  }, everyMs);
  return () => {
    clearInterval(timer);
    return peakKb;
  };
}

/** Why: pids whose environment carries `needle` (e.g. FAULT_TAG=...), found by a full /proc scan. */
export function pidsWithEnv(needle: string): number[] {
  const buf = Buffer.from(needle + '\0');
  const out: number[] = [];
  for (const pid of listPids()) {
    const env = readEnviron(pid);
    if (env.length > 0 && (env.indexOf(buf) === 0 || env.indexOf(Buffer.concat([Buffer.from([0]), buf])) >= 0)) out.push(pid);
  }
  return out;
}
