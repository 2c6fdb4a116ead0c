// --output DIR on hostile ground: the job's file there is opened without following a symlink or
// waiting on a FIFO, and must be a regular file of ours; whatever was planted in its place makes
// that job a failed one (with the reason), never a hung warden or output written elsewhere.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OTHER_UID, asUser, canSwitchUsers, runCommand, sharedDir, wardenArgv } from './helpers/other-user.js';
import { eventsNamed, expectUsageError, parseEvents, readText, testDir } from './helpers/warden.js';

beforeAll(() => {
  if (!canSwitchUsers()) throw new Error('these tests need root and setpriv (they run as a second uid)');
});

const exec = (argv: string[]): void => void execFileSync(argv[0], argv.slice(1));

describe('--output DIR', () => {
  it('neither hangs on a planted FIFO nor writes through a planted symlink or into a file of another user', async () => {
    const { dir, env } = testDir('output');
    // A folder every user may write in, as a shared /tmp is: another user plants the names.
    const out = sharedDir('output-shared');
    const precious = path.join(dir, 'precious');
    fs.writeFileSync(precious, 'keep\n');
    const plant = [
      `mkfifo -m 0666 ${out}/1.1.log`,
      `ln -s ${precious} ${out}/1.2.log`,
      `touch ${out}/1.3.log && chmod 0666 ${out}/1.3.log`,
    ].join(' && ');
    exec(asUser(OTHER_UID, ['sh', '-c', plant]));
    const args = ['once', '--log', 'json', '--output', out, '--max-live', '4'];
    for (const n of [1, 2, 3, 4]) args.push('--job', `echo secret-${n}`);
    const r = await runCommand(wardenArgv(args), { ...process.env, ...env }, 15_000);
    expect(r.timedOut, `warden hung: ${r.stdout}`).toBe(false);
    expect(r.code, r.stderr).toBe(1);
    const exits = new Map(eventsNamed(parseEvents(r.stdout), 'exit').map((e) => [e.jobId, e]));
    expect(exits.size).toBe(4);
    expect(exits.get('1.1')?.error).toMatch(/1\.1\.log: it is not a regular file/);
    expect(exits.get('1.2')?.error).toMatch(/1\.2\.log: it is a symbolic link/);
    expect(exits.get('1.3')?.error).toMatch(new RegExp(`1\\.3\\.log: it is owned by uid ${OTHER_UID}`));
    expect(exits.get('1.4')).toMatchObject({ outcome: 'ok', tail: 'secret-4' });
    expect(readText(precious)).toBe('keep\n');
    expect(readText(`${out}/1.3.log`)).toBe('');
    expect(readText(`${out}/1.4.log`)).toBe('secret-4\n');
  });

  it('is exit 2 at once for a folder that cannot be created (/proc/x: recursive mkdir loops there)', async () => {
    const { env } = testDir('output-proc');
    const r = await runCommand(wardenArgv(['once', '--output', '/proc/x', '--job', 'true']), { ...process.env, ...env }, 10_000);
    expect(r.timedOut, 'warden spun on /proc/x').toBe(false);
    expectUsageError(r, /^warden: --output: cannot write into \/proc\/x: /);
  });
});
