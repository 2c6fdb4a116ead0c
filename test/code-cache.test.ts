// warden compiles its bundle from V8's code cache, kept in the user's default state dir
// (/tmp/warden-UID): written by a process that ran a part of warden the cache lacked, used as it
// is by the next, and never a crash when damaged, never read through a link, from a file others
// could write, or from a state dir that is not the user's own. Each test runs as a uid of its
// own, so that its default state dir is its alone.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CRON_ENV, OTHER_UID, asUser, canSwitchUsers, runCommand, sharedDir, startCommand, wardenArgv } from './helpers/other-user.js';
import { ROOT } from './helpers/paths.js';
import { freePort, startRedis } from './helpers/redis.js';
import { readText, waitFor } from './helpers/warden.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

beforeAll(() => {
  if (!canSwitchUsers()) throw new Error('these tests need root and setpriv (they run as other uids)');
});

/** A uid of the test's own, with no default state dir yet. */
function freshUser(offset: number): { uid: number; stateDir: string } {
  const uid = 4300 + offset;
  const stateDir = `/tmp/warden-${uid}`;
  fs.rmSync(stateDir, { recursive: true, force: true });
  cleanups.push(() => fs.rmSync(stateDir, { recursive: true, force: true }));
  return { uid, stateDir };
}

const cronEnv = (extra: NodeJS.ProcessEnv = {}): string[] => ['env', '-i', ...Object.entries({ ...CRON_ENV, ...extra }).map(([k, v]) => `${k}=${v}`)];
const wardenAs = (uid: number, args: string[], extra: NodeJS.ProcessEnv = {}) => runCommand(asUser(uid, [...cronEnv(extra), ...wardenArgv(args)]), {});

/** The cache's file name for this bundle, this Node and its options (none here: env -i), as the loader names it. */
function cacheFile(stateDir: string, nodeOptions = ''): string {
  const source = fs.readFileSync(path.join(ROOT, 'dist', 'warden.cjs'), 'utf8');
  const key = createHash('sha256').update(`${process.version}\0${process.arch}\0\0${nodeOptions}\0${source}`).digest('hex').slice(0, 32);
  return path.join(stateDir, `code-${key}.v8`);
}

/** What each cache file is now (a rewrite may reuse an inode: the modification time tells). */
function snapshot(stateDir: string): string {
  return fs
    .readdirSync(stateDir)
    .filter((n) => n.startsWith('code-'))
    .map((n) => {
      const st = fs.lstatSync(path.join(stateDir, n), { bigint: true });
      return `${n}:${st.ino}:${st.mtimeNs}`;
    })
    .sort()
    .join(' ');
}

function header(file: string): { magic: string; hash: string; parts: string[]; data: Buffer } {
  const buf = fs.readFileSync(file);
  const end = buf.indexOf(10);
  const [magic, hash, parts] = buf.toString('latin1', 0, end).split(' ');
  return { magic, hash, parts: parts.split(','), data: buf.subarray(end + 1) };
}

/** A shared scratch folder the test's uid can write in. */
function scratch(label: string): string {
  const dir = sharedDir(label);
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('the code cache', () => {
  it('is written private by a first run, kept by runs of the same parts, and rewritten by a run that waited', async () => {
    const { uid, stateDir } = freshUser(1);
    const file = cacheFile(stateDir);
    const first = await wardenAs(uid, ['run', '--pool', 'p', '--', 'echo', 'hello']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('hello\n');
    const made = fs.lstatSync(file);
    expect(made.isFile()).toBe(true);
    expect(made.uid).toBe(uid);
    expect(made.mode & 0o777).toBe(0o600);
    const written = header(file);
    expect(written.magic).toBe('warden-code-cache-1');
    expect(written.hash).toBe(createHash('sha256').update(written.data).digest('hex'));
    expect(written.parts).toEqual(expect.arrayContaining(['run', 'spawn']));
    expect(written.parts).not.toContain('wait');

    // V8 took it: a rejected cache would have been written anew.
    const again = await wardenAs(uid, ['run', '--pool', 'p', '--', 'echo', 'again']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe('again\n');
    expect(fs.lstatSync(file).ino).toBe(made.ino);

    const dir = scratch('cache-wait');
    const holder = startCommand(asUser(uid, [...cronEnv(), ...wardenArgv(['run', '--pool', 'w', '--max-live', '1', '--', 'sh', '-c', `touch ${dir}/held; while [ ! -f ${dir}/release ]; do sleep 0.02; done`])]), {});
    await waitFor('the holder', () => fs.existsSync(`${dir}/held`));
    const log = path.join(dir, 'waiter.jsonl');
    const waiter = startCommand(asUser(uid, [...cronEnv(), ...wardenArgv(['run', '--pool', 'w', '--max-live', '1', '--log-file', log, '--', 'true'])]), {});
    await waitFor('the waiter to wait', () => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('"event":"wait"'));
    fs.writeFileSync(`${dir}/release`, '');
    expect((await holder.done).code).toBe(0);
    const waited = await waiter.done;
    expect(waited.code, waited.stderr).toBe(0);
    expect(fs.lstatSync(file).ino).not.toBe(made.ino);
    expect(header(file).parts).toEqual(expect.arrayContaining(['run', 'spawn', 'wait']));
  });

  it('keeps one for node-redis\'s bundle too when --redis is used, and both are used as they are', async () => {
    const { uid, stateDir } = freshUser(5);
    // Over TCP: the test's uid cannot reach the server's private socket folder.
    const port = await freePort();
    const redis = await startRedis({ port });
    cleanups.push(() => void redis.stop());
    const run = () => wardenAs(uid, ['run', '--redis', `redis://127.0.0.1:${port}`, '--', 'echo', 'fleet']);
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('fleet\n');
    const caches = fs.readdirSync(stateDir).filter((n) => /^code-[0-9a-f]{32}\.v8$/.test(n));
    expect(caches).toHaveLength(2);
    expect(caches).toContain(path.basename(cacheFile(stateDir)));
    const inodes = caches.map((n) => fs.lstatSync(path.join(stateDir, n)).ino);
    for (const n of caches) expect(header(path.join(stateDir, n)).parts).toEqual(expect.arrayContaining(['redis', 'run', 'spawn']));
    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    expect(caches.map((n) => fs.lstatSync(path.join(stateDir, n)).ino)).toEqual(inodes);
  });

  it('costs time but never a crash when damaged: the run works and leaves a good cache', async () => {
    const { uid, stateDir } = freshUser(2);
    const file = cacheFile(stateDir);
    expect((await wardenAs(uid, ['run', '--', 'true'])).code).toBe(0);
    const good = fs.readFileSync(file);
    const garbage = Buffer.alloc(200_000, 0x5a);
    const damaged: [string, Buffer][] = [
      ['cut short', good.subarray(0, good.length >> 1)],
      ['a byte changed', Buffer.concat([good.subarray(0, good.length - 10), Buffer.from([good[good.length - 10] ^ 0xff]), good.subarray(good.length - 9)])],
      ['no header', good.subarray(good.indexOf(10) + 1)],
      ['empty', Buffer.alloc(0)],
      // Its own hash is right: V8 itself has to turn it down.
      ['not V8\'s', Buffer.concat([Buffer.from(`warden-code-cache-1 ${createHash('sha256').update(garbage).digest('hex')} run,spawn\n`), garbage])],
    ];
    for (const [what, bytes] of damaged) {
      fs.writeFileSync(file, bytes);
      fs.chownSync(file, uid, uid);
      const before = fs.lstatSync(file).ino;
      const r = await wardenAs(uid, ['run', '--', 'echo', 'fine']);
      expect(r.code, `${what}: ${r.stderr}`).toBe(0);
      expect(r.stdout, what).toBe('fine\n');
      expect(r.stderr, what).toBe('');
      expect(fs.lstatSync(file).ino, what).not.toBe(before);
      const after = header(file);
      expect(after.hash, what).toBe(createHash('sha256').update(after.data).digest('hex'));
    }
  });

  it('is never read through a symlink nor from a file others could write, and replacing it leaves a link\'s target alone', async () => {
    const { uid, stateDir } = freshUser(3);
    const file = cacheFile(stateDir);
    expect((await wardenAs(uid, ['run', '--', 'true'])).code).toBe(0);
    const good = fs.readFileSync(file);

    // A good cache others could write is not used (and so not kept): it is written anew, 0600.
    fs.chmodSync(file, 0o666);
    const open = fs.lstatSync(file).ino;
    expect((await wardenAs(uid, ['run', '--', 'true'])).code).toBe(0);
    expect(fs.lstatSync(file).ino).not.toBe(open);
    expect(fs.lstatSync(file).mode & 0o777).toBe(0o600);

    // A link to a good cache is not followed; the new cache replaces the link, not its target.
    const target = path.join(scratch('cache-link'), 'target');
    fs.writeFileSync(target, good);
    fs.chownSync(target, uid, uid);
    fs.chmodSync(target, 0o600);
    fs.rmSync(file);
    fs.symlinkSync(target, file);
    fs.lchownSync(file, uid, uid);
    expect((await wardenAs(uid, ['run', '--', 'true'])).code).toBe(0);
    expect(fs.lstatSync(file).isFile()).toBe(true);
    expect(fs.readFileSync(target).equals(good)).toBe(true);
  });

  it('is made nowhere for a process given --state-dir: no default state dir is created for it', async () => {
    const { uid, stateDir } = freshUser(6);
    const mine = path.join(scratch('cache-explicit'), 'state');
    const r = await wardenAs(uid, ['run', '--state-dir', mine, '--', 'echo', 'ok']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ok\n');
    expect(fs.existsSync(stateDir)).toBe(false);
    expect(fs.readdirSync(mine).filter((n) => n.startsWith('code-'))).toEqual([]);
    // Made by a run with the default state dir, it serves --state-dir runs as well.
    expect((await wardenAs(uid, ['run', '--', 'true'])).code).toBe(0);
    const made = snapshot(stateDir);
    expect(made).not.toBe('');
    expect((await wardenAs(uid, ['run', '--state-dir', mine, '--', 'true'])).code).toBe(0);
    expect(snapshot(stateDir)).toBe(made);
  });

  it('is not written where it would leave the file system with little room, and what worked without it still works', async () => {
    const { uid, stateDir } = freshUser(7);
    // A small private file system as the default state dir (a nearly full /tmp is the same).
    fs.mkdirSync(stateDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=300k,mode=0700,uid=${uid},gid=${uid}`, 'tmpfs', stateDir]);
    cleanups.unshift(() => void spawnSync('umount', [stateDir]));
    const first = await wardenAs(uid, ['run', '--', 'echo', 'hi']);
    expect(first.code, first.stderr).toBe(0);
    expect(fs.readdirSync(stateDir).filter((n) => n.startsWith('code-'))).toEqual([]);
    const pool = await wardenAs(uid, ['run', '--pool', 'fresh', '--', 'echo', 'hi2']);
    expect(pool.code, pool.stderr).toBe(0);
    expect(pool.stderr).toBe('');
    const change = await wardenAs(uid, ['once', '--on-change', '--check', 'echo x', '--job', 'true']);
    expect(change.code, change.stderr).toBe(0);
  });

  it('is kept per set of Node options: two environments taking turns do not rewrite each other\'s', async () => {
    const { uid, stateDir } = freshUser(8);
    const a = { NODE_OPTIONS: '--max-old-space-size=200' };
    const b = { NODE_OPTIONS: '--max-old-space-size=300' };
    for (const env of [a, b]) expect((await wardenAs(uid, ['run', '--', 'true'], env)).code).toBe(0);
    expect(fs.existsSync(cacheFile(stateDir, a.NODE_OPTIONS))).toBe(true);
    expect(fs.existsSync(cacheFile(stateDir, b.NODE_OPTIONS))).toBe(true);
    const before = snapshot(stateDir);
    for (const env of [a, b, a, b]) expect((await wardenAs(uid, ['run', '--', 'true'], env)).code).toBe(0);
    expect(snapshot(stateDir)).toBe(before);
  });

  it('a signal while it is written at exit changes neither the exit status nor leaves a temp file', async () => {
    const { uid, stateDir } = freshUser(9);
    // The rename that ends the write is held up 1.5 s, after telling the test so.
    const dir = scratch('cache-signal');
    const preload = path.join(dir, 'hold-rename.cjs');
    const held = path.join(dir, 'held');
    fs.writeFileSync(
      preload,
      `const fs = require('fs');
const rename = fs.renameSync;
fs.renameSync = function (from, to) {
  if (String(to).endsWith('.v8')) {
    fs.writeFileSync(${JSON.stringify(held)}, String(process.pid));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
  }
  return rename.call(this, from, to);
};
`,
    );
    fs.chmodSync(preload, 0o644);
    fs.mkdirSync(stateDir, { mode: 0o700 });
    fs.chownSync(stateDir, uid, uid);
    const started = startCommand(asUser(uid, [...cronEnv({ NODE_OPTIONS: `--require ${preload}` }), ...wardenArgv(['run', '--', 'echo', 'done'])]), {});
    await waitFor('the cache write', () => fs.existsSync(held) && readText(held) !== '');
    const pid = Number(readText(held));
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.kill(pid, sig);
    const r = await started.done;
    expect(r.stdout).toBe('done\n');
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(stateDir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(fs.readdirSync(stateDir).filter((n) => n.endsWith('.v8'))).toHaveLength(1);
  });

  it('claims only what it holds after a long-lived process, so a later run writes its code back', async () => {
    const { uid, stateDir } = freshUser(10);
    const file = cacheFile(stateDir);
    expect((await wardenAs(uid, ['run', '--', 'true'])).code).toBe(0);
    const runOnly = fs.statSync(file).size;
    // warden's own loader, a `status`, then the garbage collections a long watch goes through:
    // V8 drops the bytecode of functions that did not run, the loaded `run`'s among them.
    const driver = path.join(scratch('cache-flush'), 'driver.cjs');
    fs.writeFileSync(
      driver,
      `require(${JSON.stringify(path.join(ROOT, 'dist', 'boot.cjs'))}).loadBundle(${JSON.stringify(path.join(ROOT, 'dist', 'warden.cjs'))}).main(['status']).then(async (code) => {
  let keep = [];
  for (let i = 0; i < 1500; i++) {
    for (let j = 0; j < 200; j++) keep.push(new Array(1000).fill(i));
    if (keep.length > 20000) keep = [];
    await new Promise((r) => setTimeout(r, 1));
  }
  process.exitCode = code;
});
`,
    );
    fs.chmodSync(driver, 0o644);
    const long = await runCommand(asUser(uid, [...cronEnv(), process.execPath, driver]), {}, 60_000);
    expect(long.code, long.stderr).toBe(0);
    const after = header(file);
    expect(after.parts).toContain('status');
    if (after.parts.includes('run')) expect(fs.statSync(file).size).toBeGreaterThanOrEqual(runOnly);
    expect((await wardenAs(uid, ['run', '--', 'true'])).code).toBe(0);
    expect(header(file).parts).toEqual(expect.arrayContaining(['run', 'spawn']));
    expect(fs.statSync(file).size).toBeGreaterThanOrEqual(runOnly);
  }, 90_000);

  it('in use is renewed as it is read, so that another key\'s write does not sweep it', async () => {
    const { uid, stateDir } = freshUser(11);
    const file = cacheFile(stateDir);
    expect((await wardenAs(uid, ['run', '--', 'true'])).code).toBe(0);
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    fs.utimesSync(file, twoDaysAgo, twoDaysAgo);
    expect((await wardenAs(uid, ['run', '--', 'true'])).code).toBe(0);
    expect(Date.now() - fs.statSync(file).mtimeMs).toBeLessThan(3600 * 1000);
    // Another key (other Node options) writes its own cache and sweeps stale ones: not this one.
    expect((await wardenAs(uid, ['run', '--', 'true'], { NODE_OPTIONS: '--max-old-space-size=300' })).code).toBe(0);
    expect(fs.existsSync(cacheFile(stateDir, '--max-old-space-size=300'))).toBe(true);
    expect(fs.existsSync(file)).toBe(true);
  });

  it('is neither read nor written in a default state dir that another user made', async () => {
    const { uid: victim, stateDir } = freshUser(4);
    // The other user, first: a folder open to all with the victim's name, a cache in it.
    execFileSync('setpriv', [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', 'mkdir', '-m', '0777', stateDir]);
    const planted = cacheFile(stateDir);
    execFileSync('setpriv', [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', 'sh', '-c', `printf 'warden-code-cache-1 x run\\n' > ${planted}`]);
    const own = scratch('cache-own');
    const mine = path.join(own, 'state');
    const r = await wardenAs(victim, ['run', '--state-dir', mine, '--', 'echo', 'ok']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ok\n');
    expect(r.stderr).toBe('');
    expect(fs.readdirSync(stateDir)).toEqual([path.basename(planted)]);
    expect(fs.lstatSync(planted).uid).toBe(OTHER_UID);
    expect(fs.readdirSync(mine).filter((n) => n.startsWith('code-'))).toEqual([]);
  });
});
