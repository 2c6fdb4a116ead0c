// `warden log FILE...`: what happened, from the JSON-lines logs of any number of processes:
// a summary (text or --json), and on request a terminal timeline and an HTML page.
import fs from 'node:fs';
import path from 'node:path';
import { EXIT, UsageError } from '../exit.js';
import { describeFsError, msg } from '../messages.js';
import { openLog } from '../log/read-lines.js';
import { readReport, reportJson } from '../log/report.js';
import { summaryText } from '../log/summary-text.js';
import { TimelineCollector } from '../log/timeline-data.js';
import { parseTimeBound } from '../log/time-bound.js';
import type { Window } from '../log/pool-tracker.js';
import { colourFor } from '../report/colour.js';
import { Sink } from '../report/sink.js';
import type { Settings } from '../settings.js';

const DEFAULT_WIDTH = 80;

/**
 * Loaded from outside the CLI bundle (its code is not worth parsing at every start-up of the
 * other commands), so it has its own instance of UsageError: it reports its usage errors itself.
 */
export async function logCommand(settings: Settings): Promise<number> {
  try {
    return await summarise(settings);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    new Sink(2, 'stderr', () => undefined).write(`${msg.usageError(err.message)}\n`);
    return EXIT.usage;
  }
}

async function summarise(settings: Settings): Promise<number> {
  const window = windowOf(settings, Date.now());
  // Every file must open before anything is read: a typo is a usage error, not half a summary.
  const sources = onceEach(settings.argv).map((file) => {
    try {
      return openLog(file);
    } catch (err) {
      throw new UsageError(msg.logUnreadable(file, describeFsError(err)));
    }
  });
  const page = settings.html === undefined ? undefined : pageTarget(settings.html);
  if (settings.html !== undefined) checkWritable(settings.html, settings.argv, page !== 'file');
  const out = new Sink(1, 'stdout', () => undefined);
  const drawing = settings.timeline || settings.html !== undefined;
  const collector = drawing ? new TimelineCollector(settings.html !== undefined) : undefined;
  const report = await readReport(sources, window, collector);

  if (settings.json) out.write(`${JSON.stringify(reportJson(report), null, 2)}\n`);
  else out.write(summaryText(report));
  if (!collector) return EXIT.ok;

  const s = report.summary;
  const from = Number.isFinite(window.since) ? window.since : (s.first ?? 0);
  const to = Number.isFinite(window.until) ? window.until : (s.last ?? from);
  const timeline = collector.build(from, to);
  if (settings.timeline) {
    const width = settings.width ?? (process.stdout.isTTY ? process.stdout.columns : undefined) ?? DEFAULT_WIDTH;
    const { timelineText } = await import('../log/timeline-text.js');
    const picture = timelineText(timeline, width, await colourFor(1, process.env));
    if (picture) out.write(`\n${picture}`);
  }
  if (settings.html !== undefined) {
    const { htmlPage } = await import('../log/html-page.js');
    try {
      const text = htmlPage(report, timeline);
      if (page === 'file') writeReplacing(settings.html, text);
      else writeInto(page === 'stdout' ? 1 : settings.html, text);
    } catch (err) {
      new Sink(2, 'stderr', () => undefined).write(`${msg.usageError(msg.htmlUnwritable(settings.html, describeFsError(err)))}\n`);
      return EXIT.failed;
    }
    new Sink(2, 'stderr', () => undefined).write(`${msg.htmlWritten(settings.html, timeline.bars.length)}\n`);
  }
  return EXIT.ok;
}

/**
 * A file named twice (`warden log run.jsonl logs/*.jsonl`, a link to it) is read once: read
 * twice, each of its jobs would count twice.
 */
function onceEach(files: string[]): string[] {
  const seen = new Set<string>();
  return files.filter((file) => {
    const s = file === '-' ? undefined : fs.statSync(file, { throwIfNoEntry: false });
    if (!s?.isFile()) return true;
    const key = `${s.dev}:${s.ino}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function windowOf(settings: Settings, now: number): Window {
  const bound = (flag: string, text: string | undefined, open: number): number => {
    if (text === undefined) return open;
    const t = parseTimeBound(text, now);
    if (t === undefined) throw new UsageError(msg.notTime(flag, text));
    return t;
  };
  const since = bound('--since', settings.since, -Infinity);
  const until = bound('--until', settings.until, Infinity);
  if (since >= until) throw new UsageError(msg.sinceAfterUntil());
  return { since, until };
}

const trusted = (uid: number): boolean => uid === 0 || uid === process.geteuid?.();

/**
 * A pipe, FIFO or terminal the user named (`--html >(gzip >page.gz)`, `/dev/stdout`) is written
 * into: replacing it would put a file where the user's /dev/stdout was. Only when it and the
 * link naming it belong to the user or root: a FIFO or link another user planted is replaced.
 * Our own standard output is written through its descriptor (a socket cannot be opened by name).
 */
function pageTarget(file: string): 'stdout' | 'stream' | 'file' {
  try {
    const link = fs.lstatSync(file);
    const target = fs.statSync(file);
    if (!trusted(link.uid) || !trusted(target.uid) || target.isFile() || target.isDirectory()) return 'file';
    const stdout = fs.fstatSync(1);
    if (stdout.dev === target.dev && stdout.ino === target.ino) return 'stdout';
    return target.isFIFO() || target.isCharacterDevice() ? 'stream' : 'file';
  } catch {
    return 'file';
  }
}

/**
 * Checked before the logs are read (which may take a while), without opening the page: that
 * could block on a FIFO. A page must not replace one of the logs it is made from.
 */
function checkWritable(file: string, inputs: string[], stream: boolean): void {
  let target: fs.Stats | undefined;
  try {
    target = fs.statSync(file);
  } catch {
    // Not there yet: its folder must take it.
  }
  try {
    if (target?.isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
    if (target) fs.accessSync(file, fs.constants.W_OK);
    if (!stream) fs.accessSync(path.dirname(path.resolve(file)), fs.constants.W_OK);
  } catch (err) {
    throw new UsageError(msg.htmlUnwritable(file, describeFsError(err)));
  }
  for (const input of inputs) {
    const s = input === '-' ? undefined : fs.statSync(input);
    if (target && s && s.dev === target.dev && s.ino === target.ino) throw new UsageError(msg.htmlIsInput(file));
  }
}

/** Into a pipe or terminal: opened as it is, never created or truncated. */
function writeInto(target: string | 1, text: string): void {
  const fd = target === 1 ? 1 : fs.openSync(target, fs.constants.O_WRONLY);
  try {
    new Sink(fd, String(target), (_what, why) => {
      throw new Error(why);
    }).write(text);
  } finally {
    if (fd !== 1) fs.closeSync(fd);
  }
}

/**
 * The page is written beside its name and renamed over it: a reader never sees half a page,
 * and a symlink planted at the name is replaced, never written through.
 */
function writeReplacing(file: string, text: string): void {
  const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  try {
    try {
      fs.writeFileSync(fd, text);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
