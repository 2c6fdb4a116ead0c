// Reads the logs through the summariser: the one pass every output of `warden log` starts from.
import { mergedEvents } from './merge-logs.js';
import type { LogSource } from './read-lines.js';
import type { Window } from './pool-tracker.js';
import { Summariser } from './summarise.js';
import type { Listener, Summary } from './summary-types.js';

const EXAMPLES = 5;

export interface Malformed {
  count: number;
  /** The first few, to find them. */
  examples: { file: string; line: number; reason: string }[];
}

export interface Report {
  files: string[];
  window: Window;
  summary: Summary;
  malformed: Malformed;
}

export async function readReport(sources: LogSource[], window: Window, listener?: Listener): Promise<Report> {
  const malformed: Malformed = { count: 0, examples: [] };
  const summariser = new Summariser(window, listener);
  const onMalformed = (file: string, line: number, reason: string): void => {
    malformed.count++;
    if (malformed.examples.length < EXAMPLES) malformed.examples.push({ file, line, reason });
  };
  for await (const batch of mergedEvents(sources, onMalformed)) {
    for (const e of batch) summariser.add(e);
  }
  return { files: sources.map((s) => s.name), window, summary: summariser.finish(), malformed };
}

const iso = (ms: number | null): string | null => (ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString());

/** The summary as `--json` prints it: times as ISO strings, durations in milliseconds. */
export function reportJson(r: Report): unknown {
  const s = r.summary;
  return {
    files: r.files,
    since: iso(r.window.since),
    until: iso(r.window.until),
    first: iso(s.first),
    last: iso(s.last),
    events: s.events,
    byEvent: s.byEvent,
    malformed: r.malformed,
    processes: s.processes,
    hosts: s.hosts,
    jobs: s.jobs,
    pools: s.pools,
    checks: s.checks,
  };
}
