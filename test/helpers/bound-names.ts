// Why: a test that must tell its own pool's abstract names from those of every other warden on
// the machine finds them through the sockets its processes hold.
import fs from 'node:fs';
import { readText } from './warden.js';

/** Slot and ticket names of warden pools bound by sockets that `pid` has open. */
export function boundNamesOf(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // Closed meanwhile.
    }
  }
  return readText('/proc/net/unix')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && inodes.has(f[6]) && f[7].startsWith('@warden:'))
    .map((f) => f[7]);
}
