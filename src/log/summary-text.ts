// The summary as text for a person: a heading line, then a table each for jobs, pools and checks.
import { formatDuration } from '../duration.js';
import { formatCap, msg } from '../messages.js';
import { clip, durationOrDash, localTime, printable, table } from './format.js';
import type { Report } from './report.js';

const OUTCOMES = ['ok', 'failed', 'timeout', 'killed'];
const CHECK_OUTCOMES = ['fired', 'idle', 'error', 'timeout'];
const COMMAND_WIDTH = 48;

export interface Section {
  /** Cell rows, the first one the header. */
  rows: string[][];
  /** Columns aligned left (text); the rest are figures. */
  left: number[];
}

/** The lines above the tables: what was read, and what could not be. */
export function summaryHeading(r: Report): string[] {
  const s = r.summary;
  const lines: string[] = [];
  if (s.first === null || s.last === null) lines.push(msg.logNoEvents(r.files.length));
  else lines.push(msg.logHeading(s.events, s.processes, s.hosts.length, localTime(s.first), localTime(s.last), formatDuration(s.last - s.first)));
  if (r.malformed.count) lines.push(msg.logMalformed(r.malformed.count, r.malformed.examples.map((m) => `${m.file}:${m.line} ${m.reason}`)));
  return lines;
}

export function summaryText(r: Report): string {
  const lines = summaryHeading(r).map(printable);
  for (const section of summarySections(r)) lines.push('', ...table(section.rows, section.left, ''));
  return lines.join('\n') + '\n';
}

/** The tables for jobs, pools and checks (those that have rows). */
export function summarySections(r: Report): Section[] {
  const s = r.summary;
  const sections: Section[] = [];

  if (s.jobs.length) {
    const extra = [...new Set(s.jobs.flatMap((j) => Object.keys(j.outcomes)))].filter((o) => !OUTCOMES.includes(o));
    const outcomes = [...OUTCOMES, ...extra];
    const rows = [['job', 'runs', ...outcomes, 'unfinished', 'retries', 'p50', 'p95', 'max']];
    for (const j of [...s.jobs].sort((a, b) => b.runs - a.runs || a.command.localeCompare(b.command))) {
      const d = j.durationMs;
      rows.push([
        clip(j.command, COMMAND_WIDTH),
        String(j.runs),
        ...outcomes.map((o) => String(j.outcomes[o] ?? 0)),
        String(j.unfinished),
        String(j.retries),
        durationOrDash(d.p50),
        durationOrDash(d.p95),
        durationOrDash(d.max),
      ]);
    }
    sections.push({ rows, left: [0] });
  }

  if (s.pools.length) {
    const noteOf = (p: (typeof s.pools)[number]): string =>
      [p.delayed ? `delayed ${p.delayed}` : '', p.resumed ? `resumed ${p.resumed}` : '', p.leaseLost ? `lease lost ${p.leaseLost}` : ''].filter(Boolean).join(', ');
    // Delayed and resumed jobs and lost leases are not skips: their own column, when there are any.
    const withNotes = s.pools.some((p) => noteOf(p) !== '');
    const rows = [['pool', 'cap', 'peak live', 'at cap', 'jobs', 'waits', 'skips', ...(withNotes ? ['spool and leases'] : [])]];
    const span = s.first !== null && s.last !== null ? s.last - s.first : 0;
    for (const p of s.pools) {
      const share = span > 0 && p.cap !== null ? ` (${Math.round((100 * p.fullMs) / span)}%)` : '';
      const skips = Object.entries(p.skips).map(([reason, n]) => `${reason} ${n}`);
      rows.push([
        p.host && s.hosts.length > 1 ? `${p.pool} @${p.host}` : p.pool,
        formatCap(p.cap ?? Infinity),
        String(p.peakLive),
        p.cap === null ? '-' : `${formatDuration(p.fullMs)}${share}`,
        String(p.jobs),
        String(p.waits),
        skips.join(', ') || '0',
        ...(withNotes ? [noteOf(p) || '-'] : []),
      ]);
    }
    sections.push({ rows, left: [0, 6, 7] });
  }

  if (s.checks.length) {
    const rows = [['check', ...CHECK_OUTCOMES, 'p50', 'max']];
    for (const c of s.checks) {
      const what = [c.pool, c.schedule ?? '', c.command ? clip(c.command, 32) : ''].filter(Boolean).join(' ');
      rows.push([what, ...CHECK_OUTCOMES.map((o) => String(c.outcomes[o] ?? 0)), durationOrDash(c.durationMs.p50), durationOrDash(c.durationMs.max)]);
    }
    sections.push({ rows, left: [0] });
  }
  return sections;
}
