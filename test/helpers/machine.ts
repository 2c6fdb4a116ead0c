// A "machine" for tests of what a reboot keeps: warden runs in a private mount namespace with a
// fresh, empty /tmp (as a tmpfs /tmp is after a boot) and the test's own folder as the passwd
// home of root (/root). Each start is a new boot: whatever the last one left in /tmp is gone,
// and only the home carries over. Needs root (CI is root) and unshare(1).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, ROOT } from './paths.js';
import { parseEvents } from './events.js';
import type { LogEvent } from './events.js';

export interface Machine {
  /** Outside /tmp, which every boot replaces: the test's files, and `home`, root's home. */
  dir: string;
  home: string;
}

/** Whether this process can make mount namespaces (root with unshare). */
export function canBoot(): boolean {
  return process.getuid?.() === 0 && spawnSync('unshare', ['-m', '--propagation', 'private', 'true']).status === 0;
}

export function newMachine(): Machine {
  // /dev/shm, not /tmp: the namespace mounts a new /tmp over the old one.
  const dir = fs.mkdtempSync('/dev/shm/warden-boot-');
  const home = path.join(dir, 'home');
  fs.mkdirSync(home, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  return { dir, home };
}

export interface Booted {
  pid: number;
  events(): LogEvent[];
  stderr(): string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/**
 * Boot the machine and run warden in it. `as` runs warden as that uid (setpriv). The session's
 * environment is bare and names a home of its own (`HOME`), so a warden that took its home from
 * the environment rather than the passwd entry would be caught.
 */
export interface BootOptions {
  /** Run warden as this uid (setpriv). */
  as?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * Another machine sharing the home (as an NFS home is shared): its own /etc/machine-id and its
   * own network namespace (so its own abstract sockets).
   */
  machineId?: string;
}

export function boot(m: Machine, args: string[], options: BootOptions = {}): Booted {
  const user = options.as === undefined ? '' : `setpriv --reuid=${options.as} --regid=${options.as} --clear-groups `;
  let other = '';
  if (options.machineId !== undefined) {
    const file = path.join(m.dir, `machine-id-${options.machineId}`);
    fs.writeFileSync(file, `${options.machineId}\n`);
    other = `mount --bind '${file}' /etc/machine-id && `;
  }
  // A checkout under /tmp (a CI clone) would vanish with the old /tmp: it is kept through the boot
  // by a bind mount from outside /tmp, put back at its path in the new one.
  let keepRepo = '';
  if (ROOT.startsWith('/tmp/')) {
    const kept = path.join(m.dir, 'repo');
    fs.mkdirSync(kept, { recursive: true });
    keepRepo = `mount --bind '${ROOT}' '${kept}' && `;
    other += keepRepo;
  }
  const restoreRepo = keepRepo ? ` && mkdir -p '${ROOT}' && mount --bind '${path.join(m.dir, 'repo')}' '${ROOT}'` : '';
  const script = `${other}mount -t tmpfs -o mode=1777 tmpfs /tmp${restoreRepo} && mount --bind "$1" /root && shift && exec ${user}"$@"`;
  const ns = options.machineId !== undefined ? ['-m', '-n'] : ['-m'];
  const child = spawn('unshare', [...ns, '--propagation', 'private', 'sh', '-c', script, 'sh', m.home, process.execPath, BIN, ...args], {
    cwd: m.dir,
    env: { PATH: '/usr/bin:/bin', NO_COLOR: '1', HOME: path.join(m.dir, 'session-home'), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  return { pid: child.pid ?? -1, events: () => parseEvents(out), stderr: () => err, done };
}
