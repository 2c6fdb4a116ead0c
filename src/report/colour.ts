// chalk decides colour from the terminal alone; warden also honours NO_COLOR and FORCE_COLOR.
import type { ChalkInstance } from 'chalk';
import tty from 'node:tty';
import { importEsm } from '../esm-import.js';

export async function colourFor(fd: number, env: NodeJS.ProcessEnv): Promise<ChalkInstance> {
  const { Chalk } = await importEsm<typeof import('chalk')>('chalk');
  return new Chalk({ level: colourLevel(fd, env) });
}

export function colourLevel(fd: number, env: NodeJS.ProcessEnv): 0 | 1 | 2 | 3 {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force === 'false') return 0;
    if (force === '2') return 2;
    if (force === '3') return 3;
    return 1;
  }
  if (!tty.isatty(fd) || env.TERM === 'dumb') return 0;
  return 1;
}
