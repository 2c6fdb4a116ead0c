// A real redis-server for one test file: on a unix socket in its own temp dir (so that "hosts"
// in network namespaces of their own reach it too), no persistence, stopped after the file.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { connect } from '../../src/pool/redis/client.js';
import type { Connection } from '../../src/pool/redis/client.js';
import { parseRedisUrl } from '../../src/pool/redis/target.js';
import type { RedisTarget } from '../../src/pool/redis/target.js';
import { readCmdline } from './procfs.js';
import { killTagged, taggedPids, tempDir } from './warden.js';

export interface RedisServer {
  dir: string;
  socket: string;
  url: string;
  /** Make its folder and launch it; the fields above are there from then on. */
  start(): Promise<void>;
  /** SIGKILL the server (its data is gone: nothing is saved). */
  kill(): Promise<void>;
  /** Start it again on the same socket, empty. */
  restart(): Promise<void>;
  /** SIGSTOP the server: connections stay open and nothing is answered (a hung server, or a network that drops packets). */
  pause(): void;
  /** SIGCONT it: it answers again, with its data. */
  resume(): void;
  stop(): Promise<void>;
}

/**
 * A server not started yet: its folder is made as it starts (a test file that runs no test
 * leaves none behind). `port`: also listen on 127.0.0.1:port (for redis:// URLs); else the
 * unix socket only.
 */
function redisServer(options: { password?: string; port?: number } = {}): RedisServer {
  let where: { dir: string; socket: string } | undefined;
  const placed = (): { dir: string; socket: string } => {
    if (!where) throw new Error('the redis-server of this test file has not been started');
    return where;
  };
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const { dir, socket } = placed();
    const args = ['--port', String(options.port ?? 0), '--bind', '127.0.0.1', '--unixsocket', socket, '--unixsocketperm', '777', '--save', '', '--appendonly', 'no', '--dir', dir];
    if (options.password) args.push('--requirepass', options.password);
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    child = c;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}`);
      if (await answers(socket)) return;
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const exited = async (sig: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill(sig);
    await gone;
  };
  return {
    get dir() {
      return placed().dir;
    },
    get socket() {
      return placed().socket;
    },
    get url() {
      return `unix://${placed().socket}`;
    },
    start: async () => {
      const dir = tempDir('warden-redis');
      where = { dir, socket: path.join(dir, 'redis.sock') };
      await launch();
    },
    kill: () => exited('SIGKILL'),
    restart: async () => {
      await exited('SIGKILL');
      fs.rmSync(placed().socket, { force: true });
      await launch();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    stop: async () => {
      await exited('SIGKILL');
      if (where) fs.rmSync(where.dir, { recursive: true, force: true });
    },
  };
}

export async function startRedis(options: { password?: string; port?: number } = {}): Promise<RedisServer> {
  const server = redisServer(options);
  await server.start();
  return server;
}

/** Why: one server for the whole test file, up before its first test and gone after its last. */
export function useRedis(): RedisServer {
  const server = redisServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());
  return server;
}

export interface RedisFile {
  redis: RedisServer;
  /** The file's scratch folder (state dirs of its "hosts", ledgers), removed after the file. */
  dir: string;
  /** WARDEN_TEST_TAG of every warden the file starts: whatever carries it is killed after the file. */
  tag: string;
}

/**
 * Why: what every Redis test file sets up alike: the server, a scratch folder and a tag, with
 * the tagged processes killed after the file (and after each test with `killEach`) before the
 * server stops.
 */
export function useRedisFile(label: string, options: { killEach?: boolean } = {}): RedisFile {
  const redis = useRedis();
  const dir = tempDir(`warden-${label}`);
  const tag = `${label}-${process.pid}`;
  if (options.killEach) afterEach(() => void killTagged('WARDEN_TEST_TAG', tag));
  // Registered after useRedis's: vitest runs after-hooks last-in first-out, so this runs before the server stops.
  afterAll(() => {
    killTagged('WARDEN_TEST_TAG', tag);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { redis, dir, tag };
}

function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.once('connect', () => {
      s.end();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Why: a host's keeper (the process that renews its leases) among the live processes tagged `key`=`tag`. */
export function keeperPids(tag: string, key = 'WARDEN_TEST_TAG'): number[] {
  return taggedPids(key, tag).filter((pid) => readCmdline(pid).includes('__keeper'));
}

/** A connection from the test side, to look at what the pool keeps. */
export async function redisClient(url: string, password?: string): Promise<Connection> {
  return connect(parseRedisUrl(url, password) as RedisTarget, { failFast: true });
}

/** Why: a look at the server from the test side that always closes its connection. */
export async function withRedisClient<T>(url: string, use: (c: Connection) => Promise<T>): Promise<T> {
  const client = await redisClient(url);
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}
