// The state dir: one per user whatever the session, private (0700), and refused (exit 2, naming
// the path and the problem) when it, or anything in it, is a symlink, someone else's, or open
// to others. Attacks come from a real second uid (setpriv), as another local user would.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CRON_ENV, OTHER_UID, asUser, canSwitchUsers, runCommand, sharedDir, wardenArgv } from './helpers/other-user.js';
import { expectUsageError, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

const uid = process.getuid?.() ?? 0;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

beforeAll(() => {
  if (!canSwitchUsers()) throw new Error('these tests need root and setpriv (they run as a second uid)');
});

const exec = (argv: string[]): void => void execFileSync(argv[0], argv.slice(1));
const holdUntil = (dir: string, name: string): string => `touch "${dir}/started"; while [ ! -f "${dir}/${name}" ]; do sleep 0.02; done`;

describe('the default state dir does not depend on the session', () => {
  it('makes a terminal (XDG_RUNTIME_DIR, TMPDIR set) and a cron line (env -i) share one pool', async () => {
    const { dir } = testDir('session');
    const pool = `tc-${process.pid}-${Date.now()}`;
    cleanups.push(() => fs.rmSync(path.join(`/tmp/warden-${uid}`, 'pools', pool), { recursive: true, force: true }));
    const session = path.join(dir, 'run-user');
    fs.mkdirSync(session, { mode: 0o700 });
    const terminal = startWarden(['run', '--pool', pool, '--max-live', '1', '--', holdUntil(dir, 'release')], {
      env: { WARDEN_STATE_DIR: '', XDG_RUNTIME_DIR: session, TMPDIR: session },
    });
    await waitFor('the terminal job', () => fs.existsSync(`${dir}/started`));
    const cronLine = ['once', '--pool', pool, '--max-live', '1', '--job', `touch "${dir}/cron-ran"`];
    const cron = await runCommand(['env', '-i', ...Object.entries(CRON_ENV).map(([k, v]) => `${k}=${v}`), ...wardenArgv(cronLine)], {});
    expect(cron.code, cron.stderr).toBe(75);
    expect(fs.existsSync(`${dir}/cron-ran`)).toBe(false);
    fs.writeFileSync(`${dir}/release`, '');
    expect((await terminal.done).code).toBe(0);
    const later = await runCommand(wardenArgv(cronLine), CRON_ENV);
    expect(later.code, later.stderr).toBe(0);
    expect(fs.existsSync(`${dir}/cron-ran`)).toBe(true);
  });

  it('still separates pools given different explicit state dirs', async () => {
    const { dir } = testDir('explicit');
    const args = (state: string): string[] => ['run', '--state-dir', path.join(dir, state), '--pool', 'p', '--max-live', '1'];
    const a = startWarden([...args('a'), '--', holdUntil(dir, 'release')]);
    await waitFor('a job in state dir a', () => fs.existsSync(`${dir}/started`));
    expect((await runWarden([...args('b'), '--overflow', 'skip', '--', 'true'])).code).toBe(0);
    expect((await runWarden([...args('a'), '--overflow', 'skip', '--', 'true'])).code).toBe(75);
    fs.writeFileSync(`${dir}/release`, '');
    await a.done;
  });

  it('is one pool whatever path leads to its folder (a symlinked parent, as /var/run is to /run)', async () => {
    const { dir } = testDir('spelling');
    fs.mkdirSync(path.join(dir, 'real'));
    fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
    const args = (via: string): string[] => ['run', '--state-dir', path.join(dir, via, 'state'), '--pool', 'p', '--max-live', '1'];
    const a = startWarden([...args('real'), '--', holdUntil(dir, 'release')]);
    await waitFor('the job', () => fs.existsSync(`${dir}/started`));
    const r = await runWarden([...args('link'), '--overflow', 'skip', '--', 'touch', `${dir}/ran`]);
    expect(r.code, r.stderr).toBe(75);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    const status = await runWarden(['status', '--json', '--state-dir', path.join(dir, 'link', 'state')]);
    expect(JSON.parse(status.stdout)).toMatchObject({ stateDir: path.join(dir, 'real', 'state'), pools: [{ name: 'p', live: 1 }] });
    fs.writeFileSync(`${dir}/release`, '');
    expect((await a.done).code).toBe(0);
  });

  it('is created private (0700)', async () => {
    const { dir, env } = testDir('private');
    expect((await runWarden(['run', '--', 'true'], { env })).code).toBe(0);
    expect(fs.statSync(path.join(dir, 'state')).mode & 0o777).toBe(0o700);
  });
});

describe('another local user cannot make warden write outside the state dir', () => {
  it('refuses a default state dir that another user created first and planted a symlink in', async () => {
    const victim = OTHER_UID + 1;
    const stateDir = `/tmp/warden-${victim}`;
    fs.rmSync(stateDir, { recursive: true, force: true });
    cleanups.push(() => fs.rmSync(stateDir, { recursive: true, force: true }));
    const home = sharedDir('victim-home');
    const precious = path.join(home, 'precious');
    fs.writeFileSync(precious, 'the victim\'s own data\n');
    fs.chownSync(precious, victim, victim);
    // The attacker, first: a world-writable folder with the victim's name, a symlink inside.
    const plant = `mkdir -m 0777 ${stateDir} && mkdir -p -m 0777 ${stateDir}/pools/p && ln -s ${precious} ${stateDir}/pools/p/slot-0.json`;
    exec(asUser(OTHER_UID, ['sh', '-c', plant]));
    expect(fs.statSync(stateDir).uid).toBe(OTHER_UID);

    const r = await runCommand(asUser(victim, ['env', '-i', 'PATH=/usr/bin:/bin', ...wardenArgv(['run', '--pool', 'p', '--', 'touch', `${home}/ran`])]), {});
    expectUsageError(r, stateDir);
    expect(r.stderr).toContain(`owned by uid ${OTHER_UID}`);
    expect(readText(precious)).toBe('the victim\'s own data\n');
    expect(fs.existsSync(`${home}/ran`)).toBe(false);
  });

  it('refuses an explicit state dir that is a symlink, not ours, or open to group/others', async () => {
    const shared = sharedDir('hostile');
    const { dir } = testDir('own');
    const mine = path.join(dir, 'real');
    fs.mkdirSync(mine, { mode: 0o700 });
    fs.symlinkSync(mine, path.join(dir, 'link'));
    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o755);
    exec(asUser(OTHER_UID, ['mkdir', '-m', '0700', path.join(shared, 'theirs')]));
    for (const [stateDir, problem] of [
      [path.join(dir, 'link'), 'is a symbolic link'],
      [open, 'is open to group/others (mode 0755'],
      [path.join(shared, 'theirs'), `is owned by uid ${OTHER_UID}`],
    ] as const) {
      const r = await runWarden(['run', '--state-dir', stateDir, '--', 'touch', `${dir}/ran`]);
      expect(r.code, stateDir).toBe(2);
      expect(r.stderr.startsWith(`warden: --state-dir: refusing ${stateDir}: it ${problem}`), r.stderr).toBe(true);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      const status = await runWarden(['status', '--state-dir', stateDir]);
      expect(status.code, `status ${stateDir}`).toBe(2);
    }
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    expect(fs.readdirSync(mine)).toEqual([]);
  });

  it('refuses a state dir below a folder another user owns further up, which could swap the path under a running watch', async () => {
    const shared = sharedDir('ancestor');
    const evil = path.join(shared, 'evil');
    exec(asUser(OTHER_UID, ['mkdir', '-m', '0755', evil]));
    // Warden itself would create evil/a (ours, 0700) and evil/a/state: the immediate parent
    // looks safe, but the other user may rename evil/a away and put a path of theirs there.
    const stateDir = path.join(evil, 'a', 'state');
    const { dir } = testDir('ancestor-own');
    let r = await runWarden(['run', '--state-dir', stateDir, '--', 'touch', `${dir}/ran`]);
    expectUsageError(r, `refusing ${stateDir}: it sits in ${evil}, owned by uid ${OTHER_UID}`);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    expect(fs.readdirSync(evil), 'nothing created in their folder').toEqual([]);
    // Made by the user earlier (before the folder changed hands, say): refused all the same.
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    for (const argv of [['run', '--state-dir', stateDir, '--', 'touch', `${dir}/ran`], ['status', '--state-dir', stateDir]]) {
      r = await runWarden(argv);
      expect(r.code, `${argv[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`sits in ${evil}, owned by uid ${OTHER_UID}`);
    }
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    // The same for a folder further up that others may write without the sticky bit.
    const open = path.join(dir, 'open');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    r = await runWarden(['run', '--state-dir', path.join(open, 'a', 'b', 'state'), '--', 'touch', `${dir}/ran`]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`sits in ${open}, which others can write`);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
    expect(fs.readdirSync(open)).toEqual([]);
  });

  it('refuses a symlinked pools folder or slot record in its own state dir and writes nothing through it', async () => {
    const { dir, env } = testDir('planted');
    const stateDir = path.join(dir, 'state');
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere, { mode: 0o700 });
    const precious = path.join(dir, 'precious');
    fs.writeFileSync(precious, 'keep\n');

    fs.mkdirSync(stateDir, { mode: 0o700 });
    fs.symlinkSync(elsewhere, path.join(stateDir, 'pools'));
    let r = await runWarden(['run', '--pool', 'p', '--', 'true'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing ${path.join(stateDir, 'pools')}: it is a symbolic link`);
    expect(fs.readdirSync(elsewhere)).toEqual([]);

    fs.rmSync(path.join(stateDir, 'pools'));
    expect((await runWarden(['run', '--pool', 'p', '--', 'true'], { env })).code).toBe(0);
    const record = path.join(stateDir, 'pools', 'p', 'slot-0.json');
    fs.rmSync(record, { force: true });
    fs.symlinkSync(precious, record);
    r = await runWarden(['run', '--pool', 'p', '--', 'true'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing ${record}: it is a symbolic link`);
    expect(readText(precious)).toBe('keep\n');
  });

  it('is neither blocked nor fooled by a FIFO or a folder planted in a pool', async () => {
    const { env, dir } = testDir('fifo');
    const poolDir = path.join(dir, 'state', 'pools', 'p');
    expect((await runWarden(['run', '--pool', 'p', '--', 'true'], { env })).code).toBe(0);
    fs.rmSync(path.join(poolDir, 'pool.json'));
    exec(['mkfifo', '-m', '0600', path.join(poolDir, 'pool.json')]);
    fs.rmSync(path.join(poolDir, 'slot-0.json'), { force: true });
    fs.mkdirSync(path.join(poolDir, 'slot-0.json'), { mode: 0o700 });
    const status = await runCommand(wardenArgv(['status', '--json']), { ...process.env, ...env }, 10_000);
    expect(status.timedOut, 'status hung on the FIFO').toBe(false);
    expect(status.code).toBe(0);
    const run = await runCommand(wardenArgv(['run', '--pool', 'p', '--', 'touch', `${dir}/ran`]), { ...process.env, ...env }, 10_000);
    expect(run.timedOut, 'run hung on the FIFO').toBe(false);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/refusing .*pools\/p\/(pool|slot-0)\.json: it is not a regular file/);
    expect(fs.existsSync(`${dir}/ran`)).toBe(false);
  });
});

describe('a state dir that cannot be created', () => {
  it('gives exit 2 at once instead of spinning (/proc/x: recursive mkdir loops there)', async () => {
    const r = await runCommand(wardenArgv(['run', '--state-dir', '/proc/x', '--', 'true']), process.env, 10_000);
    expect(r.timedOut, 'warden spun on /proc/x').toBe(false);
    expectUsageError(r, /^warden: --state-dir: cannot use \/proc\/x: /);
  });
});
