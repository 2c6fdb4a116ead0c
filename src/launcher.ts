// Starts one job: its own process group, holding its pool slot through an inherited
// descriptor, output drained continuously; enforces the timeout with TERM, CONT, then KILL to
// the whole group; resolves one ExitRecord the moment the job's own process exits.
import { spawn } from 'node:child_process';
import type { ChildProcess, IOType } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ExitOutcome, ExitRecord } from './events.js';
import { msg } from './messages.js';
import { LineFramer, LineSplitter, TAIL_LINES, Tail, lastLinesStart, tailOfBytes } from './output.js';
import type { Slot } from './pool/pool.js';
import { groupAlive, signalGroup, terminateGroup } from './process-group.js';

/** The job's descriptor for its slot: above the 3-9 that scripts use, and away from 10+ shells take. */
export const SLOT_FD = 19;
// After the job's exit, how long its pipes may take to deliver their last bytes to the tail.
const DRAIN_GRACE_MS = 50;

export type OutputMode =
  | { kind: 'relay'; prefix: Buffer; write: (framed: Buffer) => void }
  | { kind: 'drain' }
  | { kind: 'file'; dir: string }
  | { kind: 'inherit' };

export interface LaunchRequest {
  jobId: string;
  /** What the user wrote; shown in logs. */
  command: string;
  /** One shell command (run by /bin/sh -c), or an argv run directly. */
  shell?: string;
  argv?: string[];
  env: NodeJS.ProcessEnv;
  slot: Slot;
  tick: number;
  attempt: number;
  timeoutMs?: number;
  killAfterMs: number;
  output: OutputMode;
  stdin: 'ignore' | 'inherit';
}

type StdioEntry = IOType | number;

export type StopReason = 'timeout' | 'terminated';

export class RunningJob {
  readonly pid: number | null;
  readonly startedAt = performance.now();
  readonly exited: Promise<ExitRecord>;
  private stopReason: StopReason | undefined;
  private forced = false;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private leaderDone = false;

  constructor(
    readonly request: LaunchRequest,
    child: ChildProcess | undefined,
    spawnError: Error | undefined,
  ) {
    this.pid = child?.pid ?? null;
    this.exited = spawnError || !child ? Promise.resolve(this.failedToStart(spawnError)) : this.watch(child);
    if (request.timeoutMs !== undefined && this.pid !== null) {
      this.timeoutTimer = setTimeout(() => this.stop('timeout'), request.timeoutMs);
    }
  }

  get stopping(): boolean {
    return this.stopReason !== undefined;
  }

  /** Forward a signal (e.g. the terminal's SIGINT) to the whole group. */
  signal(sig: NodeJS.Signals): void {
    if (this.pid !== null && !this.leaderDone) signalGroup(this.pid, sig);
  }

  /** TERM and CONT to the group now, KILL after the grace if anything of it is left. */
  stop(reason: StopReason): void {
    if (this.pid === null || this.stopReason) return;
    this.stopReason = reason;
    const pgid = this.pid;
    terminateGroup(pgid);
    this.killTimer = setTimeout(() => this.kill(), this.request.killAfterMs);
  }

  /** SIGKILL the group at once (the grace is over). */
  kill(): void {
    if (this.pid === null) return;
    if (this.killTimer) clearTimeout(this.killTimer);
    if (groupAlive(this.pid) && signalGroup(this.pid, 'SIGKILL')) this.forced = true;
  }

  /** Whether any process of the job's group is still alive (after the leader has exited too). */
  groupAlive(): boolean {
    return this.pid !== null && groupAlive(this.pid);
  }

  private watch(child: ChildProcess): Promise<ExitRecord> {
    const { output } = this.request;
    const tail = new Tail();
    // After EMFILE the child has no stdio at all (undefined, not null).
    const streams = [child.stdout, child.stderr].filter((s): s is NonNullable<typeof s> => s != null);
    const open = new Set(streams);
    let onDrained: (() => void) | undefined;
    for (const stream of streams) {
      const splitter = new LineSplitter();
      const framer = output.kind === 'relay' ? new LineFramer(output.prefix) : undefined;
      stream.on('data', (chunk: Buffer) => {
        if (framer && output.kind === 'relay') {
          const framed = framer.push(chunk);
          if (framed) output.write(framed);
        }
        const from = lastLinesStart(chunk, TAIL_LINES);
        if (from > 0) splitter.reset();
        tail.add(splitter.push(from ? chunk.subarray(from) : chunk));
      });
      stream.on('error', () => undefined);
      stream.on('close', () => {
        const rest = framer?.flush();
        if (rest && output.kind === 'relay') output.write(rest);
        tail.add(splitter.flush());
        open.delete(stream);
        if (!open.size) onDrained?.();
      });
    }
    return new Promise<ExitRecord>((resolve) => {
      let settled = false;
      child.on('error', (err) => {
        // The spawn failed (ENOENT, EACCES, EMFILE; before or after the fork): no exit event follows.
        if (settled) return;
        settled = true;
        this.finishLeader();
        resolve(this.failedToStart(err));
      });
      child.on('exit', (code, signal) => {
        if (settled) return;
        settled = true;
        const durationMs = performance.now() - this.startedAt;
        this.finishLeader();
        const finish = (): void => {
          onDrained = undefined;
          clearTimeout(grace);
          // A grandchild may hold the pipes for ever: keep relaying, but never keep warden alive.
          for (const stream of open) (stream as { unref?: () => void }).unref?.();
          resolve(this.record(code, signal, durationMs, output.kind === 'file' ? this.fileTail() : tail.text()));
        };
        // Let the pipes hand over their last bytes, but never wait on a grandchild holding them.
        const grace = setTimeout(finish, open.size ? DRAIN_GRACE_MS : 0);
        onDrained = finish;
      });
    });
  }

  private finishLeader(): void {
    this.leaderDone = true;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    // A stopped job whose leader exited may leave group members: the kill timer stays armed for them.
    if (this.killTimer && !this.groupAlive()) clearTimeout(this.killTimer);
  }

  private record(exitCode: number | null, signal: NodeJS.Signals | null, durationMs: number, tailText: string): ExitRecord {
    let outcome: ExitOutcome;
    if (this.stopReason === 'timeout') outcome = 'timeout';
    else if (this.stopReason === 'terminated' || signal) outcome = 'killed';
    else outcome = exitCode === 0 ? 'ok' : 'failed';
    return {
      ...this.base(),
      exitCode,
      signal,
      durationMs: Math.round(durationMs),
      outcome,
      tail: tailText,
      forced: this.forced,
      leftover: this.groupAlive(),
    };
  }

  private failedToStart(err: Error | undefined): ExitRecord {
    const e = err as NodeJS.ErrnoException | undefined;
    return {
      ...this.base(),
      exitCode: null,
      signal: null,
      durationMs: Math.round(performance.now() - this.startedAt),
      outcome: 'failed',
      tail: '',
      forced: false,
      leftover: false,
      error: e ? msg.spawnFailure(e.code, e.message) : 'could not start',
    };
  }

  private base(): Pick<ExitRecord, 'jobId' | 'jobPid' | 'command' | 'attempt' | 'tick' | 'slot'> {
    const r = this.request;
    return { jobId: r.jobId, jobPid: this.pid, command: r.command, attempt: r.attempt, tick: r.tick, slot: r.slot.index };
  }

  private fileTail(): string {
    if (this.request.output.kind !== 'file') return '';
    try {
      const file = outputFile(this.request.output.dir, this.request.jobId);
      const fd = fs.openSync(file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const len = Math.min(size, 8192);
        const buf = Buffer.alloc(len);
        fs.readSync(fd, buf, 0, len, size - len);
        return tailOfBytes(buf, size === len);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return '';
    }
  }
}

export const outputFile = (dir: string, jobId: string): string => path.join(dir, `${jobId}.log`);

/** Spawn the job holding its slot; the slot's local copy is closed either way. */
export function launch(request: LaunchRequest): RunningJob {
  const { slot } = request;
  let outFd: number | undefined;
  let child: ChildProcess | undefined;
  let error: Error | undefined;
  try {
    let out: StdioEntry = 'pipe';
    if (request.output.kind === 'file') {
      outFd = fs.openSync(outputFile(request.output.dir, request.jobId), 'a', 0o644);
      out = outFd;
    } else if (request.output.kind === 'inherit') out = 'inherit';
    const stdio: StdioEntry[] = [request.stdin, out, out];
    while (stdio.length < SLOT_FD) stdio.push('ignore');
    stdio.push(slot.fd);
    const [file, args] = request.argv ? [request.argv[0], request.argv.slice(1)] : ['/bin/sh', ['-c', request.shell ?? '']];
    child = spawn(file, args, { stdio, detached: true, env: { ...request.env, WARDEN_SLOT_FD: String(SLOT_FD) } });
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err));
  } finally {
    if (outFd !== undefined) fs.closeSync(outFd);
  }
  // The child has its copy of the slot (or never got one): ours must go, or the slot would
  // outlive the job. A job that failed to start frees the slot here.
  if (child?.pid !== undefined) slot.handOff();
  else slot.release();
  return new RunningJob(request, child, error);
}
