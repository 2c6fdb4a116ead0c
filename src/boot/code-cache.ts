// Loads warden's bundle through V8's code cache: what Node 22 does with module.enableCompileCache(),
// which Node 20 lacks. Compiling the bundle and the functions a command runs costs every process
// ~14 ms (a one-shot `run -- true` took 107 ms against 69 ms for `node -e 0`), and the functions a
// waiter first runs when its slot frees cost the hand-off ~1 ms. The cache keeps the bytecode a
// process compiled, and the next process starts with it.
//
// A cache is code this process will run, so it is kept where only this user can write: the
// default state dir (/tmp/warden-UID) once warden has made it, checked as the state dir is (a
// symlink is refused, never followed), and read only from a regular file of ours. Nothing is
// created for it: a process given --state-dir uses the default one only if it is there already.
// It is keyed by the bundle's text, the Node version and Node's options (V8 turns down a cache
// made under other flags), and checked against its own hash before V8 sees it: a release build
// of V8 checks little, and a damaged cache must cost time, never a crash. Any failure here means
// no cache.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { privacyProblem } from '../pool/safe-fs.js';
import { checkStateDir, defaultStateDir } from '../pool/state-dir.js';

export interface WardenBundle {
  main(argv: string[]): Promise<number>;
  partsRun(): string[];
  setImporter(fn: (specifier: string) => Promise<unknown>): void;
}

interface Cached {
  data: Buffer;
  /** The parts of warden its maker ran (code-parts.ts): their code is in it. */
  parts: Set<string>;
}

const MAGIC = 'warden-code-cache-1';
const MAX_BYTES = 64 * 1024 * 1024;
// Caches of other bundles (an upgrade, another installed copy) are swept once unused this long.
const STALE_MS = 24 * 3600 * 1000;
const RENEW_MS = 3600 * 1000;
// A temp file this old is a killed writer's.
const TEMP_STALE_MS = 10 * 60 * 1000;
// Written only where this much room is left after it: a cache must never be what fills /tmp.
const ROOM_BYTES = 64 * 1024 * 1024;
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const WRAPPER = '(function (exports, require, module, __filename, __dirname) {';

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** One CommonJS bundle of dist/, run from the cache when there is a good one. */
class CachedBundle {
  readonly exports: unknown;
  private readonly script: vm.Script;
  private readonly cacheFile: string;
  /** The parts the loaded cache holds; undefined when there was none, or V8 turned it down. */
  private readonly usable: Set<string> | undefined;
  /** The loaded cache's size: a new one smaller than it has lost some of what it held. */
  private readonly loadedBytes: number;

  constructor(
    file: string,
    private readonly dir: string,
  ) {
    const source = fs.readFileSync(file, 'utf8');
    const flags = `${process.execArgv.join(' ')}\0${process.env.NODE_OPTIONS ?? ''}`;
    this.cacheFile = path.join(dir, `code-${sha256(`${process.version}\0${process.arch}\0${flags}\0${source}`).slice(0, 32)}.v8`);
    const cached = readCache(dir, this.cacheFile);
    this.script = new vm.Script(`${WRAPPER}${source}\n})`, { filename: file, columnOffset: -WRAPPER.length, cachedData: cached?.data });
    this.usable = cached && !this.script.cachedDataRejected ? cached.parts : undefined;
    this.loadedBytes = this.usable ? (cached?.data.length ?? 0) : 0;
    const module = { exports: {} };
    const wrapper = this.script.runInThisContext() as (...args: unknown[]) => void;
    wrapper.call(module.exports, module.exports, createRequire(file), module, file, path.dirname(file));
    this.exports = module.exports;
  }

  /** A new cache if this process ran a part the loaded one lacked: what this process compiled, which includes what it loaded. */
  save(parts: string[]): void {
    const usable = this.usable;
    if (usable && parts.every((p) => usable.has(p))) return;
    const data = this.script.createCachedData();
    // A process that ran a while has had V8 drop the bytecode of functions it did not run, the
    // loaded parts' among them: then the new cache claims only the parts this process ran, so
    // that the next process that runs the others writes their code back.
    const kept = usable && data.length >= this.loadedBytes ? usable : [];
    writeCache(this.dir, this.cacheFile, data, new Set([...kept, ...parts]));
  }
}

/** Run warden's bundle at `file`; node-redis's bundle beside it (./redis.cjs) is loaded the same way when asked for. */
export function loadBundle(file: string): WardenBundle {
  const dir = defaultStateDir();
  const dist = path.dirname(file);
  const main = new CachedBundle(file, dir);
  const loaded = [main];
  const bundle = main.exports as WardenBundle;
  // Resolved from here, dist/, as from the bundle beside it.
  bundle.setImporter(async (specifier) => {
    if (!/^\.\/[\w-]+\.cjs$/.test(specifier)) return import(specifier);
    const other = new CachedBundle(path.join(dist, specifier), dir);
    loaded.push(other);
    return other.exports;
  });
  process.once('exit', () => {
    try {
      const parts = bundle.partsRun();
      for (const one of loaded) one.save(parts);
    } catch {
      // Only speed is lost; an exception here would change the exit status.
    }
  });
  return bundle;
}

function readCache(dir: string, file: string): Cached | undefined {
  let fd: number | undefined;
  try {
    checkStateDir(dir);
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    const stat = fs.fstatSync(fd);
    if (privacyProblem(stat, false) || stat.nlink !== 1 || stat.size > MAX_BYTES) return undefined;
    const buf = Buffer.alloc(stat.size);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) return undefined;
      got += n;
    }
    const end = buf.indexOf(10);
    if (end === -1 || end > 4096) return undefined;
    const [magic, hash, parts = ''] = buf.toString('latin1', 0, end).split(' ');
    const data = buf.subarray(end + 1);
    if (magic !== MAGIC || hash !== sha256(data)) return undefined;
    // In use: renewed (at most hourly) so that the sweep of another key's write spares it.
    if (Date.now() - stat.mtimeMs > RENEW_MS) {
      try {
        fs.futimesSync(fd, new Date(), new Date());
      } catch {
        // A read-only state dir: the cache serves all the same.
      }
    }
    return { data, parts: new Set(parts.split(',').filter(Boolean)) };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function writeCache(dir: string, file: string, data: Buffer, parts: Set<string>): void {
  const temp = `${file}.${process.pid}.tmp`;
  let made = false;
  // The process is exiting: a signal now must neither change its exit status nor leave a temp file.
  const hold = (): void => undefined;
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
  for (const sig of signals) process.on(sig, hold);
  try {
    checkStateDir(dir);
    const room = fs.statfsSync(dir);
    if (room.bavail * room.bsize < data.length + ROOM_BYTES) return;
    const fd = fs.openSync(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o600);
    made = true;
    try {
      writeAll(fd, Buffer.from(`${MAGIC} ${sha256(data)} ${[...parts].sort().join(',')}\n`, 'latin1'));
      writeAll(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
    made = false;
    sweep(dir, path.basename(file));
  } catch {
    // Only speed is lost: the next process compiles as this one did.
  } finally {
    if (made) fs.rmSync(temp, { force: true });
    for (const sig of signals) process.off(sig, hold);
  }
}

/** Every byte, or an error: a write cut short by a full disk returns less, and only the next one fails. */
function writeAll(fd: number, buf: Buffer): void {
  for (let done = 0; done < buf.length; ) done += fs.writeSync(fd, buf, done, buf.length - done);
}

/** Remove caches of other bundles that nobody has renewed in a day, and temp files of killed writers. */
function sweep(dir: string, keep: string): void {
  for (const name of fs.readdirSync(dir)) {
    const match = /^code-[0-9a-f]{32}\.v8(\.\d+\.tmp)?$/.exec(name);
    if (name === keep || !match) continue;
    try {
      if (Date.now() - fs.lstatSync(path.join(dir, name)).mtimeMs > (match[1] ? TEMP_STALE_MS : STALE_MS)) fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      // Gone already.
    }
  }
}
