// Named locks that live with a process tree, as pool slots do: a Linux abstract-namespace
// socket bound to the lock's name. Whoever has the bound socket open holds the lock; its
// descriptor can be handed to a job, and the kernel frees the name when the last descriptor
// closes, on any death (SIGKILL of the whole tree included). Used for --unique keys and for
// the claim on a spooled job.
import fs from 'node:fs';
import net from 'node:net';
import { handleFd } from '../handle-fd.js';
import os from 'node:os';
import { poolIdentity } from '../pool/identity.js';
import { keyedHash } from '../pool/names.js';

// sizeof(sun_path): every name is padded to it, so Node 20 and 22 bind the same address.
const SUN_PATH = 108;

/** A held lock: hand its descriptor to a child (then `handOff`), or `release` it. */
export interface KeyLock {
  readonly fd: number;
  /** With --redis: the fleet lease that holds the lock. */
  readonly lease?: string;
  /** Close this process's copy after a child received `fd`; the child holds the lock now. */
  handOff(): void;
  /** Give the lock up. */
  release(): void;
}

/** A family of named locks (one per pool and purpose); a Redis-backed family can stand in later. */
export interface KeyLocks {
  /** The lock, or undefined when some process holds it. */
  tryLock(key: string): Promise<KeyLock | undefined>;
  /** Whether some process holds the lock right now (without touching it). */
  isLocked(key: string): Promise<boolean>;
  /** Which of these keys some process holds right now (one look at the kernel's table, or the server). */
  heldAmong(keys: string[]): Promise<Set<string>>;
}

/**
 * Locks named after the user, and keyed hashes of the state dir, a scope (pool and purpose) and
 * the key under the state dir's identity: abstract names are public, and a name another user
 * could compute could be bound by them first (a --unique key or a spooled job blocked).
 */
export function socketKeyLocks(stateDir: string, scope: string): KeyLocks {
  const uid = typeof process.getuid === 'function' ? process.getuid() : os.userInfo().uid;
  let namer: ((key: string) => string) | undefined;
  // Only looking makes no identity: without one, nothing of this state dir can be held.
  const names = (create: boolean): ((key: string) => string) | undefined => {
    if (namer) return namer;
    const secret = poolIdentity(stateDir, create);
    if (secret === undefined) return undefined;
    // Fixed length, ending in ';': a name is never a prefix of another in /proc/net/unix.
    const prefix = `warden:${uid}:${keyedHash(secret, `${stateDir}\0${scope}`)}:k:`;
    namer = (key) => `${prefix}${keyedHash(secret, `${stateDir}\0${scope}\0${key}`)};`;
    return namer;
  };
  return {
    tryLock: async (key) => bindLock((names(true) as (key: string) => string)(key)),
    isLocked: async (key) => {
      const name = names(false);
      return name !== undefined && boundNames().has(name(key));
    },
    heldAmong: async (keys) => {
      const name = names(false);
      if (!name) return new Set();
      const bound = boundNames();
      return new Set(keys.filter((k) => bound.has(name(k))));
    },
  };
}

function bindLock(name: string): Promise<KeyLock | undefined> {
  return new Promise((resolve, reject) => {
    // Nothing ever needs to talk to a lock: a probe is dropped at once.
    const server = net.createServer((conn) => conn.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(undefined);
      else reject(err);
    });
    server.listen({ path: ('\0' + name).padEnd(SUN_PATH, '\0'), backlog: 1 }, () => {
      const fd = handleFd(server);
      if (fd === undefined) {
        server.close();
        reject(new Error('abstract socket has no descriptor'));
        return;
      }
      let closed = false;
      const close = (): void => {
        if (closed) return;
        closed = true;
        server.close();
      };
      resolve({ fd, handOff: close, release: close });
    });
  });
}

/** A lock inherited as a descriptor (the --detach runner's): closing it lets go. */
export function inheritedLock(fd: number): KeyLock {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    try {
      fs.closeSync(fd);
    } catch {
      // Already closed.
    }
  };
  return { fd, handOff: close, release: close };
}

/** Every abstract name bound on the machine that looks like one of ours (from /proc/net/unix). */
function boundNames(): Set<string> {
  const names = new Set<string>();
  let table: string;
  try {
    table = fs.readFileSync('/proc/net/unix', 'latin1');
  } catch {
    return names;
  }
  for (let i = table.indexOf('@warden:'); i !== -1; i = table.indexOf('@warden:', i + 1)) {
    const end = table.indexOf(';', i);
    const eol = table.indexOf('\n', i);
    if (end !== -1 && (eol === -1 || end < eol)) names.add(table.slice(i + 1, end + 1));
  }
  return names;
}
