// When warden paints its lines: a terminal, and NO_COLOR / FORCE_COLOR.
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Which descriptors are terminals, as the mocked tty.isatty sees them.
const terminal = vi.hoisted(() => ({ isTTY: false, fds: new Set<number>([1]) }));
vi.mock('node:tty', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:tty')>();
  const isatty = (fd: number): boolean => terminal.isTTY && terminal.fds.has(fd);
  return { ...real, isatty, default: { ...real, isatty } };
});

const { colourFor, colourLevel } = await import('../../src/report/colour.js');

beforeEach(() => {
  terminal.isTTY = false;
  terminal.fds = new Set([1]);
});

describe('colourLevel', () => {
  it('is 0 when the display is not a terminal', () => {
    expect(colourLevel(1, {})).toBe(0);
    expect(colourLevel(1, { TERM: 'xterm-256color' })).toBe(0);
  });

  it('colours a terminal', () => {
    terminal.isTTY = true;
    expect(colourLevel(1, { TERM: 'xterm' })).toBeGreaterThan(0);
  });

  it('is 0 on a dumb terminal', () => {
    terminal.isTTY = true;
    expect(colourLevel(1, { TERM: 'dumb' })).toBe(0);
  });

  it.each(['1', 'true', 'anything'])('is 0 with NO_COLOR=%s, even on a terminal', (v) => {
    terminal.isTTY = true;
    expect(colourLevel(1, { TERM: 'xterm', NO_COLOR: v })).toBe(0);
  });

  it('ignores an empty NO_COLOR', () => {
    terminal.isTTY = true;
    expect(colourLevel(1, { TERM: 'xterm', NO_COLOR: '' })).toBeGreaterThan(0);
  });

  it.each([
    ['0', 0],
    ['false', 0],
    ['1', 1],
    ['true', 1],
    ['', 1],
    ['2', 2],
    ['3', 3],
  ])('FORCE_COLOR=%j gives level %d, terminal or not', (v, level) => {
    for (const isTTY of [false, true]) {
      terminal.isTTY = isTTY;
      expect(colourLevel(1, { TERM: 'xterm', FORCE_COLOR: v })).toBe(level);
    }
  });

  it('asks about the descriptor it is given', () => {
    terminal.isTTY = true;
    terminal.fds = new Set([2]);
    expect(colourLevel(1, { TERM: 'xterm' })).toBe(0);
    expect(colourLevel(2, { TERM: 'xterm' })).toBeGreaterThan(0);
  });
});

describe('colourFor', () => {
  it('gives a chalk that paints nothing off a terminal', async () => {
    expect((await colourFor(1, {})).red('x')).toBe('x');
  });

  it('gives a chalk that paints with FORCE_COLOR', async () => {
    expect((await colourFor(1, { FORCE_COLOR: '1' })).red('x')).not.toBe('x');
  });
});
