// Which files have a flock(2) lock held, as the kernel lists them in /proc/locks.
import fs from 'node:fs';

/** A file as /proc/locks names it: "major:minor:inode" (device numbers in hex). */
export function fileKey(stat: fs.BigIntStats): string {
  const dev = stat.dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16)}:${minor.toString(16)}:${stat.ino}`;
}

/** Files with a flock held (device and inode: inode numbers repeat across file systems); undefined off Linux. */
export function procLockedFiles(): Set<string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  const files = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // "1: FLOCK ADVISORY WRITE 1234 fd:01:5678 0 EOF"; blocked waiters are marked "->".
    if (f[1] !== 'FLOCK' || f.includes('->')) continue;
    const [major, minor, ino] = f[5]?.split(':') ?? [];
    if (ino) files.add(`${parseInt(major, 16).toString(16)}:${parseInt(minor, 16).toString(16)}:${ino}`);
  }
  return files;
}
