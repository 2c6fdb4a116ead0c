// "Hosts" of a fleet on one machine: each has its own network namespace (so no kernel object is
// shared, only the Redis server over its unix socket) and its own state dir.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { parseEvents } from './events.js';
import type { LogEvent } from './events.js';
import { BIN } from './paths.js';
import { killTagged } from './warden.js';

export interface Host {
  name: string;
  stateDir: string;
  /** HOST_TAG of everything the host runs: warden, its keeper, its jobs. */
  tag: string;
  /** A process that keeps the host's network namespace; commands join it with nsenter. */
  ns: ChildProcess;
}

/** A warden running on a host. */
export interface HostProc {
  child: ChildProcess;
  out: string;
  err: string;
  done: Promise<number | null>;
  /** JSON objects printed on stdout so far (with --log json). */
  events(): LogEvent[];
}

export interface Hosts {
  /** A new host; unnamed ones are h1, h2, ... */
  makeHost(name?: string): Host;
  /** Run warden on a host: inside its network namespace, with its state dir. */
  onHost(h: Host, args: string[], extraEnv?: NodeJS.ProcessEnv): HostProc;
  /** The host dies: every process of it, warden, keeper and jobs, SIGKILLed at once. */
  killHost(h: Host): void;
}

/** Why: the fleet tests' hosts, with state dirs under `dir` and every process tagged WARDEN_TEST_TAG=`tag`. */
export function netnsHosts(dir: string, tag: string): Hosts {
  let made = 0;
  return {
    makeHost(name = `h${++made}`) {
      if (spawnSync('unshare', ['-n', 'true']).status !== 0) throw new Error('`unshare -n` needs root (CAP_SYS_ADMIN)');
      const ns = spawn('unshare', ['-n', 'sleep', '600'], { stdio: 'ignore', env: { ...process.env, WARDEN_TEST_TAG: tag } });
      return { name, stateDir: path.join(dir, name), tag: `${tag}-${name}`, ns };
    },
    onHost(h, args, extraEnv = {}) {
      const child = spawn('nsenter', ['-t', String(h.ns.pid), '-n', '--', process.execPath, BIN, ...args], {
        env: { ...process.env, NO_COLOR: '1', WARDEN_STATE_DIR: h.stateDir, WARDEN_TEST_TAG: tag, HOST_TAG: h.tag, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const p: HostProc = {
        child,
        out: '',
        err: '',
        done: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
        events: () => parseEvents(p.out),
      };
      child.stdout?.on('data', (c: Buffer) => (p.out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (p.err += c.toString()));
      return p;
    },
    killHost(h) {
      killTagged('HOST_TAG', h.tag);
      h.ns.kill('SIGKILL');
    },
  };
}
