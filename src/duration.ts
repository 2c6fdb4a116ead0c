// Durations as people write them on a command line: 500ms, 30s, 3m, 1h30m, 1.5s, 2d.
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)/y;
/** Node timers cannot wait longer (a longer delay fires after 1 ms): about 24.8 days. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Milliseconds for a duration, or undefined when the text is not one. "0" alone is allowed.
 * `max`: the longest accepted (timers' limit by default; a span of history may be longer).
 */
export function parseDuration(text: string, max = MAX_DURATION_MS): number | undefined {
  const s = text.trim().toLowerCase();
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at) return undefined;
    total += Number(m[1]) * UNITS[m[2]];
  }
  return Number.isFinite(total) && total <= max ? Math.round(total) : undefined;
}

/** A short human form for logs: 850ms, 1.2s, 3m05s, 1h02m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
