// Abstract socket names of a pool, and which of them are bound right now.
//
// Names are keyed hashes (HMAC-SHA256) of the state dir, the pool and the slot under the
// state dir's identity, so no other user can compute one before it has been bound. Each slot
// has its own hash: seeing slot 0 bound tells nothing about slot 1's name. node:crypto costs
// about half a millisecond to load; a guessable name would cost the pool itself.
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { myUid } from './safe-fs.js';

// sizeof(sun_path). Node 20 binds the whole padded buffer, Node 22 the exact length: padding
// every name to the full size makes both agree on one address.
export const SUN_PATH = 108;

export const pad = (name: string): string => ('\0' + name).padEnd(SUN_PATH, '\0');

export class PoolNames {
  private readonly slots = new Map<number, string>();
  /** What every waiter's ticket name of this pool starts with. */
  readonly ticketPrefix: string;
  private readonly head: string;

  constructor(
    private readonly secret: string,
    private readonly stateDir: string,
    private readonly pool: string,
  ) {
    this.head = `warden:${myUid() ?? os.userInfo().username}:`;
    this.ticketPrefix = `${this.head}${this.hash('tickets')}:`;
  }

  /** Slot i's name, unpadded (as /proc/net/unix shows it after the '@'). */
  slot(index: number): string {
    let name = this.slots.get(index);
    if (name === undefined) {
      name = this.head + this.hash(`slot:${index}`);
      this.slots.set(index, name);
    }
    return name;
  }

  private hash(what: string): string {
    return keyedHash(this.secret, `${this.stateDir}\0${this.pool}\0${what}`);
  }
}

/** 32 hex digits of HMAC-SHA256 under the state dir's identity: a name no other user can compute. */
export function keyedHash(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex').slice(0, 32);
}

/**
 * Every abstract name bound right now by a socket that holds it (listening, or bound and not
 * connected), without a '@' in front and without padding; undefined where /proc is missing.
 * Accepted connections show their listener's name but do not hold it: they are left out.
 */
export function boundAbstractNames(): Set<string> | undefined {
  let table: string;
  try {
    table = fs.readFileSync('/proc/net/unix', 'latin1');
  } catch {
    return undefined;
  }
  const names = new Set<string>();
  // "Num RefCount Protocol Flags Type St Inode Path"; flags 00010000 = listening; St 01 = unconnected.
  for (let start = table.indexOf('\n') + 1; start > 0 && start < table.length; ) {
    let end = table.indexOf('\n', start);
    if (end === -1) end = table.length;
    const at = table.indexOf(' @', start);
    if (at !== -1 && at < end) {
      const fields = table.slice(start, at).trim().split(/\s+/);
      const listening = (parseInt(fields[3] ?? '0', 16) & 0x10000) !== 0;
      if (listening || fields[5] === '01') names.add(table.slice(at + 2, end).replace(/@+$/, ''));
    }
    start = end + 1;
  }
  return names;
}
