// A /proc sampler: counts live process groups of a test's tagged jobs every few ms and keeps the maximum.
import { pidsWithEnv, readEnviron, readStat, readCmdline } from './procfs.js';
import { TAG_VAR } from './shell.js';

/** Why: one live process group as a sample saw it, for failure messages. */
export interface GroupSnapshot {
  pgid: number;
  pids: number[];
  cmdlines: string[];
}

/** Why: a tagged process seen as a zombie, with its parent and for how long. */
export interface ZombieSighting {
  pid: number;
  ppid: number;
  /** How long it was seen as a zombie, in ms (until it was reaped or sampling stopped). */
  forMs: number;
  reaped: boolean;
}

/** Why: what sampling found over a whole test. */
export interface SamplerReport {
  samples: number;
  maxGroups: number;
  /** The groups seen at the peak, for failure messages. */
  atMax: GroupSnapshot[];
  zombies: ZombieSighting[];
  /** Distinct tagged process groups seen over the whole run. */
  groupsSeen: number;
}

interface Tracked {
  starttime: number;
  zombieSince?: number;
  ppid: number;
}

/**
 * Why: the cap is a promise about the machine, so it is checked on the machine: a tagged
 * process is counted only if its environ is still readable after the whole scan (a process
 * that has released its memory has also closed its descriptors), which makes each sample
 * a set of groups that were all alive at one instant.
 */
export class Sampler {
  private readonly needle: string;
  private timer: NodeJS.Timeout | undefined;
  private report: SamplerReport = { samples: 0, maxGroups: 0, atMax: [], zombies: [], groupsSeen: 0 };
  private readonly tracked = new Map<number, Tracked>();
  private readonly groups = new Set<number>();

  constructor(tag: string, private readonly everyMs = 3) {
    this.needle = `${TAG_VAR}=${tag}`;
  }

  /** Why: sampling runs beside the test's own work, on a timer. */
  /** Why: how many samples so far, for a test that samples until it has enough. */
  get samples(): number {
    return this.report.samples;
  }

  start(): this {
    this.timer = setInterval(() => this.sample(), this.everyMs);
    return this;
  }

  /** Why: one scan, also usable on demand ("is anything of this test still alive?"). */
  sample(): GroupSnapshot[] {
    const now = Date.now();
    const seen = pidsWithEnv(this.needle);
    const needle = Buffer.from(this.needle);
    const live: { pid: number; pgid: number }[] = [];
    for (const pid of seen) {
      const st = readStat(pid);
      if (!st || st.state === 'Z' || st.state === 'X') continue;
      if (!this.tracked.has(pid) || this.tracked.get(pid)!.starttime !== st.starttime) {
        this.tracked.set(pid, { starttime: st.starttime, ppid: st.ppid });
      }
      live.push({ pid, pgid: st.pgid });
    }
    // Re-check after the scan: whatever is still tagged now was alive through the end of the scan.
    const confirmed = live.filter(({ pid }) => readEnviron(pid).includes(needle));
    const byGroup = new Map<number, number[]>();
    for (const { pid, pgid } of confirmed) byGroup.set(pgid, [...(byGroup.get(pgid) ?? []), pid]);
    const snapshot = [...byGroup].map(([pgid, pids]) => ({ pgid, pids, cmdlines: pids.map(readCmdline) }));
    for (const g of byGroup.keys()) this.groups.add(g);
    this.report.samples++;
    if (snapshot.length > this.report.maxGroups) {
      this.report.maxGroups = snapshot.length;
      this.report.atMax = snapshot;
    }
    this.watchZombies(now);
    return snapshot;
  }

  private watchZombies(now: number): void {
    for (const [pid, t] of this.tracked) {
      const st = readStat(pid);
      if (!st || st.starttime !== t.starttime) {
        if (t.zombieSince !== undefined) this.report.zombies.push({ pid, ppid: t.ppid, forMs: now - t.zombieSince, reaped: true });
        this.tracked.delete(pid);
        continue;
      }
      t.ppid = st.ppid;
      if (st.state === 'Z' && t.zombieSince === undefined) t.zombieSince = now;
    }
  }

  /** Why: tagged processes that are zombies right now (seen alive earlier, not yet reaped). */
  zombiesNow(): number[] {
    return [...this.tracked].filter(([, t]) => t.zombieSince !== undefined).map(([pid]) => pid);
  }

  /** Why: ends sampling and returns the peak, the groups at the peak and every zombie sighting. */
  stop(): SamplerReport {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const now = Date.now();
    for (const [pid, t] of this.tracked) {
      if (t.zombieSince !== undefined) this.report.zombies.push({ pid, ppid: t.ppid, forMs: now - t.zombieSince, reaped: false });
    }
    this.report.groupsSeen = this.groups.size;
    return this.report;
  }
}
