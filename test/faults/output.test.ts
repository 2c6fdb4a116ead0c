// SPEC 6 "Huge job output never blocks a job": output floods keep warden's memory and exit records bounded.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { samplePeakRss } from '../helpers/procfs.js';
import { readLogFile } from '../helpers/supervised.js';
import { readLedger } from '../helpers/ledger.js';
import { allExitRecordProblems } from '../helpers/records.js';

const fixture = useFixture();

const MAX_RSS_KB = 200 * 1024;
const MAX_TAIL_BYTES = 64 * 1024;

describe('output abuse', () => {
  it('keeps warden under 200 MB of memory and every exit tail under 64 KiB while jobs write 200 MB of lines, a 50 MB line, invalid UTF-8 and a stderr flood', async () => {
    const f = fixture('flood');
    const jobs = {
      lines: `yes "$(printf '%0999d' 0)" | head -c 200000000`,
      longLine: `head -c 50000000 /dev/zero | tr '\\0' x`,
      binary: 'head -c 20000000 /dev/urandom',
      stderr: 'yes stderr-flood-line | head -c 100000000 >&2',
    };
    const w = f.start(['watch', '--every', '1h', '--max-runs', '1', '--max-live', '4', '--log-file', f.logFile,
      ...Object.values(jobs).flatMap((j) => ['--job', f.job(j)])], { stdio: ['ignore', 'ignore', 'ignore'] });
    const pid = await w.pid();
    const stopSampling = samplePeakRss(pid);
    const r = await w.done;
    const peakKb = stopSampling();
    const log = readLogFile(f.logFile);
    const exits = log.events.filter((e) => e.event === 'exit');

    expect(r.code).toBe(0);
    expect(peakKb, 'warden peak RSS (VmHWM, kB)').toBeGreaterThan(0);
    console.log(`flood: peak RSS ${peakKb} kB, ${r.ms} ms, tails ${exits.map((e) => Buffer.byteLength(String(e.tail))).join(',')}`);
    expect(peakKb, 'warden peak RSS (VmHWM, kB)').toBeLessThan(MAX_RSS_KB);
    expect(log.torn, 'log lines that are not whole JSON objects').toEqual([]);
    expect(exits.map((e) => e.outcome)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(allExitRecordProblems(exits)).toEqual([]);
    for (const e of exits) {
      expect(typeof e.tail, 'tail is a string').toBe('string');
      expect(Buffer.byteLength(String(e.tail)), `tail of ${String(e.command).slice(0, 80)}`).toBeLessThan(MAX_TAIL_BYTES);
    }
    const stderrJob = exits.find((e) => String(e.command).includes('stderr-flood-line'));
    expect(String(stderrJob?.tail), 'the tail holds the last stderr lines').toContain('stderr-flood-line');
    expect(readLedger(f.ledger).filter((e) => e.kind === 'end'), 'every job ran to its end').toHaveLength(4);
  }, 90_000);
});

describe('check output abuse', () => {
  it('passes at most 64 KiB of a 50 MB check output to the job (WARDEN_CHECK_OUTPUT), starts the job, and stays under 200 MB', async () => {
    const f = fixture('checkflood');
    const sizes = path.join(f.work, 'sizes');
    const w = f.start(['watch', '--every', '1h', '--max-runs', '1', '--log-file', f.logFile,
      '--check', `head -c 50000000 /dev/zero | tr '\\0' y`,
      '--job', f.job(`printf '%s' "$WARDEN_CHECK_OUTPUT" | wc -c > ${sizes}`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    const pid = await w.pid();
    const stopSampling = samplePeakRss(pid);
    const r = await w.done;
    const peakKb = stopSampling();
    const events = readLogFile(f.logFile).events;
    expect(r.code, r.stderr.slice(-400)).toBe(0);
    expect(events.filter((e) => e.event === 'check').map((e) => e.outcome)).toEqual(['fired']);
    expect(events.filter((e) => e.event === 'exit').map((e) => e.outcome), 'the job started (its environment was not too big)').toEqual(['ok']);
    const size = Number(fs.readFileSync(sizes, 'utf8').trim());
    expect(size, 'bytes of WARDEN_CHECK_OUTPUT').toBeGreaterThan(0);
    expect(size, 'bytes of WARDEN_CHECK_OUTPUT').toBeLessThanOrEqual(64 * 1024);
    expect(peakKb, 'warden peak RSS (VmHWM, kB)').toBeLessThan(MAX_RSS_KB);
  }, 60_000);
});

