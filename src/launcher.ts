// Starts one job: its own process group (detached), holding its pool slot through an inherited
// descriptor, its output where the mode says. The slot's copy here is closed either way.
import { spawn as nodeSpawn } from 'node:child_process';
import type { ChildProcess, IOType, SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import { ranPart } from './code-parts.js';
import { inheritedEnv } from './job-env.js';
import { outputFile } from './job-output.js';
import { openOutputFile } from './output-file.js';
import type { Slot } from './pool/pool.js';
import { RunningJob } from './running-job.js';
import type { JobIdentity } from './running-job.js';

/** The job's descriptor for its slot: above the 3-9 that scripts use, and away from 10+ shells take. */
export const SLOT_FD = 19;

export interface LaunchRequest extends Omit<JobIdentity, 'slot'> {
  /** One shell command (run by /bin/sh -c), or an argv run directly. */
  shell?: string;
  argv?: string[];
  /** The job's whole environment (see job-env.ts), built once. */
  env: NodeJS.ProcessEnv;
  slot: Slot;
  stdin: 'ignore' | 'inherit';
  /** Further locks the job's tree keeps (a --unique key, a spool claim), at descriptors 20 and up. */
  holds?: readonly Hold[];
  /** The job's working folder (a resumed job runs where it was accepted). */
  cwd?: string;
}

/** A kernel-held lock the job inherits, handed off (or released) like its slot. */
export interface Hold {
  readonly fd: number;
  handOff(): void;
  release(): void;
}

export type SpawnFn = (file: string, args: string[], options: SpawnOptions) => ChildProcess;

type StdioEntry = IOType | number;

/** stdin, stdout and stderr, nothing up to the slot's descriptor, the slot, then the holds. */
function jobStdio(std: StdioEntry[], slot: StdioEntry, holds: readonly Hold[]): StdioEntry[] {
  const stdio = [...std];
  while (stdio.length < SLOT_FD) stdio.push('ignore');
  return [...stdio, slot, ...holds.map((hold) => hold.fd)];
}

/** Spawn the job holding its slot; a job that could not start frees the slot at once. */
export function launch(request: LaunchRequest, spawn: SpawnFn = nodeSpawn): RunningJob {
  const { slot } = request;
  ranPart('spawn');
  let outFd: number | undefined;
  let child: ChildProcess | undefined;
  let error: Error | undefined;
  try {
    let out: StdioEntry = 'pipe';
    if (request.output.kind === 'file') {
      outFd = openOutputFile(outputFile(request.output.dir, request.jobId));
      out = outFd;
    } else if (request.output.kind === 'inherit') out = 'inherit';
    const stdio = jobStdio([request.stdin, out, out], slot.fd, request.holds ?? []);
    const [file, args] = request.argv ? [request.argv[0], request.argv.slice(1)] : ['/bin/sh', ['-c', request.shell ?? '']];
    child = spawn(file, args, { stdio, detached: true, cwd: request.cwd, env: request.env });
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err));
  } finally {
    if (outFd !== undefined) fs.closeSync(outFd);
  }
  // The child has its copy of the slot (or never got one): ours must go, or the slot would
  // outlive the job.
  const started = child?.pid !== undefined;
  if (started) slot.handOff();
  else slot.release();
  for (const hold of request.holds ?? []) {
    if (started) hold.handOff();
    else hold.release();
  }
  const { shell: _shell, argv: _argv, env: _env, slot: _slot, stdin: _stdin, holds: _holds, cwd: _cwd, ...identity } = request;
  return new RunningJob({ ...identity, slot: slot.index }, child, error);
}

/** Start and watch one `/bin/true` as a job is started and watched. The first run of that code in
 *  a process costs ~1 ms more than the next, so a waiter does this while it waits and starts its
 *  job that much sooner once the slot frees. */
export function warmSpawn(): void {
  try {
    const stdio = jobStdio(['ignore', 'ignore', 'ignore'], 'ignore', []);
    const child = nodeSpawn('/bin/true', [], { stdio, detached: true, env: inheritedEnv() });
    void new RunningJob({ jobId: 'warm-up', command: '/bin/true', slot: -1, tick: 0, attempt: 0, killAfterMs: 0, output: { kind: 'inherit' } }, child, undefined).exited;
  } catch {
    // Only a warm-up.
  }
}
