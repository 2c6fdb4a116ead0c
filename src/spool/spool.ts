// The spool: delayed jobs written down before their trigger counts as handled, so that a
// SIGTERM, a crash, a SIGKILL or a reboot during the delay does not lose them. Each entry has
// a claim, a lock that lives with a process tree (locks/key-lock.ts): the warden waiting out
// the delay holds it, then hands it to the job, so no one else resumes an entry whose warden
// or job is alive. The job's shell removes the entry as its very first act, before the user's
// command: an entry that is still there once its claim is free never started, and resuming it
// runs it exactly once.
import fs from 'node:fs';
import path from 'node:path';
import { socketKeyLocks } from '../locks/key-lock.js';
import type { KeyLock, KeyLocks } from '../locks/key-lock.js';
import { shellQuote } from '../shell-quote.js';
import { isPrivateDir, privateDir, publishNew, readPrivate, removeFile } from '../state-files.js';

export interface SpoolEntry {
  id: string;
  pool: string;
  jobId: string;
  command: string;
  /** Epoch ms when the job is due. */
  dueAt: number;
  delayMs: number;
  tick: number;
  trigger: string;
  item?: string;
  checkOutput: string;
  /** The folder the job was to run in. */
  cwd: string;
  /** The --unique key, when the job was accepted under one. */
  uniqueKey?: string;
  /** Process that accepted it. */
  owner: number;
}

export type NewEntry = Omit<SpoolEntry, 'id' | 'owner'>;

/** The spool of one pool: files here (spool.ts), or Redis for a fleet (stores-redis/redis-spool.ts). */
export interface Spool {
  /** Write an entry durably, holding its claim; the claim is taken before the entry is visible. */
  create(fields: NewEntry): Promise<{ entry: SpoolEntry; claim: KeyLock }>;
  /** Every entry, the soonest first. */
  list(): Promise<SpoolEntry[]>;
  /** Entries no live process holds a claim on, the soonest first. */
  orphans(): Promise<SpoolEntry[]>;
  /** Ids of entries that cannot be read back (cut short, hand-edited, not a regular file): never run, never silent. */
  damaged(): Promise<string[]>;
  read(id: string): Promise<SpoolEntry | undefined>;
  /** Remove an entry (run, cancelled, too late, dropped); false when it was gone already. */
  remove(id: string): Promise<boolean>;
  /** The entry's claim, or undefined while a warden or a job holds it (or it is not to be resumed here). */
  tryClaim(id: string): Promise<KeyLock | undefined>;
  isClaimed(id: string): Promise<boolean>;
  /**
   * The job is about to start, holding `claim`: the shell line its shell runs first, which marks
   * the entry started (and fails, so the command does not run, when the entry was dropped).
   * Undefined when the entry is gone already (dropped): the job must not start.
   */
  startLine(id: string, claimLease?: string): Promise<string | undefined>;
  /** A job started from the entry has ended (`started`), or could not start at all. */
  finished(id: string, started: boolean): Promise<void>;
}

const ENTRY = /^([A-Za-z0-9-]+)\.json$/;

/** An entry read back: only one with every field of the type warden wrote (else it is damaged). */
export function parseEntry(text: string, id: string): SpoolEntry | undefined {
  let v: Partial<Record<keyof SpoolEntry, unknown>>;
  try {
    v = JSON.parse(text) as Partial<Record<keyof SpoolEntry, unknown>>;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || v.id !== id) return undefined;
  const texts = [v.pool, v.jobId, v.command, v.trigger, v.checkOutput, v.cwd].every((x) => typeof x === 'string');
  const numbers = [v.dueAt, v.delayMs, v.tick].every((x) => typeof x === 'number' && Number.isFinite(x));
  const optional = [v.item, v.uniqueKey].every((x) => x === undefined || typeof x === 'string');
  if (!texts || !numbers || !optional || Number.isNaN(Date.parse(v.trigger as string))) return undefined;
  return v as unknown as SpoolEntry;
}
let serial = 0;

export class FileSpool implements Spool {
  private readonly dir: string;
  private readonly claims: KeyLocks;

  /** `dir`: where entries are kept (it must survive a reboot); `stateDir`: where the live claims are. */
  /** `prepare` makes `dir` when it is missing, before the first entry is written. */
  constructor(dir: string, pool: string, stateDir: string, private readonly prepare: () => void = () => undefined) {
    this.dir = path.join(dir, 'spool', pool);
    this.claims = socketKeyLocks(stateDir, `spool:${pool}`);
  }

  private folder(): string {
    this.prepare();
    privateDir(path.dirname(this.dir));
    return privateDir(this.dir);
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  async create(fields: NewEntry): Promise<{ entry: SpoolEntry; claim: KeyLock }> {
    const dir = this.folder();
    for (;;) {
      const id = `${Date.now().toString(36)}-${process.pid.toString(36)}-${(++serial).toString(36)}`;
      const claim = await this.claims.tryLock(id);
      if (!claim) continue;
      const entry: SpoolEntry = { id, ...fields, owner: process.pid };
      try {
        if (await publishNew(path.join(dir, `${id}.json`), JSON.stringify(entry) + '\n')) return { entry, claim };
      } catch (err) {
        claim.release();
        throw err;
      }
      claim.release();
    }
  }

  async list(): Promise<SpoolEntry[]> {
    return this.ids()
      .flatMap((id) => {
        const entry = this.readNow(id);
        return entry ? [entry] : [];
      })
      .sort((a, b) => a.dueAt - b.dueAt);
  }

  async orphans(): Promise<SpoolEntry[]> {
    const ids = this.ids();
    if (!ids.length) return [];
    const held = await this.claims.heldAmong(ids);
    return ids
      .filter((id) => !held.has(id))
      .flatMap((id) => {
        const entry = this.readNow(id);
        return entry ? [entry] : [];
      })
      .sort((a, b) => a.dueAt - b.dueAt);
  }

  /** Entry ids, from the names alone; nothing when the folder is not there (or not a safe one). */
  private ids(): string[] {
    let names: string[];
    try {
      if (!isPrivateDir(this.dir)) return [];
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    return names.flatMap((n) => {
      const m = ENTRY.exec(n);
      return m ? [m[1]] : [];
    });
  }

  async read(id: string): Promise<SpoolEntry | undefined> {
    return this.readNow(id);
  }

  private readNow(id: string): SpoolEntry | undefined {
    if (!/^[A-Za-z0-9-]+$/.test(id)) return undefined;
    let text: string | undefined;
    try {
      text = readPrivate(this.file(id));
    } catch {
      return undefined;
    }
    return text === undefined ? undefined : parseEntry(text, id);
  }

  async damaged(): Promise<string[]> {
    return this.ids().filter((id) => {
      if (this.readNow(id)) return false;
      try {
        fs.lstatSync(this.file(id));
        return true;
      } catch {
        // Gone meanwhile (it ran): not damaged.
        return false;
      }
    });
  }

  async remove(id: string): Promise<boolean> {
    if (!/^[A-Za-z0-9-]+$/.test(id)) return false;
    return removeFile(this.file(id));
  }

  tryClaim(id: string): Promise<KeyLock | undefined> {
    return this.claims.tryLock(id);
  }

  isClaimed(id: string): Promise<boolean> {
    return this.claims.isLocked(id);
  }

  async startLine(id: string): Promise<string | undefined> {
    if (!this.readNow(id)) return undefined;
    // `command -p` finds rm on the system's default path, whatever the job's PATH. Without -f: an
    // entry dropped (`status --drop`) since this check is not there to remove, and the user's
    // command must not run; nor if it cannot be removed (a resumer would run it again).
    return `command -p rm -- ${shellQuote(this.file(id))} 2>/dev/null || exit 125`;
  }

  async finished(id: string, started: boolean): Promise<void> {
    // A job that started removed the entry first thing, or could not and did not run the command
    // (then it stays, to be resumed). One that could not start at all had its run, a failed one.
    if (!started) await this.remove(id);
  }
}

/** Pools with a spool folder under `dir` (whatever their entries). */
export function spoolPools(dir: string): string[] {
  const root = path.join(dir, 'spool');
  try {
    if (!isPrivateDir(root)) return [];
    return fs
      .readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}
