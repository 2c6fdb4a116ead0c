// The state dir: where a user's pools live. The default is one folder per user that every
// session shares (a login shell, cron, a systemd service, ssh, `sudo -u`), as tmux does with
// /tmp/tmux-UID. It may sit in a shared /tmp, so it is created 0700 and refused, as ssh-agent
// and tmux refuse theirs, when it is a symlink, someone else's, or open to others.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { msg } from '../messages.js';
import { UnsafePathError, myUid, privacyProblem } from './safe-fs.js';

const STICKY = 0o1000;

/**
 * /tmp/warden-<uid>: the same path whatever the session's environment. Not $TMPDIR or
 * $XDG_RUNTIME_DIR, which a login session sets and cron does not.
 */
export function defaultStateDir(): string {
  const uid = myUid() ?? os.userInfo().username;
  return path.join(process.platform === 'win32' ? os.tmpdir() : '/tmp', `warden-${uid}`);
}

/**
 * Create the state dir (0700) if it is missing, then make sure it is ours alone. Created one
 * level at a time: Node's recursive mkdir loops for ever where a parent exists but refuses
 * children with ENOENT (/proc). Throws a file system error or UnsafePathError.
 */
export function ensureStateDir(dir: string): void {
  const missing: string[] = [];
  for (let p = dir; ; ) {
    try {
      fs.statSync(p);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      missing.unshift(p);
      const parent = path.dirname(p);
      if (parent === p) throw err;
      p = parent;
    }
  }
  for (const p of missing) {
    try {
      fs.mkdirSync(p, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  checkStateDir(dir);
  // Ours and private, but perhaps read-only (chattr +i, a read-only mount).
  fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
}

/** Refuse a state dir that is a symlink, not ours, open to others, or replaceable by others. */
export function checkStateDir(dir: string): void {
  const problem = privacyProblem(fs.lstatSync(dir), true);
  if (problem) throw new UnsafePathError(dir, problem);
  const parent = path.dirname(dir);
  if (parent === dir) return;
  const p = fs.statSync(parent);
  const uid = myUid();
  // Whoever may write the parent can rename our folder away and put theirs in its place.
  if (p.mode & 0o022 && !(p.mode & STICKY)) throw new UnsafePathError(dir, msg.unsafe.parentOpen(parent, p.mode & 0o7777));
  if (uid !== undefined && p.uid !== uid && p.uid !== 0) throw new UnsafePathError(dir, msg.unsafe.parentOwner(parent, p.uid));
}

/**
 * Check an existing folder inside the state dir (pools, a pool's folder), creating it 0700 if
 * missing. Its parent is already known to be ours.
 */
export function ensurePrivateFolder(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const problem = privacyProblem(fs.lstatSync(dir), true);
  if (problem) throw new UnsafePathError(dir, problem);
}
