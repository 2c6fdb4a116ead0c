// The harness checks itself: each detector must see the fault it is meant to catch, or a green suite means nothing.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { killTagged } from '../helpers/warden.js';
import { TAG_VAR } from '../helpers/shell.js';
import { maxConcurrent, readLedger } from '../helpers/ledger.js';
import { Sampler } from '../helpers/sampler.js';
import { newTag, taggedArgv } from '../helpers/shell.js';
import { readReport, underSubreaper } from '../helpers/subreaper.js';
import { waitFor } from '../helpers/wait.js';

describe('the harness sees the faults it looks for', () => {
  it('counts 4 live tagged process groups and a 4-deep overlap in the ledger when 4 jobs run at once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-faults-self-'));
    const tag = newTag('self');
    const ledger = path.join(dir, 'ledger');
    const sampler = new Sampler(tag, 3).start();
    const kids = Array.from({ length: 4 }, () =>
      spawn(taggedArgv(tag, ledger, 'sleep 0.4')[0]!, taggedArgv(tag, ledger, 'sleep 0.4').slice(1), { detached: true, stdio: 'ignore' }));
    await Promise.all(kids.map((k) => new Promise((resolve) => k.on('exit', resolve))));
    const report = sampler.stop();
    expect(report.maxGroups).toBe(4);
    expect(maxConcurrent(readLedger(ledger))).toMatchObject({ max: 4, starts: 4, ends: 4, unfinished: [] });
    fs.rmSync(dir, { recursive: true, force: true });
  }, 20_000);

  it('reports a zombie that its parent does not reap', async () => {
    const tag = newTag('zombie');
    const sampler = new Sampler(tag, 3).start();
    // The parent execs into a sleep that never waits for the tagged child.
    // The child lives long enough to be seen alive first, however loaded the machine; the parent outlives it.
    const parent = spawn('sh', ['-c', `env FAULT_TAG=${tag} sleep 1 & exec sleep 60`], { stdio: 'ignore' });
    await waitFor(() => sampler.zombiesNow().length > 0, 20_000, 'a zombie sighting');
    const report = sampler.stop();
    expect(report.zombies.filter((z) => !z.reaped && z.ppid === parent.pid)).toHaveLength(1);
    parent.kill('SIGKILL');
    killTagged(TAG_VAR, tag);
  }, 40_000);

  it('reports a descendant that outlives the command as escaped, and kills it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-faults-self-'));
    const sub = { report: path.join(dir, 'r.json'), settleMs: 50 };
    const argv = underSubreaper(['sh', '-c', 'sleep 30 & exit 0'], sub);
    expect(spawnSync(argv[0]!, argv.slice(1)).status).toBe(0);
    const report = await readReport(sub);
    expect(report.escaped.map((e) => e.cmdline)).toEqual(['sleep 30']);
    expect(fs.existsSync(`/proc/${report.escaped[0]!.pid}`) && fs.readFileSync(`/proc/${report.escaped[0]!.pid}/stat`, 'utf8').includes(') Z')).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 20_000);
});
