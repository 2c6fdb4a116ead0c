// One --on-failure command: /bin/sh -c in a process group of its own (so a timeout or warden's
// shutdown reaches everything it started), no pool slot, output relayed like a job's with a
// bounded tail kept, TERM+CONT at the timeout and KILL after the grace. Its group is signalled
// only while it is verifiably still the hook's (own-group.ts), as jobs' and checks' are.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { childEnd } from '../child-exit.js';
import { LineFramer, LineSplitter, Tail } from '../output.js';
import { OwnGroup } from '../own-group.js';
import { Termination, endGroups } from '../terminate.js';

export interface HookOptions {
  command: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  killAfterMs: number;
  /** Where its output goes, framed behind a prefix; drained when absent. */
  relay?: { prefix: Buffer; write: (framed: Buffer) => void };
}

export interface HookResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Why it could not be started. */
  error?: string;
  tail: string;
}

export class HookProcess {
  readonly done: Promise<HookResult>;
  private termination: Termination | undefined;
  private timedOut = false;

  constructor(private readonly options: HookOptions) {
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', options.command], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: options.env });
    } catch (err) {
      this.done = Promise.resolve({ exitCode: null, signal: null, timedOut: false, error: String(err), tail: '' });
      return;
    }
    this.done = this.watch(child);
  }

  /** TERM and CONT to the group now, KILL after the grace. */
  stop(): void {
    this.termination?.start();
  }

  private async watch(child: ChildProcess): Promise<HookResult> {
    const { relay } = this.options;
    const group = child.pid === undefined ? undefined : new OwnGroup(child.pid);
    this.termination = group && new Termination(group, this.options.killAfterMs);
    const tail = new Tail();
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      const splitter = new LineSplitter();
      const framer = relay ? new LineFramer(relay.prefix) : undefined;
      stream.on('data', (chunk: Buffer) => {
        const framed = framer?.push(chunk);
        if (framed) relay?.write(framed);
        tail.add(splitter.push(chunk));
      });
      stream.on('close', () => {
        const rest = framer?.flush();
        if (rest) relay?.write(rest);
        tail.add(splitter.flush());
      });
    }
    const timer = setTimeout(() => {
      this.timedOut = true;
      this.stop();
    }, this.options.timeoutMs);
    const end = await childEnd(child, () => {
      clearTimeout(timer);
      group?.leaderGone();
      this.termination?.leaderExited();
    });
    if (end.kind === 'error') {
      const code = (end.error as NodeJS.ErrnoException).code;
      return { exitCode: null, signal: null, timedOut: false, error: code ?? end.error.message, tail: '' };
    }
    // Nothing it started may outlive it: what is left of its group is ended now.
    if (group) await endGroups([group], this.options.killAfterMs);
    child.stdout?.destroy();
    child.stderr?.destroy();
    return { exitCode: end.exitCode, signal: end.signal, timedOut: this.timedOut, tail: tail.text() };
  }
}
