// The spool's store and claims, and the key locks under them: an entry is claimed by one
// process at a time, the claim follows its descriptor into a child, and frees when the
// child's whole tree is gone.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { socketKeyLocks } from '../../src/locks/key-lock.js';
import { FileSpool } from '../../src/spool/spool.js';
import type { NewEntry } from '../../src/spool/spool.js';
import { tempDir, waitFor } from '../helpers/warden.js';

const fields = (over: Partial<NewEntry> = {}): NewEntry => ({
  pool: 'p',
  jobId: '1.1',
  command: 'echo hi',
  dueAt: Date.now() + 1000,
  delayMs: 1000,
  tick: 1,
  trigger: new Date().toISOString(),
  checkOutput: '',
  cwd: '/',
  ...over,
});

describe('key locks', () => {
  it('one holder at a time; free again on release; visible to isLocked', async () => {
    const locks = socketKeyLocks(tempDir(), 'unique:p');
    const a = await locks.tryLock('item-1');
    expect(a).toBeDefined();
    expect(await locks.tryLock('item-1')).toBeUndefined();
    expect(await locks.isLocked('item-1')).toBe(true);
    expect(await locks.isLocked('item-2')).toBe(false);
    a?.release();
    expect(await locks.isLocked('item-1')).toBe(false);
    const b = await locks.tryLock('item-1');
    expect(b).toBeDefined();
    b?.release();
  });

  it('scoped by state dir and scope', async () => {
    const dir = tempDir();
    const a = await socketKeyLocks(dir, 'unique:p').tryLock('k');
    expect(await socketKeyLocks(dir, 'unique:q').tryLock('k')).toBeDefined();
    expect(await socketKeyLocks(tempDir(), 'unique:p').tryLock('k')).toBeDefined();
    a?.release();
  });

  it('handed to a child tree, it is held until the last process of the tree dies by SIGKILL', async () => {
    const locks = socketKeyLocks(tempDir(), 'unique:p');
    const lock = await locks.tryLock('k');
    if (!lock) throw new Error('no lock');
    const child = spawn('/bin/sh', ['-c', 'sleep 30 & sleep 30; wait'], { stdio: ['ignore', 'ignore', 'ignore', lock.fd], detached: true });
    lock.handOff();
    expect(await locks.isLocked('k')).toBe(true);
    expect(await locks.tryLock('k')).toBeUndefined();
    await waitFor('the tree to start', () => fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').length > 0);
    process.kill(-(child.pid ?? 0), 'SIGKILL');
    await waitFor('the lock to free', async () => !(await locks.isLocked('k')));
    const again = await locks.tryLock('k');
    expect(again).toBeDefined();
    again?.release();
  });
});

describe('FileSpool', () => {
  it('creates entries privately, holding their claim, and lists them by due time', async () => {
    const dir = tempDir();
    const spool = new FileSpool(dir, 'p', dir);
    const late = await spool.create(fields({ dueAt: Date.now() + 5000, jobId: '2.1' }));
    const soon = await spool.create(fields({ dueAt: Date.now() + 1000, jobId: '1.1' }));
    expect((await spool.list()).map((e) => e.jobId)).toEqual(['1.1', '2.1']);
    expect(fs.statSync(path.join(dir, 'spool', 'p')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dir, 'spool', 'p', `${soon.entry.id}.json`)).mode & 0o777).toBe(0o600);
    expect(await spool.isClaimed(soon.entry.id)).toBe(true);
    expect(await spool.tryClaim(soon.entry.id)).toBeUndefined();
    soon.claim.release();
    const claim = await spool.tryClaim(soon.entry.id);
    expect(claim).toBeDefined();
    claim?.release();
    late.claim.release();
    expect(await spool.remove(late.entry.id)).toBe(true);
    expect(await spool.remove(late.entry.id)).toBe(false);
    expect((await spool.list()).map((e) => e.jobId)).toEqual(['1.1']);
  });

  it('orphans are the entries whose claim no process holds', async () => {
    const spool = new FileSpool(tempDir(), 'p', tempDir());
    const held = await spool.create(fields({ jobId: 'held' }));
    const left = await spool.create(fields({ jobId: 'left' }));
    left.claim.release();
    expect((await spool.orphans()).map((e) => e.jobId)).toEqual(['left']);
    held.claim.release();
    expect((await spool.orphans()).map((e) => e.jobId).sort()).toEqual(['held', 'left']);
  });

  it('a spool folder that is a symlink is neither read nor written', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'spool'), { mode: 0o700 });
    const elsewhere = tempDir();
    fs.writeFileSync(path.join(elsewhere, 'planted.json'), JSON.stringify({ id: 'planted', command: 'touch /tmp/pwned', dueAt: 0 }));
    fs.symlinkSync(elsewhere, path.join(dir, 'spool', 'p'));
    const spool = new FileSpool(dir, 'p', dir);
    expect(await spool.list()).toEqual([]);
    expect(await spool.orphans()).toEqual([]);
    await expect(spool.create(fields())).rejects.toThrow(/not a folder/);
    expect(fs.readdirSync(elsewhere)).toEqual(['planted.json']);
  });

  it("the job's start line removes its entry, whatever the path holds; dropped first, it fails (the command must not run)", async () => {
    const dir = path.join(tempDir(), "it's here");
    fs.mkdirSync(dir, { mode: 0o700 });
    const spool = new FileSpool(dir, 'p', dir);
    const { entry, claim } = await spool.create(fields());
    claim.release();
    const line = await spool.startLine(entry.id);
    if (line === undefined) throw new Error('no start line');
    const run = (): Promise<unknown> => new Promise((r) => spawn('/bin/sh', ['-c', `${line}\nexit 0`], { stdio: 'inherit' }).on('exit', r));
    expect(await run()).toBe(0);
    expect(await spool.read(entry.id)).toBeUndefined();
    // Dropped between the check and the job's start: its shell stops before the command.
    expect(await run()).toBe(125);
    expect(await spool.startLine(entry.id)).toBeUndefined();
  });

  it('ignores names that are not entries, and damaged entries', async () => {
    const dir = tempDir();
    const spool = new FileSpool(dir, 'p', dir);
    const { claim } = await spool.create(fields());
    claim.release();
    fs.writeFileSync(path.join(dir, 'spool', 'p', 'broken.json'), '{', { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'spool', 'p', 'notes.txt'), 'x');
    expect(await spool.list()).toHaveLength(1);
    expect(await spool.read('../../etc/passwd')).toBeUndefined();
    expect(await spool.remove('../x')).toBe(false);
  });
});
