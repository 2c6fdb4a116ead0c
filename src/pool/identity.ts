// The pool identity: a per-user random secret in the private state dir from which abstract
// socket names derive. Abstract names are public (/proc/net/unix) and anyone may bind one
// first; names that only this user's processes can compute cannot be taken in advance.
//
// Every process of the user must agree on it, for as long as one of them holds a slot:
// - it is created once (a temp file linked into place: the first of racing processes wins);
// - every warden process keeps it open, so when the file is gone (the state dir removed, or
//   systemd-tmpfiles deleting /tmp files untouched for 10 days) a newcomer recovers it from a
//   live process's descriptor (/proc/PID/fd, readable by the same user) instead of making a new
//   one. To find those processes without reading every process's descriptors, each binds a
//   beacon: an abstract name made of the state dir's hash and its pid. A beacon tells nothing
//   secret, and a false one costs only a look at the named process, which must be ours;
// - processes touch it when they open it and every hour while they run, so tmpfiles never
//   finds it idle while a warden lives, and put it back if it vanished.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { msg } from '../messages.js';
import { boundAbstractNames, pad } from './names.js';
import { UnsafePathError, createExclusive, myUid, privacyProblem } from './safe-fs.js';
import { ensureStateDir } from './state-dir.js';

const FILE = 'identity';
const TOUCH_EVERY_MS = 60 * 60 * 1000;
const HEX = /^[0-9a-f]{64}\n?$/;

interface Held {
  fd: number;
  secret: string;
}

const held = new Map<string, Held>();
let refresher: NodeJS.Timeout | undefined;

/**
 * The state dir's identity (64 hex digits). With `create` false (status: only look), a missing
 * identity that no live process holds is undefined: then no slot of it can be held either.
 */
export function poolIdentity(stateDir: string, create = true): string | undefined {
  const known = held.get(stateDir);
  if (known) return known.secret;
  const file = path.join(stateDir, FILE);
  let opened = openIdentity(file);
  if (!opened) {
    const recovered = recoverFromProcesses(stateDir, file);
    // Only looking (status): nothing is written, the state dir may not even be there.
    if (!create) return recovered;
    place(file, recovered ?? randomBytes(32).toString('hex'));
    opened = openIdentity(file);
    if (!opened) throw new UnsafePathError(file, msg.unsafe.notIdentity);
  }
  held.set(stateDir, opened);
  if (create) bindBeacon(stateDir);
  touch(opened.fd);
  refresher ??= setInterval(refreshAll, TOUCH_EVERY_MS).unref();
  return opened.secret;
}

function openIdentity(file: string): Held | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new UnsafePathError(file, msg.unsafe.symlink);
    throw err;
  }
  const secret = readSecret(fd);
  const problem = privacyProblem(fs.fstatSync(fd), false) ?? (secret ? undefined : msg.unsafe.notIdentity);
  if (problem || !secret) {
    fs.closeSync(fd);
    throw new UnsafePathError(file, problem ?? msg.unsafe.notIdentity);
  }
  return { fd, secret };
}

function readSecret(fd: number): string | undefined {
  const buf = Buffer.alloc(80);
  try {
    const text = buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, 0));
    return HEX.test(text) ? text.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

/** Put `secret` in place unless another process was first (then its value stands). */
function place(file: string, secret: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = createExclusive(tmp);
  try {
    fs.writeSync(fd, secret + '\n');
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function touch(fd: number): void {
  try {
    if (Date.now() - fs.fstatSync(fd).mtimeMs < TOUCH_EVERY_MS / 2) return;
    const now = new Date();
    fs.futimesSync(fd, now, now);
  } catch {
    // A read-only state dir: nothing to keep fresh.
  }
}

function refreshAll(): void {
  for (const [stateDir, h] of held) {
    const file = path.join(stateDir, FILE);
    try {
      fs.lstatSync(file);
    } catch {
      try {
        ensureStateDir(stateDir);
        place(file, h.secret);
      } catch {
        // Not ours to fix now (removed and refused): the next process reports it.
      }
    }
    touch(h.fd);
  }
}

const beaconPrefix = (stateDir: string): string =>
  `warden-identity:${myUid() ?? ''}:${createHash('sha256').update(stateDir).digest('hex').slice(0, 24)}:`;

function bindBeacon(stateDir: string): void {
  const server = net.createServer((conn) => conn.destroy());
  server.on('error', () => undefined);
  server.listen({ path: pad(beaconPrefix(stateDir) + process.pid) });
  server.unref();
}

/**
 * Our identity as another live warden of this user still holds it open, if one does. Only one
 * that sees the files as we do: a warden in another mount namespace (a private /tmp) or under
 * another root has another state dir at the same path, whose identity is not ours.
 */
function recoverFromProcesses(stateDir: string, file: string): string | undefined {
  const uid = myUid();
  const comm = readText('/proc/self/comm');
  const view = filesView('self');
  const prefix = beaconPrefix(stateDir);
  const pids = [...(boundAbstractNames() ?? [])].filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
  const targets = [file, `${file} (deleted)`];
  for (const pid of pids) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      // Only our own wardens: same user, same program name.
      if (uid !== undefined && fs.statSync(`/proc/${pid}`).uid !== uid) continue;
      if (comm !== undefined && readText(`/proc/${pid}/comm`) !== comm) continue;
      if (view === undefined || filesView(pid) !== view) continue;
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        const link = `/proc/${pid}/fd/${fd}`;
        if (!targets.includes(fs.readlinkSync(link))) continue;
        const secret = readHeld(link);
        if (secret) return secret;
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return undefined;
}

function readHeld(link: string): string | undefined {
  const fd = fs.openSync(link, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    return privacyProblem(fs.fstatSync(fd), false) ? undefined : readSecret(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A process's mount namespace and root: two processes with the same see one file at one path. */
function filesView(pid: string): string | undefined {
  try {
    return `${fs.readlinkSync(`/proc/${pid}/ns/mnt`)}\0${fs.readlinkSync(`/proc/${pid}/root`)}`;
  } catch {
    return undefined;
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}
