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
 * The state dir as one string whatever path leads to it: its parent with symlinks resolved
 * (/var/run/x and /run/x are one folder). Pools, locks and identity beacons are named after
 * this string, so two spellings of one folder would make two pools, each admitting N. The last
 * component stays as written: a symlinked state dir is refused, never followed.
 */
export function canonicalStateDir(dir: string): string {
  const abs = path.resolve(dir);
  const parent = path.dirname(abs);
  return parent === abs ? abs : path.join(realExisting(parent), path.basename(abs));
}

/** realpath of the deepest part of `p` that exists, with the rest (not created yet) appended. */
function realExisting(p: string): string {
  const rest: string[] = [];
  for (let cur = p; ; ) {
    try {
      return path.join(fs.realpathSync(cur), ...rest);
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return p;
      rest.unshift(path.basename(cur));
      cur = up;
    }
  }
}

/**
 * Create the state dir (0700) if it is missing, then make sure it is ours alone. Throws a file
 * system error or UnsafePathError.
 */
export function ensureStateDir(dir: string): void {
  // Nothing is created under a folder that someone else could swap.
  mkdirLevels(dir, 0o700, (existing) => checkAncestors(dir, existing));
  checkStateDir(dir);
  // Ours and private, but perhaps read-only (chattr +i, a read-only mount).
  fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
}

/**
 * Create `dir` and its missing parents one level at a time: Node's recursive mkdir loops for
 * ever where a parent exists but refuses children with ENOENT (/proc). `vet` sees the nearest
 * existing folder first, when anything is to be created.
 */
export function mkdirLevels(dir: string, mode: number, vet?: (existing: string) => void): void {
  const missing: string[] = [];
  for (let p = path.resolve(dir); ; ) {
    try {
      fs.statSync(p);
      if (missing.length) vet?.(p);
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
      fs.mkdirSync(p, { mode });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Refuse a state dir that is a symlink, not ours, open to others, or replaceable by others. */
export function checkStateDir(dir: string): void {
  const problem = privacyProblem(fs.lstatSync(dir), true);
  if (problem) throw new UnsafePathError(dir, problem);
  const parent = path.dirname(path.resolve(dir));
  if (parent !== path.resolve(dir)) checkAncestors(dir, parent);
}

/**
 * Whoever may write a folder on the way to the state dir, at any depth, can rename what is in
 * it and put a path of theirs in its place (as ssh's StrictModes reasons): a running warden
 * would then write its records wherever that path leads. Every folder from `from` up to the
 * root, as written and as resolved, must be ours or root's and closed to others (or sticky).
 */
function checkAncestors(dir: string, from: string): void {
  const uid = myUid();
  const check = (folder: string, stat: fs.Stats): void => {
    if (uid !== undefined && stat.uid !== uid && stat.uid !== 0) throw new UnsafePathError(dir, msg.unsafe.parentOwner(folder, stat.uid));
    if (stat.isDirectory() && stat.mode & 0o022 && !(stat.mode & STICKY)) throw new UnsafePathError(dir, msg.unsafe.parentOpen(folder, stat.mode & 0o7777));
  };
  // As written: a symlink on the way must be ours or root's too (its target is checked below).
  for (const folder of upFrom(from)) check(folder, fs.lstatSync(folder));
  for (const folder of upFrom(fs.realpathSync(from))) check(folder, fs.statSync(folder));
}

function upFrom(folder: string): string[] {
  const chain = [folder];
  for (let p = folder; path.dirname(p) !== p; p = path.dirname(p)) chain.push(path.dirname(p));
  return chain;
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
