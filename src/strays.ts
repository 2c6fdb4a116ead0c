// Process groups that finished jobs and checks left behind (a `sleep 600 &` in a job): they keep
// the job's slot, so they must not outlive warden. Each is known only by its verified group
// (no copy of the job's request or environment), and dropped once it is gone.
import type { OwnGroup } from './own-group.js';
import { endGroups } from './terminate.js';

// How often the list is pruned (and the groups' members re-verified) while it is not empty.
const PRUNE_EVERY_MS = 1000;

export class Strays {
  private readonly groups = new Set<OwnGroup>();
  private timer: NodeJS.Timeout | undefined;

  get size(): number {
    return this.groups.size;
  }

  add(group: OwnGroup): void {
    this.groups.add(group);
    this.prune();
    this.timer ??= setInterval(() => this.prune(), PRUNE_EVERY_MS).unref();
  }

  /** TERM and CONT every group left (shutdown); the final reap KILLs what remains. */
  terminate(): void {
    for (const g of this.groups) {
      g.signal('SIGTERM');
      g.signal('SIGCONT');
    }
  }

  /** Make sure every one is gone: TERM and CONT, KILL after the grace. */
  async end(killAfterMs: number): Promise<void> {
    await endGroups([...this.groups], killAfterMs);
    this.groups.clear();
    this.stopPruning();
  }

  private prune(): void {
    for (const g of this.groups) if (!g.alive()) this.groups.delete(g);
    if (!this.groups.size) this.stopPruning();
  }

  private stopPruning(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
