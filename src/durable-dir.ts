// Where the state that must survive a reboot lives: the spool of delayed jobs and the --on-change
// state. The default state dir (/tmp/warden-UID) holds live things only (slot sockets and files,
// key locks, the identity), and /tmp is emptied at boot on many systems (a tmpfs, or
// systemd-tmpfiles). So with the default state dir these two live in the user's home, found
// through the passwd entry, never the session's environment ($HOME, $XDG_STATE_HOME): cron, a
// systemd service, `sudo -u` and ssh all see the same one. An explicit state dir keeps
// everything, as the user chose.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from './exit.js';
import { describeFsError, msg } from './messages.js';
import { UnsafePathError } from './pool/safe-fs.js';
import { syncDirNow } from './state-files.js';
import { checkStateDir, defaultStateDir, ensureStateDir } from './pool/state-dir.js';

/** Whether anything (a dangling symlink too) has this name. */
function there(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** This machine's name for its folder: /etc/machine-id (stable across reboots), else the host name. */
export function machineName(): string {
  let id = '';
  try {
    id = fs.readFileSync('/etc/machine-id', 'utf8').trim();
  } catch {
    // No systemd machine id (some containers, other systems): the host name it is.
  }
  if (!/^[0-9a-f]{32}$/.test(id)) id = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_') || 'localhost';
  return id;
}

export interface DurableDir {
  dir: string;
  /** The passwd home it is under (not set when it is the state dir). */
  home?: string;
  /** Why the durable state fell back to the (volatile) state dir: no usable home. */
  volatile?: string;
}

const cache = new Map<string, DurableDir>();

/** The home folder of this process's user as the passwd entry has it, or why there is none. */
function passwdHome(): { home: string } | { why: string } {
  let home: string;
  try {
    home = os.userInfo().homedir;
  } catch {
    return { why: msg.durable.noAccount(process.geteuid?.() ?? -1) };
  }
  if (!home || !path.isAbsolute(home) || home === '/') return { why: msg.durable.noHome(home) };
  try {
    if (!fs.statSync(home).isDirectory()) return { why: msg.durable.homeMissing(home) };
  } catch {
    return { why: msg.durable.homeMissing(home) };
  }
  return { home };
}

/**
 * `<home>/.local/state/warden/<machine>` under the passwd home, the state dir itself when it was
 * chosen. Only looks: an unsafe folder is refused, a missing one is made by `makeDurableDir` when
 * something is first written there (a `once` that keeps nothing makes nothing in the home).
 */
export function durableDirFor(stateDir: string): DurableDir {
  const known = cache.get(stateDir);
  if (known) return known;
  const found = resolve(stateDir);
  cache.set(stateDir, found);
  return found;
}

function resolve(stateDir: string): DurableDir {
  if (path.resolve(stateDir) !== path.resolve(defaultStateDir())) return { dir: stateDir };
  const found = passwdHome();
  if ('why' in found) return { dir: stateDir, volatile: found.why };
  // One folder per machine: a home shared by several (NFS) must not share a spool whose claims
  // (abstract sockets) each machine sees only its own of, or two machines would run one job.
  const top = path.join(found.home, '.local', 'state', 'warden');
  const dir = path.join(top, machineName());
  try {
    // Both levels are ours: a symlink at either is refused, never followed.
    if (there(top)) checkStateDir(top);
    if (there(dir)) checkStateDir(dir);
    else {
      // It can be made later only if the deepest folder that exists can be written.
      let p = path.dirname(dir);
      while (!there(p)) p = path.dirname(p);
      fs.accessSync(p, fs.constants.W_OK | fs.constants.X_OK);
    }
  } catch (err) {
    // Someone else's, a symlink, open to others: refused, as the state dir would be.
    if (err instanceof UnsafePathError) throw new UsageError(msg.durable.refused(err.file, err.problem));
    // A read-only or foreign home: the live state dir it is, and the user is told.
    return { dir: stateDir, volatile: msg.durable.unwritable(dir, describeFsError(err)) };
  }
  return { dir, home: found.home };
}

/** Make the durable folder (0700, a level at a time, synced into its parents) if it is missing. */
export function makeDurableDir(d: DurableDir): void {
  if (d.volatile || !d.home || there(d.dir)) return;
  try {
    ensureStateDir(d.dir);
  } catch (err) {
    if (err instanceof UnsafePathError) throw new UsageError(msg.durable.refused(err.file, err.problem));
    throw err;
  }
  // The folders just made must be there after a reboot too.
  for (let p = d.dir; p !== d.home; p = path.dirname(p)) syncDirNow(path.dirname(p));
}
