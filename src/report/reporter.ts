// Decides where each event and each line of job output goes: the display (pretty or JSON on
// stdout), the --log-file (always JSON), and stderr for what warden itself must say.
import tty from 'node:tty';
import type { ChalkInstance } from 'chalk';
import type { Emit, Event, Stamped } from '../events.js';
import { stamp } from '../events.js';
import { msg } from '../messages.js';
import { colourFor } from './colour.js';
import { formatPretty } from './pretty.js';
import { LogFile } from './log-file.js';
import { Sink } from './sink.js';

export type Display = 'pretty' | 'json' | 'none';

export interface ReporterOptions {
  display: Display;
  /** Where the display goes: 1 (stdout) for watch/once, 2 for run, whose stdout is the command's. */
  displayFd: number;
  quiet: boolean;
  /** An open descriptor of the log file, or undefined. */
  logFd?: number;
  logPath?: string;
  env: NodeJS.ProcessEnv;
}

/** Something that acts on events as they happen (notifications, metrics); it never throws. */
export type Listener = (event: Stamped) => void;

export interface Reporter {
  emit: Emit;
  /** Hear every event after it has been written (an event a listener emits is written at once). */
  listen(listener: Listener): void;
  /** Whether job output is shown at all (not with --quiet, nor for `run`'s own display). */
  readonly showsOutput: boolean;
  /** What goes in front of each line of a job's output. */
  outputPrefix(jobId: string): Buffer;
  /** Complete lines of a job's output, already behind their prefix. */
  jobOutput(framed: Buffer): void;
  /** The bottom status line on a terminal; ignored elsewhere. */
  status(text: string): void;
  /** A line for people on stderr, not an event. */
  notice(text: string): void;
  close(): void;
}

/** What --quiet keeps: only what is wrong, as `chronic` would. */
export function isWrong(e: Event): boolean {
  switch (e.event) {
    case 'check':
      return e.outcome === 'error' || e.outcome === 'timeout';
    case 'exit':
      return e.outcome !== 'ok';
    case 'skip':
      // Held back on purpose (--on-change, --unique), or another host ran this tick's check: nothing is wrong.
      return e.reason !== 'unchanged' && e.reason !== 'duplicate' && e.reason !== 'other-host';
    case 'error':
    case 'lease-lost':
      return true;
    default:
      return false;
  }
}

export async function createReporter(options: ReporterOptions): Promise<Reporter> {
  const stderr = new Sink(2, 'stderr', () => undefined);
  const notice = (text: string): void => {
    clearStatus();
    stderr.write(text.endsWith('\n') ? text : `${text}\n`);
    drawStatus();
  };
  const warn = (what: string, why: string): void => notice(msg.writeFailed(what, why));

  const display = new Sink(options.displayFd, options.displayFd === 1 ? 'stdout' : 'stderr', warn);
  const log = options.logFd === undefined ? undefined : new LogFile(options.logPath ?? 'log file', options.logFd, warn, notice);
  const pretty = options.display === 'pretty';
  // chalk is loaded only for the pretty display: `run` and JSON logs start faster without it.
  const c: ChalkInstance | undefined = pretty ? await colourFor(options.displayFd, options.env) : undefined;
  const onTerminal = pretty && !options.quiet && tty.isatty(options.displayFd);
  const outputFd = options.display === 'json' ? 2 : options.displayFd;
  const output = outputFd === options.displayFd ? display : stderr;
  let statusText = '';
  const listeners: Listener[] = [];

  function clearStatus(): void {
    if (onTerminal && statusText) display.write('\r\x1b[2K');
  }
  function drawStatus(): void {
    if (onTerminal && statusText && c) display.write(c.dim(statusText));
  }

  return {
    emit(event: Event): void {
      const e: Stamped = stamp(event);
      const json = JSON.stringify(e) + '\n';
      log?.write(json);
      if (!options.quiet || isWrong(e)) {
        if (options.display === 'json') display.write(json);
        else if (c) {
          clearStatus();
          display.write(formatPretty(e, c) + '\n');
          drawStatus();
        }
      }
      for (const listener of listeners) listener(e);
    },
    listen(listener: Listener): void {
      listeners.push(listener);
    },
    showsOutput: !options.quiet && options.display !== 'none',
    outputPrefix(jobId: string): Buffer {
      return Buffer.from(c ? c.dim(`[${jobId}] `) : `[${jobId}] `);
    },
    jobOutput(framed: Buffer): void {
      if (!output.usable) return;
      clearStatus();
      output.write(framed);
      drawStatus();
    },
    status(text: string): void {
      if (!onTerminal) return;
      clearStatus();
      statusText = text;
      drawStatus();
    },
    notice,
    close(): void {
      clearStatus();
      statusText = '';
      log?.close();
    },
  };
}

