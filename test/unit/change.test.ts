// --on-change decisions and the file store that makes them atomic across writers.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decideChange } from '../../src/change/change.js';
import type { ChangeState, Observation } from '../../src/change/change.js';
import { FileChangeStore } from '../../src/change/change-store.js';
import { fnv64 } from '../../src/hash.js';
import { ROOT, tempDir } from '../helpers/warden.js';

const fired = (stdout = '', lines?: string[]): Observation => ({ outcome: 'fired', stdout, items: lines ?? [undefined] });
const idle: Observation = { outcome: 'idle', stdout: '', items: [] };
const error: Observation = { outcome: 'error', stdout: '', items: [] };

/** Feed a series of observations through the decision, as successive checks would. */
function run(mode: 'exit' | 'output', eachLine: boolean, series: Observation[]): (string | undefined)[][] {
  let state: ChangeState | undefined;
  return series.map((obs) => {
    const d = decideChange(mode, eachLine, state, obs);
    if (d.next) state = d.next;
    return d.fire;
  });
}

describe('decideChange', () => {
  it('exit: fires on the first run and on each edge into firing, never while it stays firing', () => {
    expect(run('exit', false, [fired(), fired(), idle, idle, fired('x'), fired('y')]).map((f) => f.length)).toEqual([1, 0, 0, 0, 1, 0]);
  });

  it('output: also fires when the firing output changes', () => {
    expect(run('output', false, [fired('a'), fired('a'), fired('b'), idle, fired('b')]).map((f) => f.length)).toEqual([1, 0, 1, 0, 1]);
  });

  it('a check error or timeout keeps the state: no re-fire after it', () => {
    expect(run('exit', false, [fired(), error, { ...error, outcome: 'timeout' }, fired()]).map((f) => f.length)).toEqual([1, 0, 0, 0]);
    expect(decideChange('exit', false, undefined, error).next).toBeUndefined();
  });

  it('each-line: only new lines fire; one that leaves and comes back fires again', () => {
    const lines = (...l: string[]): Observation => fired(l.join('\n'), l);
    expect(run('exit', true, [lines('a', 'b'), lines('a', 'b', 'c'), lines('c'), lines('a', 'c'), idle, lines('c')])).toEqual([['a', 'b'], ['c'], [], ['a'], [], ['c']]);
  });

  it('reports changed and what was held back', () => {
    const first = decideChange('exit', false, undefined, idle);
    expect(first.changed).toBe(true);
    const again = decideChange('exit', false, first.next, idle);
    expect(again.changed).toBe(false);
    const on = decideChange('exit', true, first.next, fired('a\nb', ['a', 'b']));
    const same = decideChange('exit', true, on.next, fired('a\nb', ['a', 'b']));
    expect([same.changed, same.fire, same.held]).toEqual([false, [], ['a', 'b']]);
  });
});

describe('FileChangeStore', () => {
  it('persists across store instances (processes) and never writes through a planted symlink', async () => {
    const dir = tempDir();
    const a = new FileChangeStore(dir, dir);
    const decide = (prev: ChangeState | undefined): { next: ChangeState; result: boolean } => ({ next: { firing: true, output: 'o', items: [] }, result: !prev?.firing });
    expect(await a.transact('p\ncheck', decide)).toBe(true);
    expect(await new FileChangeStore(dir, dir).transact('p\ncheck', decide)).toBe(false);
    expect(await a.transact('p\nother', decide)).toBe(true);
    expect(fs.statSync(path.join(dir, 'changes')).mode & 0o777).toBe(0o700);
    const files = fs.readdirSync(path.join(dir, 'changes'));
    expect(files).toHaveLength(2);
    expect(files.every((n) => (fs.statSync(path.join(dir, 'changes', n)).mode & 0o777) === 0o600)).toBe(true);
  });

  it('eight processes adding 25 times each to one key lose no update', async () => {
    const dir = tempDir();
    // Every write counts one up in `output`: a lost update would leave the count short.
    const script = `
      import { FileChangeStore } from ${JSON.stringify(path.join(ROOT, 'dist/change/change-store.js'))};
      const store = new FileChangeStore(process.argv[1], process.argv[1]);
      for (let i = 0; i < 25; i++) {
        await store.transact('k', (prev) => ({ next: { firing: true, output: String(Number(prev?.output ?? 0) + 1), items: [] }, result: 0 }));
      }`;
    const children = Array.from({ length: 8 }, () => spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: 'inherit' }));
    const codes = await Promise.all(children.map((c) => new Promise((resolve) => c.on('exit', resolve))));
    expect(codes).toEqual(Array(8).fill(0));
    let count = '';
    await new FileChangeStore(dir, dir).transact('k', (prev) => ((count = prev?.output ?? ''), { next: undefined, result: 0 }));
    expect(count).toBe('200');
  });

  it('refuses a symlink planted at the state file and never writes through it', async () => {
    const dir = tempDir();
    const victim = path.join(tempDir(), 'victim');
    fs.writeFileSync(victim, 'keep');
    const store = new FileChangeStore(dir, dir);
    await store.transact('k', () => ({ next: undefined, result: 0 }));
    const [file] = fs.readdirSync(path.join(dir, 'changes')).filter((n) => n.endsWith('.json'));
    expect(file).toBeUndefined();
    const name = fnv64('k') + fnv64('k', 1);
    fs.symlinkSync(victim, path.join(dir, 'changes', `${name}.json`));
    await expect(store.transact('k', () => ({ next: { firing: true, output: '', items: [] }, result: 1 }))).rejects.toThrow(/symlink/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep');
  });

  it('refuses a FIFO planted at the state file instead of hanging on it', async () => {
    const dir = tempDir();
    const store = new FileChangeStore(dir, dir);
    await store.transact('k', () => ({ next: undefined, result: 0 }));
    execFileSync('mkfifo', [path.join(dir, 'changes', `${fnv64('k')}${fnv64('k', 1)}.json`)]);
    await expect(store.transact('k', () => ({ next: undefined, result: 0 }))).rejects.toThrow(/not a regular file/);
  });

  it('refuses a changes folder that is a symlink', async () => {
    const dir = tempDir();
    fs.symlinkSync(tempDir(), path.join(dir, 'changes'));
    await expect(new FileChangeStore(dir, dir).transact('k', () => ({ next: { firing: true, output: '', items: [] }, result: 1 }))).rejects.toThrow(/not a folder/);
  });
});
