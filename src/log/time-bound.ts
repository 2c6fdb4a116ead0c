// --since / --until: an ISO time, or a duration meaning that long ago ("2h" = two hours ago).
import { parseDuration } from '../duration.js';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
/** A century of history is plenty, and keeps the sum a safe number. */
const MAX_AGO = 100 * 365 * 86_400_000;

/**
 * Epoch milliseconds for `text`, or undefined when it is not a time. A time without a zone
 * is local time; a date alone is its local midnight. `now` is the reference for durations.
 */
export function parseTimeBound(text: string, now: number): number | undefined {
  const s = text.trim();
  if (s.toLowerCase() === 'now') return now;
  const ago = parseDuration(s, MAX_AGO);
  if (ago !== undefined) return now - ago;
  const m = ISO.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h = '0', mi = '0', sec = '0'] = m.slice(1, 7);
  const ms = m[7] ? Math.round(Number(`0${m[7]}`) * 1000) : 0;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms] as const;
  const zone = m[8];
  let t: number;
  if (zone === undefined) t = new Date(...parts).getTime();
  else {
    const offset = zone.toUpperCase() === 'Z' ? 0 : zoneMinutes(zone);
    if (offset === undefined) return undefined;
    t = Date.UTC(...parts) - offset * 60_000;
  }
  // Date rolls 2026-02-31 over into March: only fields that round-trip are a real time.
  const back = zone === undefined ? new Date(t) : new Date(Date.UTC(...parts));
  const fields = zone === undefined
    ? [back.getFullYear(), back.getMonth(), back.getDate(), back.getHours(), back.getMinutes(), back.getSeconds()]
    : [back.getUTCFullYear(), back.getUTCMonth(), back.getUTCDate(), back.getUTCHours(), back.getUTCMinutes(), back.getUTCSeconds()];
  // A local time skipped by a DST change moves by an hour: still the time the user meant to name.
  const same = fields.every((v, i) => v === parts[i] || (zone === undefined && i === 3));
  return Number.isFinite(t) && same ? t : undefined;
}

/** An offset such as +05:30 in minutes; undefined past ±23:59, which is no offset at all. */
function zoneMinutes(zone: string): number | undefined {
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const [h, m] = [Number(digits.slice(0, 2)), Number(digits.slice(2))];
  return h > 23 || m > 59 ? undefined : sign * (h * 60 + m);
}
