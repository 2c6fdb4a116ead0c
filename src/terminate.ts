// Ending a process group, for checks and jobs alike: TERM and CONT at once (a stopped group can
// act on the TERM only once continued), then KILL after the grace if anything of it is left.
import { setTimeout as sleep } from 'node:timers/promises';
import type { OwnGroup } from './own-group.js';

export class Termination {
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  /** SIGKILL was needed after the grace. */
  forced = false;

  constructor(
    private readonly group: OwnGroup,
    private readonly killAfterMs: number,
  ) {}

  get begun(): boolean {
    return this.started;
  }

  /** TERM and CONT now, KILL after the grace. Once only. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.group.signal('SIGTERM');
    this.group.signal('SIGCONT');
    this.timer = setTimeout(() => this.kill(), this.killAfterMs);
  }

  /** KILL now (the grace is over, or shutdown cannot wait). */
  kill(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.group.alive() && this.group.signal('SIGKILL')) this.forced = true;
  }

  /** The leader has exited: the KILL stays armed only for members it left behind. */
  leaderExited(): void {
    if (this.timer && !this.group.alive()) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}

/** Make sure groups are gone: TERM and CONT, KILL whatever is left after the grace. */
export async function endGroups(groups: OwnGroup[], killAfterMs: number): Promise<void> {
  const alive = (): OwnGroup[] => groups.filter((g) => g.alive());
  if (!alive().length) return;
  for (const g of alive()) {
    g.signal('SIGTERM');
    g.signal('SIGCONT');
  }
  const deadline = performance.now() + killAfterMs;
  while (alive().length && performance.now() < deadline) await sleep(20);
  for (const g of alive()) g.signal('SIGKILL');
  const hard = performance.now() + 2000;
  while (alive().length && performance.now() < hard) await sleep(10);
}
