// The flock backend's helpers: none outlives a SIGKILLed warden, one that ends without a lock
// is a pool error (not respawned for ever), and held slots are told apart by device and inode.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand, wardenArgv } from './helpers/other-user.js';
import { BIN, alive, readText, startWarden, testDir, waitFor } from './helpers/warden.js';

/** Every live descendant of `pid`. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readText(`/proc/${name}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  for (let queue = [pid]; queue.length; ) {
    const next = children.get(queue.shift() as number) ?? [];
    out.push(...next);
    queue.push(...next);
  }
  return out.filter(alive);
}

const args = ['run', '--pool', 'p', '--max-live', '1', '--pool-backend', 'flock'];

describe('the flock backend', () => {
  it('leaves no waiting helper behind when its warden is SIGKILLed', async () => {
    const { dir, env } = testDir('flock-orphans');
    const holder = startWarden([...args, '--', `touch "${dir}/held"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done`], { env });
    await waitFor('the holder', () => fs.existsSync(`${dir}/held`));
    const waiter = startWarden([...args, '--log', 'json', '--', 'touch', `${dir}/waiter-ran`], { env });
    await waitFor('the waiter to wait', () => waiter.stderr().includes('"wait"'));
    const helpers = await waitFor('its lockers', () => {
      const found = descendants(waiter.pid);
      return found.length >= 2 && found;
    });
    process.kill(waiter.pid, 'SIGKILL');
    await waiter.done;
    await waitFor('every helper to die with it', () => helpers.every((pid) => !alive(pid)), 5000).catch(() => {
      for (const pid of helpers.filter(alive)) process.kill(pid, 'SIGKILL');
      throw new Error(`helpers outlived their warden: ${helpers.join(', ')}`);
    });
    fs.writeFileSync(`${dir}/release`, '');
    expect((await holder.done).code).toBe(0);
    expect(fs.existsSync(`${dir}/waiter-ran`)).toBe(false);
  });

  it('reports a helper that ends without a lock as a pool error instead of starting it again and again', async () => {
    const { dir, env } = testDir('flock-helper');
    const holder = startWarden([...args, '--', `touch "${dir}/held"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done`], { env });
    await waitFor('the holder', () => fs.existsSync(`${dir}/held`));
    // A perl that locks nothing when asked to wait (as one that dies, or gets ENOLCK, would).
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const perl = spawnSync('sh', ['-c', 'command -v perl'], { encoding: 'utf8' }).stdout.trim();
    fs.writeFileSync(path.join(bin, 'perl'), `#!/bin/sh\necho "$3" >> "${dir}/calls"\n[ "$3" = wait ] && exit 1\nexec ${perl} "$@"\n`, { mode: 0o755 });
    const r = await runCommand(wardenArgv(args.concat(['--', 'touch', `${dir}/ran`])), { ...process.env, ...env, PATH: `${bin}:${process.env.PATH}` }, 15_000);
    fs.writeFileSync(`${dir}/release`, '');
    await holder.done;
    expect(r.timedOut, `still waiting; helper calls: ${readText(`${dir}/calls`).split('\n').length}`).toBe(false);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/locking helper \(perl\) failed/);
    expect(readText(`${dir}/calls`).split('\n').filter((m) => m === 'wait')).toHaveLength(1);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });

  it('takes a slot of a large pool (--max-live 100000) without opening a file for every slot', async () => {
    const { dir, env } = testDir('flock-large');
    const r = await runCommand(wardenArgv(['run', '--pool', 'big', '--max-live', '100000', '--pool-backend', 'flock', '--', 'touch', `${dir}/ran`]), { ...process.env, ...env }, 30_000);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(`${dir}/ran`)).toBe(true);
    const locks = fs.readdirSync(path.join(dir, 'state', 'pools', 'big')).filter((n) => n.endsWith('.lock'));
    expect(locks.length).toBeLessThanOrEqual(64);
  });

  it('does not count a slot as held because a file with the same inode is locked on another file system', () => {
    const { dir } = testDir('flock-dev');
    const script = path.join(dir, 'same-inode.sh');
    fs.writeFileSync(
      script,
      `set -e
A="${dir}/a"; B="${dir}/b"; mkdir -p "$A" "$B"
mount -t tmpfs none "$A"; mount -t tmpfs none "$B"
W="${process.execPath} ${BIN}"
$W run --pool-backend flock --state-dir "$A/state" --pool p --max-live 1 -- true
ino=$(stat -c %i "$A/state/pools/p/slot-0.lock")
i=0; f="$B/f0"; touch "$f"
while [ "$(stat -c %i "$f")" -lt "$ino" ]; do i=$((i+1)); f="$B/f$i"; touch "$f"; done
[ "$(stat -c %i "$f")" -eq "$ino" ] || { echo "no file with inode $ino on the second file system" >&2; exit 3; }
flock "$f" sh -c 'echo $$ > "$0.pid"; exec sleep 30' "$f" </dev/null >/dev/null 2>&1 &
while flock -n "$f" true; do sleep 0.01; done
$W status --json --state-dir "$A/state"
kill "$(cat "$f.pid")"
`,
    );
    const r = spawnSync('unshare', ['-m', 'sh', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as { pools: { name: string; live: number }[] };
    expect(status.pools[0]).toMatchObject({ name: 'p', live: 0 });
  });
});
