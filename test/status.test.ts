// `warden status`: pools with caps, live holders and free slots, as text and JSON.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCommand } from './helpers/other-user.js';
import { BIN, runWarden, startWarden, testDir, waitFor } from './helpers/warden.js';
import type { Result } from './helpers/warden.js';

describe('warden status', () => {
  it('fails (70, one line) when its report cannot be written, and not when the reader stops reading', async () => {
    const { env } = testDir('status-full');
    expect((await runWarden(['run', '--', 'true'], { env })).code).toBe(0);
    const sh = (redirect: string): Promise<Result & { timedOut: boolean }> =>
      runCommand(['/bin/sh', '-c', `"${process.execPath}" "${BIN}" status ${redirect}; echo "rc=$?" >&2`], { ...process.env, ...env });
    for (const args of ['> /dev/full', '--json > /dev/full']) {
      const r = await sh(args);
      expect(r.stderr, args).toBe('warden: status: cannot write stdout: no space left on device\nrc=70\n');
    }
    const closed = await sh('| head -c 0');
    expect(closed.stderr).toBe('rc=0\n');
  });

  it('says so kindly when nothing has run yet', async () => {
    const { env } = testDir();
    const r = await runWarden(['status'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^No pools in .* yet/);
    const json = await runWarden(['status', '--json'], { env });
    expect(JSON.parse(json.stdout)).toMatchObject({ pools: [] });
  });

  it.each(['socket', 'flock'] as const)('shows live holders and free slots, and a cap mismatch (%s)', async (backend) => {
    const { dir, env } = testDir();
    const hold = `touch "${dir}/started.$WARDEN_SLOT"; while [ ! -f "${dir}/release" ]; do sleep 0.02; done`;
    const a = startWarden(['run', '--pool', 'mail', '--max-live', '3', '--pool-backend', backend, '--', hold], { env });
    const b = startWarden(['run', '--pool', 'mail', '--max-live', '4', '--pool-backend', backend, '--', hold], { env });
    await waitFor('two holders', () => fs.readdirSync(dir).filter((f) => f.startsWith('started.')).length === 2);

    const text = await runWarden(['status'], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`pool mail \\(${backend}\\): 2 live of 4, 2 free`));
    expect(text.stdout).toMatch(/different --max-live values \(3, 4\)/);
    expect(text.stdout).toContain(`run-${a.pid}`);
    expect(text.stdout).toContain(`run-${b.pid}`);

    const json = JSON.parse((await runWarden(['status', '--pool', 'mail', '--json'], { env })).stdout) as {
      pools: { name: string; live: number; free: number; maxLive: number; mismatch: boolean; holders: { slot: number; pid: number; pidAlive: boolean; command: string }[] }[];
    };
    expect(json.pools).toHaveLength(1);
    expect(json.pools[0]).toMatchObject({ name: 'mail', live: 2, free: 2, maxLive: 4, mismatch: true });
    expect(json.pools[0].holders.map((h) => h.slot).sort()).toEqual([0, 1]);
    for (const h of json.pools[0].holders) {
      expect(h.pidAlive).toBe(true);
      expect(h.command).toContain('touch');
    }

    fs.writeFileSync(`${dir}/release`, '');
    await Promise.all([a.done, b.done]);
    // The kernel frees the names as the jobs' last descriptors go; on a loaded machine that can
    // trail the wrappers' exit by a moment, so wait for it (a leak would time out).
    let after: { pools: { live: number; holders: unknown[] }[] } | undefined;
    await waitFor('the pool free', async () => {
      after = JSON.parse((await runWarden(['status', '--json'], { env })).stdout) as { pools: { live: number; holders: unknown[] }[] };
      return after.pools[0].live === 0;
    });
    expect(after?.pools[0]).toMatchObject({ live: 0, holders: [] });
  });

  it('never shows a SIGKILLed holder as live', async () => {
    const { dir, env } = testDir();
    const w = startWarden(['run', '--pool', 'p', '--max-live', '2', '--', `echo $$ > "${dir}/job"; exec sleep 30`], { env });
    await waitFor('job', () => fs.existsSync(`${dir}/job`) && fs.readFileSync(`${dir}/job`, 'utf8').trim());
    const job = Number(fs.readFileSync(`${dir}/job`, 'utf8'));
    process.kill(w.pid, 'SIGKILL');
    process.kill(job, 'SIGKILL');
    await waitFor('slot free', async () => {
      const s = JSON.parse((await runWarden(['status', '--json'], { env })).stdout) as { pools: { live: number }[] };
      return s.pools[0].live === 0;
    });
  });
});
