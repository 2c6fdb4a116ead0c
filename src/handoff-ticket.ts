// The ticket a --detach one-shot writes for its runner: the settings and the admitted jobs with
// their slot numbers. JSON has no Infinity, so the two caps that may be unlimited travel as
// null; nothing else in the ticket is rewritten on the way.
import type { JobRequest } from './job-runner.js';
import type { Settings } from './settings.js';

export interface Ticket {
  settings: Settings;
  /** Each job's slot number, and the descriptors of its slot, spool claim and --unique key in the runner; `handle`: a fleet lease's, for the runner to take it over (see Slot.handle). */
  jobs: { request: JobRequest; slot: number; fd: number; claimFd?: number; uniqueFd?: number; handle?: string }[];
  /** Take up the pool's spooled jobs whose warden is gone. */
  resume?: boolean;
}

interface Wire extends Omit<Ticket, 'settings'> {
  settings: Omit<Settings, 'maxLive' | 'maxQueue'> & { maxLive: number | null; maxQueue: number | null };
}

const unlimited = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function encodeTicket(ticket: Ticket): string {
  const wire: Wire = { ...ticket, settings: { ...ticket.settings, maxLive: unlimited(ticket.settings.maxLive), maxQueue: unlimited(ticket.settings.maxQueue) } };
  return JSON.stringify(wire);
}

/** The ticket in `text`; throws with what is wrong when it is not one. */
export function decodeTicket(text: string): Ticket {
  const wire = JSON.parse(text) as Partial<Wire> | null;
  const s = wire?.settings;
  if (!s || typeof s !== 'object' || !Array.isArray(wire.jobs)) throw new Error('not a runner ticket');
  for (const job of wire.jobs) {
    const fd = (n: unknown): boolean => n === undefined || (typeof n === 'number' && Number.isInteger(n) && n > 2);
    if (typeof job?.slot !== 'number' || !fd(job.fd) || job.fd === undefined || !fd(job.claimFd) || !fd(job.uniqueFd) || typeof job.request?.jobId !== 'string' || typeof job.request.command !== 'string') {
      throw new Error('a job of the runner ticket is malformed');
    }
  }
  const cap = (n: unknown, what: string): number => {
    if (n === null) return Infinity;
    if (typeof n === 'number' && n >= 0) return n;
    throw new Error(`the runner ticket's ${what} is not a number`);
  };
  return { settings: { ...s, maxLive: cap(s.maxLive, 'maxLive'), maxQueue: cap(s.maxQueue, 'maxQueue') }, jobs: wire.jobs, ...(wire.resume === true ? { resume: true } : {}) };
}
