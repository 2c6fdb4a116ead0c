// File access inside the state dir, which may be hostile ground (a shared /tmp): nothing is
// ever opened through a symlink (O_NOFOLLOW), nothing waits on a planted FIFO (O_NONBLOCK),
// and only regular files of our own are read or written.
import fs from 'node:fs';
import { msg } from '../messages.js';

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_WRONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** The problem with a state-dir entry owned by someone else or open to others, if any. */
export function privacyProblem(stat: fs.Stats, folder: boolean): string | undefined {
  const uid = myUid();
  if (stat.isSymbolicLink()) return msg.unsafe.symlink;
  if (folder ? !stat.isDirectory() : !stat.isFile()) return folder ? msg.unsafe.notFolder : msg.unsafe.notFile;
  if (uid !== undefined && stat.uid !== uid) return msg.unsafe.owner(stat.uid, uid);
  if (stat.mode & 0o077) return msg.unsafe.open(stat.mode & 0o7777, folder);
  return undefined;
}

export const myUid = (): number | undefined => (typeof process.geteuid === 'function' ? process.geteuid() : undefined);

/** Thrown when a path in the state dir must not be used; names the path and the problem. */
export class UnsafePathError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file} ${problem}`);
    this.name = 'UnsafePathError';
  }
}

/**
 * Open a file of ours for reading and writing (created 0600 if missing); refuses a symlink
 * (ELOOP), and anything that is not a regular file of ours.
 */
export function openPrivate(file: string, create = true): number {
  const fd = fs.openSync(file, O_RDWR | O_NOFOLLOW | O_NONBLOCK | (create ? O_CREAT : 0), 0o600);
  const problem = privacyProblem(fs.fstatSync(fd), false);
  if (problem) {
    fs.closeSync(fd);
    throw new UnsafePathError(file, problem);
  }
  return fd;
}

/** Create a new file of ours (fails if the name exists in any form). */
export function createExclusive(file: string): number {
  return fs.openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o600);
}

/** A small regular file's text, or undefined if it is missing, unsafe or not a regular file. */
export function readPrivate(file: string, maxBytes = 64 * 1024): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return undefined;
    const buf = Buffer.alloc(Math.min(stat.size, maxBytes));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('utf8', 0, n);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Replace a small file atomically (a temp file of ours renamed over it; rename never follows). */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.unlinkSync(tmp);
  } catch {
    // Not there: the usual case.
  }
  const fd = createExclusive(tmp);
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
