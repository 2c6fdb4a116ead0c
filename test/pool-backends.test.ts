// One pool, two backends: socket slots and flock slots are different kernel objects, so a
// process of each kind would each admit N. The second kind to take a slot is turned away
// (a pool error, nothing started), also when both take one at the same instant.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOneLineError, maxOverlap, readText, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';

const hold = (dir: string): string => `touch "${dir}/held"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done`;

describe('one pool used with --pool-backend socket and flock', () => {
  it.each([
    ['socket', 'flock'],
    ['flock', 'socket'],
  ])('turns a %s job away while a %s job holds the only slot', async (second, first) => {
    const { dir, env } = testDir(`mixed-${first}`);
    const args = (backend: string): string[] => ['run', '--pool', 'p', '--max-live', '1', '--pool-backend', backend];
    const holder = startWarden([...args(first), '--', hold(dir)], { env });
    await waitFor('the first job', () => fs.existsSync(`${dir}/held`));
    const r = await runWarden([...args(second), '--overflow', 'skip', '--', 'touch', `${dir}/second-ran`], { env });
    expectOneLineError(r, 70, `warden: pool p: in use with the ${first} backend by another process`);
    expect(fs.existsSync(`${dir}/second-ran`)).toBe(false);
    // The process turned away opened the pool last; status still shows who holds it.
    const status = JSON.parse((await runWarden(['status', '--pool', 'p', '--json'], { env })).stdout) as { pools: { backend: string; live: number }[] };
    expect(status.pools[0]).toMatchObject({ backend: first, live: 1 });
    fs.writeFileSync(`${dir}/release`, '');
    expect((await holder.done).code).toBe(0);
    // Once the other kind holds nothing, the pool is anyone's.
    expect((await runWarden([...args(second), '--', 'touch', `${dir}/second-ran`], { env })).code).toBe(0);
    expect(fs.existsSync(`${dir}/second-ran`)).toBe(true);
  });

  it('never runs two jobs on a cap of 1 when both kinds take a slot at once', async () => {
    const { dir, env } = testDir('mixed-race');
    const ledger = path.join(dir, 'ledger');
    const job = `echo "start $$" >> "${ledger}"; sleep 0.2; echo "end $$" >> "${ledger}"`;
    for (let round = 0; round < 8; round++) {
      const runs = ['socket', 'flock', 'socket', 'flock'].map((backend) =>
        runWarden(['run', '--pool', 'p', '--max-live', '1', '--pool-backend', backend, '--overflow', 'skip', '--', job], { env }),
      );
      const codes = (await Promise.all(runs)).map((r) => r.code);
      expect(codes.every((c) => c === 0 || c === 75 || c === 70), String(codes)).toBe(true);
    }
    const { max, starts } = maxOverlap(readText(ledger));
    expect(starts).toBeGreaterThan(0);
    expect(max).toBe(1);
  });
});
