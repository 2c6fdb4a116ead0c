// A Linux child subreaper around a command: whatever the command leaves behind lands here and is reported.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForFile } from './wait.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Why: the python3 helper that calls prctl(PR_SET_CHILD_SUBREAPER) (Node has no binding for it). */
export const SUBREAPER_PY = path.join(HERE, 'subreaper.py');

/** Why: a process that outlived the command it descends from. */
export interface Escaped {
  pid: number;
  pgid: number;
  state: string;
  cmdline: string;
}

/** Why: the subreaper's findings, written as JSON when the command has exited. */
export interface SubreaperReport {
  pid: number;
  exitCode: number | null;
  signal: number | null;
  /** Descendants still alive when the command had exited and the settle time was over. */
  escaped: Escaped[];
  orphansReaped: number;
  settledMs: number;
}

/** Why: where the subreaper reports and how patient it is with descendants. */
export interface SubreaperOptions {
  /** Where the report goes; `<report>.pid` holds the command's pid once it started. */
  report: string;
  /** How long descendants may take to end on their own after the command exited. */
  settleMs?: number;
  /** Forward a SIGHUP the subreaper gets to the command (what a login shell does on hang-up). */
  forwardHup?: boolean;
}

/** Why: prefixes an argv so it runs under the subreaper; spawn the result with any stdio. */
export function underSubreaper(argv: string[], options: SubreaperOptions): string[] {
  return ['python3', SUBREAPER_PY, options.report, String(options.settleMs ?? 0), options.forwardHup ? '1' : '0', '--', ...argv];
}

/** Why: the pid of the command itself (not of python), to signal it directly. */
export async function commandPid(options: SubreaperOptions, deadlineMs = 30_000): Promise<number> {
  return Number(await waitForFile(`${options.report}.pid`, deadlineMs, (t) => /^\d+$/.test(t)));
}

/** Why: "nothing left behind" is read from here after the command has exited. */
export async function readReport(options: SubreaperOptions, deadlineMs = 30_000): Promise<SubreaperReport> {
  const text = await waitForFile(options.report, deadlineMs, (t) => t.trim().endsWith('}'));
  return JSON.parse(text) as SubreaperReport;
}

/** Why: the report if it is already there (for cleanup paths). */
export function tryReport(options: SubreaperOptions): SubreaperReport | undefined {
  try {
    return JSON.parse(fs.readFileSync(options.report, 'utf8')) as SubreaperReport;
  } catch {
    return undefined;
  }
}
