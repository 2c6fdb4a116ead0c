// A delayed job as `warden status` shows it, from the local spool or a fleet's: its JSON and
// its row in the table.
import { formatDuration } from '../duration.js';
import { msg } from '../messages.js';
import type { SpoolEntry } from './spool.js';

export interface SpooledJobView {
  /** What `warden status --drop` takes. */
  id: string;
  jobId: string;
  command: string;
  item?: string;
  dueAt: string;
  /** Negative once overdue. */
  dueInMs: number;
  /** A warden (or the job it is starting) holds it; else the next watch or once takes it up. */
  held: boolean;
  /** It cannot be read back: it never runs, and only --drop removes it. */
  damaged?: boolean;
}

/** What a status needs of a spool, local or a fleet's. */
interface ListedSpool<E extends SpoolEntry> {
  list(): Promise<E[]>;
  isClaimed(id: string): Promise<boolean>;
  damaged(): Promise<string[]>;
}

/**
 * Every job in a spool, the damaged ones first; `more` adds what one kind of spool knows of an
 * entry (`unknown`: what it says of a damaged one).
 */
export async function spooledViews<E extends SpoolEntry, M extends object>(spool: ListedSpool<E>, more: (e: E) => M, unknown: M): Promise<(SpooledJobView & M)[]> {
  const now = Date.now();
  const entries = await spool.list();
  const held = await Promise.all(entries.map((e) => spool.isClaimed(e.id)));
  const damaged = (await spool.damaged()).map((id) => ({ id, jobId: '?', command: msg.spooledDamaged(), dueAt: '', dueInMs: 0, held: false, ...unknown, damaged: true }));
  return [...damaged, ...entries.map((e, k) => ({
    id: e.id,
    jobId: e.jobId,
    command: e.command,
    ...(e.item !== undefined ? { item: e.item } : {}),
    dueAt: new Date(e.dueAt).toISOString(),
    dueInMs: e.dueAt - now,
    held: held[k],
    ...more(e),
  }))];
}

export const SPOOLED_COLUMNS = ['id', 'job', 'due', 'in', 'state', 'command'];

/** `waiting`: the state of a job nobody holds (a fleet may say more than the local spool). */
export function spooledRow(j: SpooledJobView, waiting = 'waiting for the next watch or once'): string[] {
  return [
    j.id,
    j.jobId,
    j.damaged ? '?' : j.dueAt.replace('T', ' ').slice(0, 19),
    j.damaged ? '?' : j.dueInMs >= 0 ? formatDuration(j.dueInMs) : `overdue ${formatDuration(-j.dueInMs)}`,
    j.damaged ? 'damaged' : j.held ? 'held' : waiting,
    j.command + (j.item !== undefined ? ` [${j.item}]` : ''),
  ];
}
