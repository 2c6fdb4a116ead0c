// A job's --output file, opened so that nothing planted in a shared folder can hang warden or
// take the output elsewhere.
import fs from 'node:fs';
import { msg } from './messages.js';
import { myUid } from './pool/safe-fs.js';

const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/**
 * The job's --output file, appended to. The folder may be shared ground, where its names are
 * easy to guess: a symlink is never followed, a FIFO never waited on (an open would block the
 * whole supervisor, deaf to signals), and only a regular file of ours with no other name is
 * written, so neither output nor a job's secrets end up elsewhere. Anything else fails the job.
 */
export function openOutputFile(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ELOOP, or EACCES for another user's symlink in a sticky folder.
    if (code === 'ELOOP' || isSymlink(file)) throw new Error(msg.outputFileRefused(file, msg.unsafe.symlink));
    // A FIFO (or socket) with no reader: never a place for output.
    if (code === 'ENXIO') throw new Error(msg.outputFileRefused(file, msg.unsafe.notFile));
    throw err;
  }
  const stat = fs.fstatSync(fd);
  const uid = myUid();
  const problem = !stat.isFile()
    ? msg.unsafe.notFile
    : uid !== undefined && stat.uid !== uid
      ? msg.unsafe.owner(stat.uid, uid)
      : stat.nlink > 1
        ? msg.unsafe.hardLinked
        : undefined;
  if (problem) {
    fs.closeSync(fd);
    throw new Error(msg.outputFileRefused(file, problem));
  }
  return fd;
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
