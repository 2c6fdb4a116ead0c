// A process group warden started, signalled only while it is verifiably still warden's: a
// group's id is its leader's pid, and once every member is gone the kernel may hand that number
// to an unrelated process that makes itself a group leader.
import { groupAlive, groupExists, groupMembers, signalGroup } from './process-group.js';
import type { Member } from './process-group.js';

export class OwnGroup {
  private leaderExited = false;
  /** After the leader's exit: the members last seen, by pid and start time. */
  private known = new Map<number, string>();
  private lost = false;

  constructor(readonly pgid: number) {}

  /** The leader was reaped: from now on the group is ours only through members we have seen. */
  leaderGone(): void {
    if (this.leaderExited) return;
    this.leaderExited = true;
    this.verify();
  }

  /**
   * Whether the group is still ours, checked now. While the leader is unreaped its pid (the
   * group id) cannot be reused. After that, the group is ours while a member we saw before is
   * alive (an id is not reused while any member holds it); those members are remembered.
   */
  verify(): boolean {
    return this.leaderExited ? this.members() !== undefined : true;
  }

  /** Whether a live (not zombie) member of our group is left. */
  alive(): boolean {
    if (!this.leaderExited) return groupAlive(this.pgid);
    return this.members()?.some((m) => !m.zombie) ?? false;
  }

  /** Once the leader is gone: the group's members if it is still ours, else undefined. */
  private members(): Member[] | undefined {
    if (this.lost) return undefined;
    // Most groups are gone with their leader: a signal 0 says so without reading /proc.
    const members = groupExists(this.pgid) ? groupMembers(this.pgid) : [];
    // Without /proc nothing can be verified: never signal.
    if (!members?.length || (this.known.size && !members.some((m) => this.known.get(m.pid) === m.start))) {
      this.lost = true;
      this.known.clear();
      return undefined;
    }
    this.known = new Map(members.map((m) => [m.pid, m.start]));
    return members;
  }

  /** Signal the whole group if it is still ours; false when it was not signalled. */
  signal(sig: NodeJS.Signals): boolean {
    return this.verify() && signalGroup(this.pgid, sig);
  }
}
