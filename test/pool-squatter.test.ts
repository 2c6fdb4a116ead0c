// Another local user against a pool: what a squatter who watches /proc/net/unix can and cannot
// do to a socket pool, and why a flock pool in a private state dir is out of its reach. The
// squatter is a real second uid (setpriv). README "Security" states these findings.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OTHER_UID, asUser, canSwitchUsers, runCommand, sharedDir, startCommand } from './helpers/other-user.js';
import { boundNamesOf } from './helpers/bound-names.js';
import { listPids, readStat, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

beforeAll(() => {
  if (!canSwitchUsers()) throw new Error('these tests need root and setpriv (they run as a second uid)');
});

// Binds every name it can predict from public facts (uid, state dir, pool: warden's first
// naming scheme), then every warden name it sees in /proc/net/unix as soon as it is free; of
// those, only the names in <out>.allow: the test points it at its own victim, since every other
// test's wardens on this machine show their names in /proc/net/unix too, and a squatter taking
// them would be another test's problem (a spooled job's claim taken, a slot fewer).
const SQUATTER = String.raw`
import fs from 'node:fs';
import net from 'node:net';
const [stateDir, uid, pool, out] = process.argv.slice(2);
const pad = (n) => ('\0' + n).padEnd(108, '\0');
const report = (o) => fs.appendFileSync(out, JSON.stringify(o) + '\n');
function fnv64(text) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(text)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}
const held = new Map();
const bind = (name) => new Promise((resolve) => {
  const s = net.createServer((c) => c.destroy());
  s.once('error', () => resolve(false));
  s.listen({ path: pad(name) }, () => { held.set(name, s); resolve(true); });
});
for (let i = 0; i < 4; i++) {
  const name = 'warden:' + uid + ':' + fnv64(stateDir) + ':' + pool + ':' + i;
  if (await bind(name)) report({ predicted: name });
}
report({ ready: true });
const seen = new Set();
let passes = 0;
for (;;) {
  for (const m of fs.readFileSync('/proc/net/unix', 'latin1').matchAll(/@(warden:[^@\s]+)/g)) {
    if (!held.has(m[1]) && !seen.has(m[1])) { seen.add(m[1]); report({ seen: m[1] }); }
  }
  let allow = [];
  try { allow = fs.readFileSync(out + '.allow', 'latin1').split('\n'); } catch {}
  for (const name of seen) if (allow.includes(name) && !held.has(name) && (await bind(name))) report({ squatted: name });
  fs.writeFileSync(out + '.passes.tmp', String(++passes));
  fs.renameSync(out + '.passes.tmp', out + '.passes');
  await new Promise((r) => setTimeout(r, 5));
}
`;

interface Report {
  predicted?: string;
  ready?: boolean;
  seen?: string;
  squatted?: string;
}

const reports = (file: string): Report[] =>
  readText(file)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Report);

describe('a squatter watching /proc/net/unix, against a socket pool', () => {
  it('cannot take a slot in advance; can only hold, once freed, slot names it has seen bound (denial of service, never over-admission)', async () => {
    const { dir, env } = testDir('squat');
    const stateDir = path.join(dir, 'state');
    const shared = sharedDir('squatter');
    const script = path.join(shared, 'squat.mjs');
    fs.writeFileSync(script, SQUATTER, { mode: 0o644 });
    const out = path.join(shared, 'report.jsonl');
    const args = ['run', '--pool', 'p', '--max-live', '2'];
    const hold = (name: string): string => `touch "${dir}/${name}.$WARDEN_SLOT"; while [ ! -f "${dir}/release-${name}" ]; do sleep 0.02; done`;
    // The squatter may take the names our jobs hold (see SQUATTER), found from the jobs' own sockets.
    const allowNamesOf = (pid: number): void =>
      fs.appendFileSync(`${out}.allow`, boundNamesOf(pid).map((n) => `${n.slice(1).split('@')[0]}\n`).join(''));
    const jobPid = (w: { pid: number }): number => Number(listPids().find((pid) => readStat(pid)?.ppid === w.pid));

    const first = startWarden([...args, '--', hold('first')], { env });
    await waitFor('the first job', () => fs.readdirSync(dir).some((f) => f.startsWith('first.')));
    allowNamesOf(jobPid(first));
    const squatter = startCommand(asUser(OTHER_UID, [process.execPath, script, stateDir, String(process.getuid?.()), 'p', out]), { PATH: '/usr/bin:/bin' }, 60_000);
    try {
      await waitFor('the squatter to bind every name it can predict', () => reports(out).some((r) => r.ready));
      // Nothing it could predict is a slot: the second slot is still ours.
      // The second job holds its slot until the squatter has read /proc/net/unix twice since it
      // began: a squatter polling every 5 ms could otherwise miss a job that ends at once.
      const passes = (): number => Number(readText(`${out}.passes`) || 0);
      const second = startWarden([...args, '--overflow', 'skip', '--', `echo $WARDEN_SLOT > "${dir}/second-slot"; while [ ! -f "${dir}/release-second" ]; do sleep 0.02; done`], { env });
      await waitFor('the second job', () => readText(`${dir}/second-slot`).trim());
      allowNamesOf(jobPid(second));
      expect(readText(`${dir}/second-slot`).trim()).toBe('1');
      const since = passes();
      await waitFor('the squatter to look while the second slot is bound', () => passes() >= since + 2, 10_000);
      fs.writeFileSync(`${dir}/release-second`, '');
      expect((await second.done).code).toBe(0);
      // It saw slot 1 bound while that job ran, and takes it once free.
      await waitFor('the squatter to take the slot it saw', () => reports(out).some((r) => r.squatted), 10_000);
      expect((await runWarden([...args, '--overflow', 'skip', '--', 'true'], { env })).code, 'the slot it took is denied to us').toBe(75);
      // The first job ends: its slot, seen too, goes to the squatter as well. The pool is blocked, never over-admitted.
      fs.writeFileSync(`${dir}/release-first`, '');
      expect((await first.done).code).toBe(0);
      await waitFor('the squatter to take both slots', () => reports(out).filter((r) => r.squatted).length >= 2, 10_000);
      expect((await runWarden([...args, '--overflow', 'skip', '--', 'true'], { env })).code).toBe(75);
      const status = JSON.parse((await runWarden(['status', '--json', '--pool', 'p'], { env })).stdout) as { pools: { live: number }[] };
      expect(status.pools[0].live, 'status shows the squatted slots as held').toBe(2);
    } finally {
      process.kill(squatter.pid, 'SIGKILL');
      await squatter.done;
    }
    // Gone with the squatter: both slots are ours again.
    const holders = [startWarden([...args, '--overflow', 'skip', '--', hold('again')], { env }), startWarden([...args, '--overflow', 'skip', '--', hold('again')], { env })];
    await waitFor('two jobs at once again', () => fs.readdirSync(dir).filter((f) => f.startsWith('again.')).length === 2);
    fs.writeFileSync(`${dir}/release-again`, '');
    for (const h of holders) expect((await h.done).code).toBe(0);
    expect(reports(out).filter((r) => r.predicted)).not.toEqual([]);
  });
});

describe('another user against a flock pool in a private state dir', () => {
  it('can neither take, see, hold nor block a slot', async () => {
    const { dir, env } = testDir('flock-immune');
    const stateDir = path.join(dir, 'state');
    const args = ['run', '--pool', 'p', '--max-live', '2', '--pool-backend', 'flock'];
    const hold = `touch "${dir}/held.$WARDEN_SLOT"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done`;
    const first = startWarden([...args, '--', hold], { env });
    await waitFor('the first job', () => fs.existsSync(`${dir}/held.0`));
    // testDir's folder is private too: let the other user reach the state dir's door, no further.
    fs.chmodSync(dir, 0o711);
    const lockFile = path.join(stateDir, 'pools', 'p', 'slot-1.lock');
    const attempts = {
      warden: await runCommand(asUser(OTHER_UID, [process.execPath, path.resolve('bin/warden.js'), ...args, '--state-dir', stateDir, '--overflow', 'skip', '--', 'true']), { PATH: '/usr/bin:/bin' }),
      flock: await runCommand(asUser(OTHER_UID, ['flock', '-n', lockFile, 'sleep', '5']), { PATH: '/usr/bin:/bin' }),
      list: await runCommand(asUser(OTHER_UID, ['ls', stateDir]), { PATH: '/usr/bin:/bin' }),
      plant: await runCommand(asUser(OTHER_UID, ['ln', '-s', '/etc/passwd', path.join(stateDir, 'pools', 'p', 'slot-2.lock')]), { PATH: '/usr/bin:/bin' }),
    };
    expect(attempts.warden.code, attempts.warden.stderr).toBe(2);
    expect(attempts.warden.stderr).toContain(`owned by uid ${process.getuid?.()}`);
    for (const name of ['flock', 'list', 'plant'] as const) {
      expect(attempts[name].code, name).not.toBe(0);
      expect(attempts[name].stderr, name).toMatch(/Permission denied/);
    }
    // Both slots are still ours: the second fits, a third does not.
    const second = startWarden([...args, '--', hold], { env });
    await waitFor('the second job', () => fs.existsSync(`${dir}/held.1`));
    expect((await runWarden([...args, '--overflow', 'skip', '--', 'true'], { env })).code).toBe(75);
    fs.writeFileSync(`${dir}/release`, '');
    for (const h of [first, second]) expect((await h.done).code).toBe(0);
  });
});
