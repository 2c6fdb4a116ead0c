// The --log-file: JSON lines appended to a path that logrotate may rename away (its default) or
// truncate (copytruncate). Each line is one synchronous write, so swapping the descriptor
// between two writes can never split a line across the old file and the new one.
import fs from 'node:fs';
import { describeFsError, msg } from '../messages.js';
import { Sink } from './sink.js';

/** How often the path is compared with the open file: a rotation is noticed within this. */
export const ROTATION_CHECK_MS = 500;

const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** Root's or ours: a link or file anyone else made in a shared folder (/tmp) is not the user's choice. */
const trusted = (uid: number): boolean => uid === 0 || uid === process.geteuid?.();

/**
 * Open the log file named on the command line, whatever file the user chose (a device, a FIFO, a
 * symlink of theirs or root's such as /dev/stdout), but never through a symlink another user
 * made, which in a shared folder could point warden's lines into any file it may write.
 */
export function openLogFile(file: string): number {
  try {
    return fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOOP') throw err;
  }
  if (!trusted(fs.lstatSync(file).uid)) throw new Error(msg.othersSymlink());
  return fs.openSync(file, 'a', 0o644);
}

/**
 * Reopen after a rotation, when the path may have been replaced by anyone: O_NOFOLLOW, so a
 * symlink planted there is never written through (unless the user's own path was one, and this
 * one is still theirs); O_NONBLOCK, so a planted FIFO fails the open instead of hanging the
 * supervisor; and only a regular file of the log's first owner or ours is taken (logrotate's
 * `create` gives the new file the old one's owner; a file another user planted would let them
 * read every event).
 */
function reopenLogFile(file: string, followLinks: boolean, owner: number): number {
  const link = followLinks ? fs.lstatSync(file, { throwIfNoEntry: false }) : undefined;
  if (link?.isSymbolicLink() && !trusted(link.uid)) throw new Error(msg.othersSymlink());
  const fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | (followLinks ? 0 : O_NOFOLLOW), 0o644);
  const stat = fs.fstatSync(fd);
  const problem = !stat.isFile() ? msg.notRegularFile() : stat.uid !== owner && !trusted(stat.uid) ? msg.othersFile(stat.uid) : undefined;
  if (problem) {
    fs.closeSync(fd);
    throw new Error(problem);
  }
  return fd;
}

export class LogFile {
  private sink: Sink;
  private fd: number;
  private ino: number;
  private dev: number;
  private size: number;
  private readonly timer: NodeJS.Timeout | undefined;
  /** The path given was a symlink: the user's choice, followed again at a reopen. */
  private readonly followLinks: boolean;
  /** Who owned the file named at start: a file rotated in by logrotate's `create` has the same. */
  private readonly owner: number;
  private readonly onSignal = (): void => this.check();
  private closed = false;
  /** Why the last reopen failed: reported once, not at every check. */
  private failing: string | undefined;

  /** `fd` is the descriptor opened (with openLogFile) at start-up, where errors exit 2. */
  constructor(
    readonly path: string,
    fd: number,
    private readonly onError: (what: string, why: string) => void,
    /** A line for people on stderr. */
    private readonly notice: (text: string) => void,
  ) {
    this.fd = fd;
    const stat = fs.fstatSync(fd);
    this.ino = stat.ino;
    this.dev = stat.dev;
    this.size = stat.size;
    this.owner = stat.uid;
    this.sink = new Sink(fd, path, onError);
    this.followLinks = isSymlink(path);
    // Only a regular file is rotated: a terminal, /dev/null or a FIFO stays as it is.
    if (!stat.isFile()) return;
    this.timer = setInterval(() => this.check(), ROTATION_CHECK_MS).unref();
    // nginx's convention: a rotation script sends SIGUSR1 to have the log reopened at once.
    process.on('SIGUSR1', this.onSignal);
  }

  write(text: string): void {
    if (this.closed) return;
    this.sink.write(text);
  }

  /** Reopen when the path names another file, no file, or a file shorter than ours was. */
  check(): void {
    if (this.closed) return;
    let renamed: boolean;
    let truncated = false;
    try {
      const now = fs.statSync(this.path);
      renamed = now.ino !== this.ino || now.dev !== this.dev;
      truncated = !renamed && now.size < this.size;
      this.size = now.size;
    } catch {
      renamed = true;
    }
    if (renamed || truncated) this.reopen();
  }

  private reopen(): void {
    let fd: number;
    try {
      fd = reopenLogFile(this.path, this.followLinks, this.owner);
    } catch (err) {
      // Keep writing where we were: a line in the rotated file beats a line lost.
      const why = describeOpenError(err);
      if (why !== this.failing) this.notice(msg.logReopenFailed(this.path, why));
      this.failing = why;
      return;
    }
    this.failing = undefined;
    const stat = fs.fstatSync(fd);
    const old = this.fd;
    this.fd = fd;
    this.ino = stat.ino;
    this.dev = stat.dev;
    this.size = stat.size;
    this.sink = new Sink(fd, this.path, this.onError);
    closeQuietly(old);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    process.off('SIGUSR1', this.onSignal);
    closeQuietly(this.fd);
  }
}

/** Why the log file could not be opened, in words: a symlink or a FIFO planted at the path. */
function describeOpenError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return msg.isSymlink();
  if (code === 'ENXIO') return msg.notRegularFile();
  return describeFsError(err);
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Closing is best effort.
  }
}
