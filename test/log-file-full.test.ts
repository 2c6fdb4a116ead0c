// --log-file on a disk that fills up while warden runs (a real tmpfs of 1 MiB): the write that
// fails midway leaves a torn piece of a line, which must stay a line of its own; once space is
// back, every event is whole again, and warden never stopped.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseEvents, readText, startWarden, testDir, waitFor } from './helpers/warden.js';

let mounted: string | undefined;
afterEach(() => {
  if (mounted) execFileSync('umount', ['-l', mounted]);
  mounted = undefined;
});

/** Fill every free byte of the file system `dir` is on; the filler's path. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const block = Buffer.alloc(4096, 0x2e);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

describe('--log-file on a full disk', () => {
  it('a line torn by ENOSPC stays alone: the lines written once space is back are whole', async () => {
    const { dir, env } = testDir('log-full');
    const small = path.join(dir, 'small');
    fs.mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
    mounted = small;
    const file = path.join(small, 'w.jsonl');
    const w = startWarden(['watch', '--every', '20ms', '--job', 'echo x', '--log', 'json', '--log-file', file], { env });
    try {
      await waitFor('the first lines in the log file', () => readText(file).split('\n').length > 5);
      const filler = fill(small);
      await waitFor('warden to say the disk is full', () => w.stderr().includes('no space left on device'));
      // Events keep coming while nothing can be written: ten more jobs end.
      const exitsAtFull = w.events().filter((e) => e.event === 'exit').length;
      await waitFor('ten more jobs while the disk is full', () => w.events().filter((e) => e.event === 'exit').length >= exitsAtFull + 10);
      fs.rmSync(filler);
      const sizeBack = fs.statSync(file).size;
      await waitFor('twenty lines written once space is back', () => readText(file).slice(sizeBack).split('\n').length > 20);
    } finally {
      w.child.kill('SIGTERM');
    }
    expect((await w.done).code).toBe(143);
    const printed = w.stdout().split('\n').filter((l) => l.startsWith('{'));
    const lines = readText(file).split('\n').filter(Boolean);
    const torn: string[] = [];
    for (const line of lines) {
      try {
        JSON.parse(line);
      } catch {
        torn.push(line);
      }
    }
    // At most the one write cut short by the full disk, and it is a piece of an event, nothing more.
    expect(torn.length).toBeLessThanOrEqual(1);
    for (const piece of torn) expect(printed.some((p) => p.startsWith(piece) && p !== piece), piece).toBe(true);
    // What warden printed after the disk had room again is in the file, each event once.
    const inFile = new Set(lines);
    const last = printed.slice(-10, -1);
    for (const p of last) expect(inFile.has(p), p).toBe(true);
    expect(parseEvents(readText(file)).filter((e) => e.event === 'stop')).toHaveLength(1);
  }, 60_000);
});
