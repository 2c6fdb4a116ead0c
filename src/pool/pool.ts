// The pool contract: a named counting semaphore whose slots the kernel releases when their
// last holder dies. Backends (abstract sockets, flock) implement it; commands use only this.

export type PoolBackend = 'socket' | 'flock';

/** What a holder writes about itself for `status`; information only, never proof of a hold. */
export interface HolderInfo {
  slot: number;
  pid: number;
  owner: number;
  command: string;
  jobId: string;
  startedAt: string;
  maxLive: number;
}

/** One held slot. Either hand its descriptor to a child (then close it here) or release it. */
export interface Slot {
  readonly index: number;
  /** With --redis: the fencing token of this grant (grows with every grant of the pool). */
  readonly token?: number;
  /** What another process needs to take this slot over with its descriptor (a fleet lease). */
  readonly handle?: string;
  /** Descriptor to pass to a child process; the child then holds the slot. */
  readonly fd: number;
  /** Record who holds the slot, for `status`. */
  describe(info: Omit<HolderInfo, 'slot' | 'maxLive'>): void;
  /** Give up the slot and forget its holder record. */
  release(): void;
  /** Close this process's copy after a child received `fd`; the child now holds the slot. */
  handOff(): void;
  /** The child that was handed the slot has exited: scans may try this slot again. */
  forget(): void;
}

export interface AcquireOptions {
  signal?: AbortSignal;
  /** Milliseconds; undefined waits for ever. */
  timeoutMs?: number;
  /** A socket slot that frees is taken by the process that becomes the job (ready-job.ts). */
  taker?: SlotTaker;
}

/** taken: bound there and the job starts; busy: someone else holds it; released: bound, then let
 *  go (nobody of ours still waits); unavailable: cannot take now (bind it here instead). */
export type TakeResult = 'taken' | 'busy' | 'released' | 'unavailable';

/** Slot `index` was taken elsewhere: the pool records it; `serve()` once the job's program runs. */
export type Taken = (index: number) => { slot: Slot; serve(): void };

/**
 * What a taker is asked to watch: the slots (`addresses[i]` is slot i's), taking the first that
 * frees without asking (unless the file `flockMark` exists). `watching()` once it does watch
 * (the pool's own watchers can go then); `took()` as soon as it took one (`taken` comes a moment
 * later); `unarmed(i)`: it stopped watching, having let slot i go (-1: none).
 */
export interface ArmRequest {
  flockMark: string;
  addresses: string[];
  taken: Taken;
  watching(): void;
  took(): void;
  unarmed(index: number): void;
}

/** Takes a free socket slot in another process that then holds it (it becomes the job). */
export interface SlotTaker {
  /** Up, and neither taking nor armed. */
  readonly ready: boolean;
  /** Watching the slots itself (the pool does not). */
  readonly armed: boolean;
  /** Bind `address` there; once bound, `keep()` says whether to keep it (and may throw). */
  take(index: number, address: string, keep: () => boolean, taken: Taken): Promise<TakeResult>;
  /** Watch the slots there, as soon as it can (see ArmRequest); false if it cannot now. */
  arm(request: ArmRequest): boolean;
  /** Asked to watch but not watching yet: it never will (the pool takes the slot itself). */
  forgoArm(): void;
}

export interface PoolOptions {
  name: string;
  /** Slots this process may use: indexes 0 .. maxLive-1. Infinity for unlimited. */
  maxLive: number;
  stateDir: string;
  backend: PoolBackend;
  /** Only look (status): create nothing, record nothing. */
  inspectOnly?: boolean;
}

export interface SlotState {
  slot: number;
  held: boolean;
  holder?: HolderInfo;
}

export interface Pool {
  readonly name: string;
  readonly maxLive: number;
  readonly backend: PoolBackend | 'redis';
  /** A free slot now, or undefined when the pool is full. */
  tryAcquire(): Promise<Slot | undefined>;
  /** Wait for a slot; rejects with PoolTimeoutError or the signal's reason. */
  acquire(options?: AcquireOptions): Promise<Slot>;
  /** How many of this pool's slots (up to `upTo`) are held right now, by anyone. */
  inspect(upTo: number): Promise<SlotState[]>;
  /** Stop any waiting and free nothing else. */
  close(): void;
  /** Whether another process waits in this pool's line (a newcomer then queues behind it). */
  othersWaiting?(): boolean;
  /** Take over a slot handed to this process as descriptor `fd` (see Slot.handle). */
  adopt?(fd: number, handle: string): Slot;
}

export class PoolTimeoutError extends Error {
  constructor() {
    super('timed out waiting for a slot');
    this.name = 'PoolTimeoutError';
  }
}

/** The pool's own machinery failed (not a timeout, not an abort): waiting again would fail again. */
export class PoolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolError';
  }
}

/** Abstract sockets where Linux has them, flock files elsewhere. */
export const defaultBackend = (): PoolBackend => (process.platform === 'linux' ? 'socket' : 'flock');

/** A cap as JSON and events show it: unlimited (Infinity, which JSON has not) is null. */
export const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

/**
 * A fleet slot's fencing token goes to the job as WARDEN_LEASE_TOKEN; the Redis password that
 * warden read from the environment does not go on to the job.
 */
export function withLeaseToken(env: NodeJS.ProcessEnv, slot: Pick<Slot, 'token'>): NodeJS.ProcessEnv {
  delete env.WARDEN_LEASE_TOKEN;
  if (slot.token === undefined) return env;
  delete env.WARDEN_REDIS_PASSWORD;
  env.WARDEN_LEASE_TOKEN = String(slot.token);
  return env;
}
