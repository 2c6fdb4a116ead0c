// The environment a job gets (SPEC "Environment given to jobs"), built in one place and once per
// start: warden's own environment plus what tells the job who it is.
import { SLOT_FD } from './launcher.js';

let inherited: NodeJS.ProcessEnv | undefined;

/** warden's own environment, copied once: reading process.env key by key is slow, and a waiter
 *  that copies it beforehand starts its job that much sooner once its slot frees. */
export function inheritedEnv(): NodeJS.ProcessEnv {
  inherited ??= { ...process.env };
  return inherited;
}

export interface JobContext {
  jobId: string;
  pool: string;
  slot: number;
  /** ISO time of the trigger. */
  trigger: string;
  attempt: number;
  tick?: number;
  checkOutput?: string;
  /** With --each-line; present but undefined for a trigger without one. */
  item?: string;
}

export function jobEnv(base: NodeJS.ProcessEnv, c: JobContext): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    WARDEN_JOB_ID: c.jobId,
    WARDEN_POOL: c.pool,
    WARDEN_SLOT: String(c.slot),
    WARDEN_SLOT_FD: String(SLOT_FD),
    WARDEN_TRIGGER: c.trigger,
    WARDEN_ATTEMPT: String(c.attempt),
  };
  if (c.tick !== undefined) env.WARDEN_TICK = String(c.tick);
  if (c.checkOutput !== undefined) env.WARDEN_CHECK_OUTPUT = withoutNul(c.checkOutput);
  // A supervisor's trigger without an item must not pass on an item warden itself inherited.
  if (c.item !== undefined) env.WARDEN_ITEM = withoutNul(c.item);
  else if (Object.hasOwn(c, 'item')) delete env.WARDEN_ITEM;
  return env;
}

/**
 * An environment variable cannot hold a NUL byte (the job could not even be started): drop
 * them, as a shell's $(...) does with a check's binary output.
 */
function withoutNul(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '') : text;
}
