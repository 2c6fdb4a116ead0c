// The Redis connection of a warden process or keeper: node-redis, loaded only when --redis is
// given. Commands fail fast while the server is away (no offline queue, so nothing is granted
// late behind our back); the client reconnects with backoff and reports each outage once.
// A server that accepts the connection but never answers (stopped, hung, or a network that
// drops packets without a reset) is an outage too: the handshake and every command have a
// deadline, without which a one-shot would wait for ever and a keeper would never learn that
// its renewals are failing.
import { createHash } from 'node:crypto';
import { importEsm } from '../../esm-import.js';
import type { RedisTarget } from './target.js';
import { dialHost } from './target.js';

/** One Redis reply as node-redis gives it for a raw command (RESP2). */
export type Reply = string | number | null | Reply[];

export interface Connection {
  /** Run a Lua script (EVALSHA, EVAL again after the server forgot it). */
  script(source: string, keys: string[], args: (string | number)[]): Promise<Reply>;
  command(args: string[]): Promise<Reply>;
  /** Call `onMessage` for every message on `channel` (and once as it starts listening), over a second connection. */
  subscribe(channel: string, onMessage: () => void): Promise<() => Promise<void>>;
  readonly ready: boolean;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Give up (reject) if the first connection fails: `once` and `run` exit 69 then. */
  failFast: boolean;
  /** The server went away (once per outage) or came back. */
  onOutage?(err: Error): void;
  onBack?(): void;
  /** Connected (the first time, and after every outage). */
  onReady?(): void;
  name?: string;
}

const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 2000;
const CONNECT_TIMEOUT_MS = 3000;
// Far above any answer of a working server (the scripts are small), and short enough that a
// keeper renewing every third of a lease notices a silent server well within the lease.
const COMMAND_TIMEOUT_MS = 2000;

/** An error of the connection itself (refused, reset, timed out), not of a command. */
export class UnreachableError extends Error {}

const shas = new Map<string, string>();
const sha1 = (source: string): string => {
  let sha = shas.get(source);
  if (!sha) shas.set(source, (sha = createHash('sha1').update(source).digest('hex')));
  return sha;
};

// The bundle loads node-redis from its own one-file build beside it (dist/redis.cjs: about a
// third of the time its many modules take to load); unbundled, from node_modules.
declare const WARDEN_REDIS_MODULE: string | undefined;
const REDIS_MODULE = typeof WARDEN_REDIS_MODULE === 'string' ? WARDEN_REDIS_MODULE : 'redis';

export async function connect(target: RedisTarget, options: ConnectOptions): Promise<Connection> {
  const { createClient } = await importEsm<typeof import('redis')>(REDIS_MODULE);
  let connectedOnce = false;
  let down = false;
  const socket = {
    connectTimeout: CONNECT_TIMEOUT_MS,
    reconnectStrategy: (retries: number, cause: Error): number | Error => {
      if (!connectedOnce && options.failFast) return new UnreachableError(cause.message);
      return Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(retries, 8));
    },
    ...(target.path ? { path: target.path, tls: false as const } : target.tls ? { host: dialHost(target), port: target.port, tls: true as const } : { host: dialHost(target), port: target.port }),
  };
  const make = () =>
    createClient({
      socket,
      database: target.database,
      username: target.username,
      password: target.password,
      disableOfflineQueue: true,
      name: options.name,
    });
  const client = make();
  const outage = (err: Error): void => {
    // A one-shot's first connection failing is its exit 69, not an outage to log.
    if (down || (options.failFast && !connectedOnce)) return;
    down = true;
    options.onOutage?.(err);
  };
  const back = (): void => {
    if (!down) return;
    down = false;
    options.onBack?.();
  };
  client.on('error', outage);
  client.on('ready', () => {
    connectedOnce = true;
    options.onReady?.();
    back();
  });
  if (options.failFast) {
    try {
      await withDeadline(client.connect(), CONNECT_TIMEOUT_MS);
    } catch (err) {
      try {
        client.destroy();
      } catch {
        // Closed already by the failed connect.
      }
      throw new UnreachableError(err instanceof Error ? err.message : String(err));
    }
  } else {
    client.connect().catch(() => undefined);
    // Connected but never answered (the handshake hangs): an outage all the same.
    const silent = setTimeout(() => {
      if (!connectedOnce) outage(new UnreachableError(noAnswer(CONNECT_TIMEOUT_MS)));
    }, CONNECT_TIMEOUT_MS);
    silent.unref();
  }

  const run = async (args: string[]): Promise<Reply> => {
    let reply: Reply;
    try {
      reply = (await withDeadline(client.sendCommand(args), COMMAND_TIMEOUT_MS)) as Reply;
    } catch (err) {
      if (err instanceof UnreachableError) {
        outage(err);
        throw err;
      }
      if (!client.isReady) throw new UnreachableError(err instanceof Error ? err.message : String(err));
      throw err;
    }
    // A server that fell silent is heard again.
    if (client.isReady) back();
    return reply;
  };

  return {
    get ready() {
      return client.isReady;
    },
    command: run,
    async script(source, keys, args) {
      const rest = [String(keys.length), ...keys, ...args.map(String)];
      try {
        return await run(['EVALSHA', sha1(source), ...rest]);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return run(['EVAL', source, ...rest]);
      }
    },
    async subscribe(channel, onMessage) {
      // Best effort: until it is up (and while the server is away) waiters fall back to polling;
      // node-redis subscribes again by itself after a reconnect.
      const sub = client.duplicate();
      sub.on('error', () => undefined);
      let closed = false;
      sub
        .connect()
        .then(() => (closed ? undefined : sub.subscribe(channel, onMessage)))
        // A release published before the subscription was in place is not heard: ask once now.
        .then(() => (closed ? undefined : onMessage()))
        .catch(() => undefined);
      return async () => {
        closed = true;
        sub.destroy();
      };
    },
    async close() {
      client.destroy();
    },
  };
}

const noAnswer = (ms: number): string => `no answer within ${ms} ms`;

/** `promise`, or an UnreachableError once `ms` have passed without it settling. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new UnreachableError(noAnswer(ms))), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The parts of a reply as text, for scripts that return arrays of strings and numbers. */
export const texts = (reply: Reply): string[] => (Array.isArray(reply) ? reply.map((r) => (r === null ? '' : String(r))) : []);
