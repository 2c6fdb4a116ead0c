// A reboot during a delay loses nothing: with the default state dir (/tmp/warden-UID, emptied at
// boot where /tmp is a tmpfs), the spool and the --on-change state live under the passwd home,
// so the next `once` after the boot runs the delayed job, once, at its time.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventsNamed, waitFor } from './helpers/warden.js';
import { boot, canBoot, newMachine } from './helpers/machine.js';
import type { Machine } from './helpers/machine.js';

// This machine's folder under the home's warden state.
const machine = fs.readFileSync('/etc/machine-id', 'utf8').trim();
const spoolOf = (home: string, id = machine): string => path.join(home, '.local', 'state', 'warden', id, 'spool', 'default');
const entries = (dir: string): string[] => {
  try {
    return fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
};
const lines = (file: string): string[] => {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

let m: Machine | undefined;
afterEach(() => {
  if (m) fs.rmSync(m.dir, { recursive: true, force: true });
  m = undefined;
});

describe.runIf(canBoot())('a reboot during a delay', () => {
  it('SIGKILLed watch, /tmp emptied by the boot, then once: the job runs once, at its due time', async () => {
    m = newMachine();
    const ran = path.join(m.dir, 'ran');
    const job = `date +%s%3N >> '${ran}'`;
    const w = boot(m, ['watch', '--every', '1h', '--log', 'json', '--delay', '3s', '--job', job]);
    const delay = await waitFor('the delay event', () => eventsNamed(w.events(), 'delay')[0]);
    // Kept in the home's state folder, private, not in /tmp.
    expect(entries(spoolOf(m.home))).toHaveLength(1);
    expect(fs.statSync(path.join(m.home, '.local', 'state', 'warden')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(m.home, '.local', 'state', 'warden', machine)).mode & 0o777).toBe(0o700);
    process.kill(w.pid, 'SIGKILL');
    await w.done;
    // The next boot: a fresh /tmp, no state dir at all.
    const status = boot(m, ['status', '--json']);
    const shown = JSON.parse((await status.done).stdout) as { spoolDir: string; pools: { name: string; spooled: { id: string }[] }[] };
    expect(shown.spoolDir).toBe(`/root/.local/state/warden/${machine}`);
    expect(shown.pools).toMatchObject([{ name: 'default', spooled: [{ id: delay.spoolId }] }]);
    const once = boot(m, ['once', '--log', 'json', '--check', 'exit 1', '--job', 'true']);
    const r = await once.done;
    expect(r.code, r.stderr).toBe(0);
    expect(eventsNamed(once.events(), 'resume')).toMatchObject([{ jobId: delay.jobId, spoolId: delay.spoolId }]);
    expect(lines(ran)).toHaveLength(1);
    const offMs = Number(lines(ran)[0]) - Date.parse(String(delay.dueAt));
    expect(Math.abs(offMs), `ran ${offMs} ms from its due time`).toBeLessThanOrEqual(500);
    expect(entries(spoolOf(m.home))).toEqual([]);
    // The session's HOME was never used.
    expect(fs.existsSync(path.join(m.dir, 'session-home'))).toBe(false);
  }, 40_000);

  it('a once that keeps nothing (no delay, no --on-change) makes nothing in the home', async () => {
    m = newMachine();
    const r = await boot(m, ['once', '--job', 'true']).done;
    expect(r.code, r.stderr).toBe(0);
    expect(fs.readdirSync(m.home)).toEqual([]);
  }, 30_000);

  it('--on-change state survives the boot: the same firing result after it does not fire again', async () => {
    m = newMachine();
    const args = ['once', '--log', 'json', '--check', 'echo in-stock', '--on-change', '--job', 'true'];
    const first = boot(m, args);
    await first.done;
    expect(eventsNamed(first.events(), 'spawn')).toHaveLength(1);
    const second = boot(m, args);
    await second.done;
    expect(eventsNamed(second.events(), 'spawn')).toHaveLength(0);
    expect(eventsNamed(second.events(), 'skip')).toMatchObject([{ reason: 'unchanged' }]);
  }, 30_000);

  it('a user with no home (no passwd entry): the spool stays in the state dir, and warden says a reboot may lose it', async () => {
    m = newMachine();
    const r = boot(m, ['once', '--log', 'json', '--delay', '1s', '--job', 'true'], { as: 4242 });
    const done = await r.done;
    expect(done.code, done.stderr).toBe(0);
    const errors = eventsNamed(r.events(), 'error');
    expect(errors).toHaveLength(1);
    expect(String(errors[0].message)).toMatch(/kept in \/tmp\/warden-4242, which a reboot may empty \(uid 4242 has no passwd entry.*--state-dir/);
    expect(eventsNamed(r.events(), 'exit')).toMatchObject([{ outcome: 'ok' }]);
    // Nothing was made in root's home (the passwd home of the process that started it).
    expect(fs.readdirSync(m.home)).toEqual([]);
  }, 30_000);

  it('two machines sharing a home (NFS) keep a spool each: one never runs the other\'s delayed job', async () => {
    m = newMachine();
    const ran = path.join(m.dir, 'ran');
    const [idA, idB] = ['a'.repeat(32), 'b'.repeat(32)];
    const a = boot(m, ['watch', '--every', '1h', '--log', 'json', '--delay', '2s', '--job', `date +%s%3N >> '${ran}'`], { machineId: idA });
    const delay = await waitFor('the delay event', () => eventsNamed(a.events(), 'delay')[0]);
    expect(entries(spoolOf(m.home, idA))).toHaveLength(1);
    // Machine b cannot see a's claim (an abstract socket of another network namespace): with one
    // spool for both it took the job up and ran it, and a ran it too.
    const b = boot(m, ['once', '--log', 'json', '--check', 'exit 1', '--job', 'true'], { machineId: idB });
    await b.done;
    expect(eventsNamed(b.events(), 'resume')).toEqual([]);
    await waitFor('a to run its job', () => eventsNamed(a.events(), 'exit')[0], 10_000);
    process.kill(a.pid, 'SIGTERM');
    await a.done;
    expect(lines(ran)).toHaveLength(1);
    expect(Number(lines(ran)[0])).toBeGreaterThanOrEqual(Date.parse(String(delay.dueAt)) - 50);
  }, 30_000);

  it('a durable folder planted as a symlink, or open to others, is refused: exit 2 naming it', async () => {
    m = newMachine();
    fs.mkdirSync(path.join(m.home, '.local', 'state'), { recursive: true });
    const elsewhere = path.join(m.dir, 'elsewhere');
    fs.mkdirSync(elsewhere, { mode: 0o700 });
    fs.symlinkSync(elsewhere, path.join(m.home, '.local', 'state', 'warden'));
    const a = await boot(m, ['once', '--delay', '1s', '--job', 'true']).done;
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/refusing \/root\/.local\/state\/warden .*symbolic link/);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
    fs.rmSync(path.join(m.home, '.local', 'state', 'warden'));
    fs.mkdirSync(path.join(m.home, '.local', 'state', 'warden'), { mode: 0o777 });
    fs.chmodSync(path.join(m.home, '.local', 'state', 'warden'), 0o777);
    const b = await boot(m, ['once', '--delay', '1s', '--job', 'true']).done;
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/refusing \/root\/.local\/state\/warden .*open to group\/others/);
  }, 30_000);
});
