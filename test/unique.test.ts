// --unique across real processes: one live or delayed job per key in the whole pool, the key
// held by the job's process tree as a slot is, and free again when that tree is gone.
import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { alive, eventsNamed, killTagged, maxOverlap, parseEvents, readText, runWarden, startWarden, taggedPids, testDir, waitFor } from './helpers/warden.js';

let dir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  ({ dir, env } = testDir('unique'));
});

describe('--unique', () => {
  it('twenty racing one-shots with the same item and a long job never have two live', async () => {
    const tag = `uniq-${process.pid}-${Date.now()}`;
    const ledger = path.join(dir, 'ledger');
    const job = `echo "start $$" >> "${ledger}"; sleep 1.5; echo "end $$" >> "${ledger}"`;
    const args = ['once', '--log', 'json', '--max-live', 'unlimited', '--check', 'echo lamp; echo other-$$', '--each-line', '--unique', '--job', job];
    const runs = Array.from({ length: 20 }, () => startWarden(args, { env: { ...env, UNIQ_TAG: tag } }));
    const results = await Promise.all(runs.map((r) => r.done));
    expect(results.map((r) => r.code)).toEqual(Array(20).fill(0));
    const events = results.flatMap((r) => parseEvents(r.stdout));
    const lampSpawns = eventsNamed(events, 'spawn').filter((e) => e.item === 'lamp');
    const duplicates = eventsNamed(events, 'skip').filter((e) => e.reason === 'duplicate');
    expect(duplicates.every((e) => e.item === 'lamp')).toBe(true);
    expect(lampSpawns.length + duplicates.length).toBe(20);
    expect(lampSpawns.length).toBeGreaterThanOrEqual(1);
    // The other items are all different: none of them is a duplicate.
    expect(eventsNamed(events, 'spawn').filter((e) => e.item !== 'lamp')).toHaveLength(20);
    // Lamp jobs never overlapped (the other items' jobs write the same ledger: keep lamp's).
    const lampPids = new Set(lampSpawns.map((e) => String(e.jobPid)));
    const lampLedger = readText(ledger).split('\n').filter((l) => lampPids.has(l.split(' ')[1])).join('\n');
    expect(maxOverlap(lampLedger)).toEqual({ max: 1, starts: lampSpawns.length, ends: lampSpawns.length });
    expect(taggedPids('UNIQ_TAG', tag)).toEqual([]);
  }, 60_000);

  it('the key stays with the job when warden is SIGKILLed, and frees when the whole tree is SIGKILLed', async () => {
    const tag = `uniqk-${process.pid}-${Date.now()}`;
    const job = `sleep 60 & sleep 60; wait`;
    const args = ['once', '--log', 'json', '--unique', '--job', job];
    const first = startWarden(args, { env: { ...env, UNIQ_TAG: tag } });
    const spawn = await waitFor('the job to start', () => eventsNamed(first.events(), 'spawn')[0]);
    const jobPid = Number(spawn.jobPid);
    process.kill(first.pid, 'SIGKILL');
    await first.done;
    expect(alive(jobPid)).toBe(true);
    const second = await runWarden(args, { env });
    expect(eventsNamed(parseEvents(second.stdout), 'skip').map((e) => e.reason)).toEqual(['duplicate']);
    expect(eventsNamed(parseEvents(second.stdout), 'spawn')).toEqual([]);
    killTagged('UNIQ_TAG', tag);
    await waitFor('the tree to die', () => taggedPids('UNIQ_TAG', tag).length === 0);
    const third = await runWarden(['once', '--log', 'json', '--unique', '--job', 'true'], { env });
    expect(eventsNamed(parseEvents(third.stdout), 'spawn')).toHaveLength(1);
    const fourth = await runWarden(['once', '--log', 'json', '--unique', '--job', job.replace('60', '0').replace('60', '0')], { env });
    expect(eventsNamed(parseEvents(fourth.stdout), 'spawn')).toHaveLength(1);
  }, 30_000);

  it('a delayed job holds its key through the delay, in this process and in the spool', async () => {
    const job = `echo ran >> "${dir}/ran"; sleep 1`;
    const args = ['once', '--log', 'json', '--unique', '--delay', '4s', '--job', job];
    const first = startWarden(args, { env });
    await waitFor('the delay', () => eventsNamed(first.events(), 'delay')[0]);
    const second = await runWarden(args, { env });
    expect(eventsNamed(parseEvents(second.stdout), 'skip').map((e) => e.reason)).toEqual(['duplicate']);
    process.kill(first.pid, 'SIGKILL');
    await first.done;
    // Its warden is gone, the job waits in the spool: still a duplicate for a new trigger...
    const third = startWarden(['once', '--log', 'json', '--unique', '--check', 'exit 0', '--delay', '4s', '--job', job], { env });
    const done = await third.done;
    const events = parseEvents(done.stdout);
    // ... which resumes the spooled one and runs it, once.
    expect(eventsNamed(events, 'resume')).toHaveLength(1);
    expect(eventsNamed(events, 'skip').map((e) => e.reason)).toEqual(['duplicate']);
    expect(readText(path.join(dir, 'ran'))).toBe('ran\n');
  }, 30_000);

  it('a retry takes the key again: if another process has it meanwhile, the retry is a duplicate', async () => {
    // The second holds the key until the first's retry has been turned away; the retry delay
    // leaves the second ample time to start even on a loaded machine.
    const key = `test -e "${dir}/ok" || { touch "${dir}/ok"; exit 1; }; while [ ! -f "${dir}/release" ]; do sleep 0.05; done`;
    const first = startWarden(['once', '--log', 'json', '--unique', '--retries', '1', '--retry-delay', '8s', '--job', key], { env });
    await waitFor('the retry', () => eventsNamed(first.events(), 'retry')[0]);
    const second = startWarden(['once', '--log', 'json', '--unique', '--job', key], { env });
    await waitFor('the second to start it', () => eventsNamed(second.events(), 'spawn')[0]);
    await waitFor('the retry turned away', () => eventsNamed(first.events(), 'skip')[0], 20_000);
    fs.writeFileSync(`${dir}/release`, '');
    const [a, b] = await Promise.all([first.done, second.done]);
    expect(eventsNamed(parseEvents(a.stdout), 'skip').map((e) => e.reason)).toEqual(['duplicate']);
    expect(eventsNamed(parseEvents(a.stdout), 'spawn')).toHaveLength(1);
    expect(eventsNamed(parseEvents(b.stdout), 'exit').map((e) => e.outcome)).toEqual(['ok']);
  }, 45_000);
});
