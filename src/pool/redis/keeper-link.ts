// A warden process's line to its host's keeper: connect to it, or start it (detached, in a
// session of its own, told where Redis is on its standard input) and connect once it listens.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { KEEPER_COMMAND, UsageError } from '../../exit.js';
import { msg } from '../../messages.js';
import { keeperSocketPath, lineReader } from './keeper-protocol.js';
import type { FromKeeper, KeeperConfig, ToKeeper } from './keeper-protocol.js';
import type { RedisTarget } from './target.js';

const START_DEADLINE_MS = 5000;
const RETRY_MS = 10;

export class KeeperLink {
  private onLost: (m: FromKeeper) => void = () => undefined;
  private onGone: () => void = () => undefined;
  private open = true;
  private ending = false;
  private constructor(private readonly sock: net.Socket) {
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.open = false;
      if (!this.ending) this.onGone();
    });
    sock.on('data', lineReader((m) => {
      const message = m as FromKeeper;
      if (message.op === 'lost') this.onLost(message);
    }));
    // Never the reason this process stays alive.
    sock.unref();
  }

  /** `bin`: the warden script that starts the keeper (this process's own, unless embedded). */
  static async open(stateDir: string, target: RedisTarget, bin = process.argv[1]): Promise<KeeperLink> {
    const socketPath = keeperSocketPath(stateDir, target);
    // sizeof(sun_path) less its terminating zero.
    if (Buffer.byteLength(socketPath) > 107) throw new UsageError(msg.stateDirTooLong(stateDir, Buffer.byteLength(socketPath) - Buffer.byteLength(stateDir)));
    const deadline = performance.now() + START_DEADLINE_MS;
    let started = false;
    for (;;) {
      const sock = await dial(socketPath);
      if (sock) return new KeeperLink(sock);
      if (!started) {
        startKeeper({ target, socketPath }, bin);
        started = true;
      }
      if (performance.now() > deadline) throw new Error(`the lease keeper did not start (${socketPath})`);
      await sleep(RETRY_MS);
    }
  }

  /** False once the keeper went away (it is then started again for the next lease). */
  get alive(): boolean {
    return this.open;
  }

  set lost(fn: (m: FromKeeper) => void) {
    this.onLost = fn;
  }

  /** The keeper went away (killed): its leases must be told to a new one. */
  set gone(fn: () => void) {
    this.onGone = fn;
  }

  send(m: ToKeeper): void {
    this.sock.write(JSON.stringify(m) + '\n');
  }

  close(): void {
    this.ending = true;
    this.sock.end();
  }
}

function dial(socketPath: string): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect(socketPath);
    sock.once('connect', () => resolve(sock));
    sock.once('error', () => resolve(undefined));
  });
}

function startKeeper(config: KeeperConfig, bin: string): void {
  const env = { ...process.env };
  delete env.WARDEN_REDIS_PASSWORD;
  delete env.WARDEN_REDIS_URL;
  const child = spawn(process.execPath, [bin, KEEPER_COMMAND], { detached: true, cwd: '/', env, stdio: ['pipe', 'ignore', 'ignore'] });
  child.on('error', () => undefined);
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(JSON.stringify(config));
  child.unref();
}
