// The pool identity (the secret slot names derive from) outlives its file, and belongs to one
// state dir: a state dir removed under running wardens gets the live one back, while a state
// dir at the same path in another mount namespace (a private /tmp: systemd's PrivateTmp=, a
// container) is another state dir, with a pool of its own.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { boot, canBoot, newMachine } from './helpers/machine.js';
import type { Booted, Machine } from './helpers/machine.js';
import { runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';
import type { Started } from './helpers/warden.js';

const machines: Machine[] = [];
const started: (Started | Booted)[] = [];
afterEach(async () => {
  for (const w of started.splice(0)) {
    try {
      process.kill(w.pid, 'SIGTERM');
    } catch {
      // Ended already.
    }
    await w.done;
  }
  for (const m of machines.splice(0)) fs.rmSync(m.dir, { recursive: true, force: true });
});

const holdUntil = (dir: string): string => `touch "${dir}/started"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done`;

describe('the pool identity', () => {
  for (const [label, how, linked] of [
    ['identity-removed', 'when the state dir is removed under it: the held slot stays held', false],
    ['identity-linked', 'whose identity file has another link (a backup made with cp -al)', true],
  ] as const) {
    it(`is got back from a live warden ${how}`, async () => {
      const { dir } = testDir(label);
      const state = path.join(dir, 'state');
      const args = ['run', '--state-dir', state, '--pool', 'p', '--max-live', '1'];
      const holder = startWarden([...args, '--', holdUntil(dir)]);
      started.push(holder);
      await waitFor('the holder', () => fs.existsSync(`${dir}/started`));
      if (linked) fs.linkSync(path.join(state, 'identity'), path.join(dir, 'identity-backup'));
      fs.rmSync(state, { recursive: true, force: true });
      const turnedAway = await runWarden([...args, '--overflow', 'skip', '--', 'true']);
      expect(turnedAway.code, turnedAway.stderr).toBe(75);
      fs.writeFileSync(`${dir}/release`, '');
      expect((await holder.done).code).toBe(0);
      expect((await runWarden([...args, '--overflow', 'skip', '--', 'true'])).code).toBe(0);
    });
  }

  it.runIf(canBoot())('is not taken from a warden whose state dir is another one at the same path (another mount namespace), even once deleted there', async () => {
    const a = newMachine();
    const b = newMachine();
    machines.push(a, b);
    // Both use the default state dir, /tmp/warden-0, each in a /tmp of its own.
    const args = ['run', '--pool', 'p', '--max-live', '1'];
    // Its job removes its state dir: its identity file is deleted, as one a newcomer takes back.
    const holder = boot(a, [...args, '--', `rm -rf /tmp/warden-0; ${holdUntil('/root')}`]);
    started.push(holder);
    await waitFor('the holder', () => fs.existsSync(`${a.home}/started`));
    // A delayed job left in b's spool (kept under the home): status looks at its claim.
    const watch = boot(b, ['watch', '--every', '1h', '--log', 'json', '--delay', '1h', '--job', 'true']);
    started.push(watch);
    await waitFor('the delay', () => watch.events().some((e) => e.event === 'delay'));
    process.kill(watch.pid, 'SIGKILL');
    await watch.done;
    const status = await boot(b, ['status', '--json']).done;
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ pools: [{ name: 'default', spooled: [{ command: 'true' }] }] });
    const other = await boot(b, [...args, '--overflow', 'skip', '--', 'true']).done;
    expect(other.code, other.stderr).toBe(0);
    fs.writeFileSync(`${a.home}/release`, '');
    expect((await holder.done).code).toBe(0);
  });
});
