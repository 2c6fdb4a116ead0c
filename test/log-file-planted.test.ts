// --log-file where another local user can plant things (a shared folder such as /tmp): a
// symlink they made is never followed, at start or at a reopen, and a file they made where the
// rotated log was is never written into (they could read every event). The user's own symlink,
// and a file logrotate creates for the log's owner, are taken as before.
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { OTHER_UID } from './helpers/other-user.js';
import { eventsNamed, parseEvents, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

let dir: string;
let env: NodeJS.ProcessEnv;
let log: string;
beforeEach(() => {
  ({ dir, env } = testDir('warden-planted'));
  log = path.join(dir, 'warden.jsonl');
});

describe('--log-file and another user', () => {
  it('a symlink another user made at the path: exit 2 with one line, nothing written through it', async () => {
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'precious\n');
    fs.symlinkSync(victim, log);
    fs.lchownSync(log, OTHER_UID, OTHER_UID);
    const r = await runWarden(['once', '--log-file', log, '--job', `touch "${dir}/ran"`], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`warden: --log-file: cannot write ${log}: is a symbolic link another user made (never followed)\n`);
    expect(readText(victim)).toBe('precious\n');
    expect(fs.existsSync(path.join(dir, 'ran'))).toBe(false);
    // The user's own link is the user's choice: followed.
    fs.unlinkSync(log);
    fs.symlinkSync(victim, log);
    const own = await runWarden(['once', '--log-file', log, '--job', 'true'], { env });
    expect(own.code).toBe(0);
    expect(readText(victim).startsWith('precious\n{')).toBe(true);
    expect(eventsNamed(parseEvents(readText(victim)), 'stop')).toHaveLength(1);
  });

  it('a file another user planted where the rotated log was is refused; writing goes on in the old file', async () => {
    const w = startWarden(['watch', '--every', '50ms', '--max-live', '2', '--log-file', log, '--job', 'true'], { env });
    await waitFor('events', () => eventsNamed(parseEvents(readText(log)), 'exit').length >= 3);
    const planted = path.join(dir, 'planted');
    fs.writeFileSync(planted, '');
    fs.chownSync(planted, OTHER_UID, OTHER_UID);
    fs.chmodSync(planted, 0o666);
    fs.renameSync(log, `${log}.1`);
    fs.renameSync(planted, log);
    process.kill(w.pid, 'SIGUSR1');
    await waitFor('the refusal', () => /cannot reopen .*belongs to another user \(uid 4242\)/.test(w.stderr()), 5000);
    const size = fs.statSync(`${log}.1`).size;
    await waitFor('writing on into the file open before', () => fs.statSync(`${log}.1`).size > size);
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);
    expect(readText(log)).toBe('');
    const events = parseEvents(readText(`${log}.1`));
    expect(eventsNamed(events, 'start')).toHaveLength(1);
    expect(eventsNamed(events, 'stop')).toHaveLength(1);
  });

  it("a new file of the log's owner (logrotate's create) is taken at the reopen", async () => {
    const w = startWarden(['watch', '--every', '50ms', '--max-live', '2', '--log-file', log, '--job', 'true'], { env });
    await waitFor('events', () => eventsNamed(parseEvents(readText(log)), 'exit').length >= 3);
    const created = path.join(dir, 'created');
    fs.writeFileSync(created, '', { mode: 0o640 });
    fs.renameSync(log, `${log}.1`);
    fs.renameSync(created, log);
    process.kill(w.pid, 'SIGUSR1');
    await waitFor('lines in the new file', () => eventsNamed(parseEvents(readText(log)), 'exit').length >= 2);
    process.kill(w.pid, 'SIGINT');
    expect((await w.done).code).toBe(130);
    expect(w.stderr()).not.toMatch(/cannot reopen/);
  });
});
