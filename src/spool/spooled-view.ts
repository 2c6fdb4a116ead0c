// A delayed job as `warden status` shows it, from the local spool or a fleet's: its JSON and
// its row in the table.
import { formatDuration } from '../duration.js';

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
