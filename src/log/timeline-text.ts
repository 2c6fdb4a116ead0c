// --timeline: the slots of each pool over time, drawn in the terminal's width. A cell where
// several jobs meet shows the outcome that fills most of it, with failures, timeouts and kills
// weighed four times over: they stand out, yet a day of jobs in one column is not all red.
import type { ChalkInstance } from 'chalk';
import { formatDuration } from '../duration.js';
import { formatCap } from '../messages.js';
import { clip } from './format.js';
import type { Timeline } from './timeline-data.js';

interface Style {
  glyph: string;
  /** Index into a cell's weights. */
  kind: number;
  weight: number;
  paint: (c: ChalkInstance, s: string) => string;
}

/** Shades tell outcomes apart without colour too. */
const STYLES: Record<string, Style> = {
  ok: { glyph: '█', kind: 0, weight: 1, paint: (c, s) => c.green(s) },
  failed: { glyph: '▓', kind: 1, weight: 4, paint: (c, s) => c.red(s) },
  timeout: { glyph: '▒', kind: 2, weight: 4, paint: (c, s) => c.yellow(s) },
  killed: { glyph: '░', kind: 3, weight: 4, paint: (c, s) => c.magenta(s) },
  running: { glyph: '┅', kind: 4, weight: 1, paint: (c, s) => c.cyan(s) },
};
/** Any other outcome, such as `unknown`: a job whose warden died before logging its exit. */
const OTHER: Style = { glyph: '?', kind: 5, weight: 1, paint: (c, s) => c.dim(s) };
/** A slot held through a --delay, before its job started: drawn only where no job is. */
const HELD: Style = { glyph: '╌', kind: 6, weight: 0.25, paint: (c, s) => c.dim(s) };
const BY_KIND = [...Object.values(STYLES), OTHER, HELD];
const KINDS = BY_KIND.length;
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);
const MIN_PLOT = 8;

/** The drawing, or '' when there is nothing to draw (no job, wait or skip in the window). */
export function timelineText(t: Timeline, width: number, c: ChalkInstance): string {
  if (t.pools.length === 0) return '';
  const labels = t.pools.flatMap((p) => p.slots.map((s) => `slot ${s}`));
  const labelWidth = Math.max(8, ...labels.map((l) => l.length)) + 2;
  const plot = Math.max(MIN_PLOT, width - labelWidth - 2);
  const span = t.to - t.from;
  const col = (ms: number): number => Math.min(plot - 1, Math.max(0, Math.floor(((ms - t.from) / span) * plot)));
  const out: string[] = [];
  const frame = (label: string, cells: string): string => `${label.padStart(labelWidth - 1)} │${cells}│`;

  t.pools.forEach((pool, pi) => {
    out.push(c.bold(clip(`pool ${pool.label} (cap ${formatCap(pool.cap ?? Infinity)})`, width)));
    // Per row and column, how long each outcome fills the cell (an instant job still counts).
    const weights = pool.slots.map(() => new Float64Array(plot * KINDS));
    const cellMs = span / plot;
    const paint = (w: Float64Array, style: Style, start: number, end: number): void => {
      for (let x = col(start), last = col(end); x <= last; x++) {
        const lo = Math.max(start, t.from + x * cellMs);
        const hi = Math.min(end, t.from + (x + 1) * cellMs);
        w[x * KINDS + style.kind] += (Math.max(0, hi - lo) + cellMs / 1000) * style.weight;
      }
    };
    for (const b of t.bars) {
      if (b.pool !== pi || b.end < t.from || (b.held ?? b.start) > t.to) continue;
      if (b.held !== null && b.held < b.start) paint(weights[b.row], HELD, b.held, b.start);
      if (b.start <= t.to) paint(weights[b.row], STYLES[b.outcome] ?? OTHER, b.start, b.end);
    }
    pool.slots.forEach((slot, r) => {
      let cells = '';
      for (let x = 0; x < plot; x++) {
        let best = -1;
        for (let k = 0; k < KINDS; k++) if (weights[r][x * KINDS + k] > 0 && (best < 0 || weights[r][x * KINDS + k] > weights[r][x * KINDS + best])) best = k;
        cells += best < 0 ? ' ' : BY_KIND[best].paint(c, BY_KIND[best].glyph);
      }
      out.push(frame(`slot ${slot}`, cells));
    });
    if (pool.hiddenSlots) out.push(`${' '.repeat(labelWidth)} ${c.dim(`… ${pool.hiddenSlots} more slots (${pool.hiddenJobs} jobs) not drawn`)}`);
    for (const kind of ['wait', 'skip'] as const) {
      const marks = t.marks.filter((m) => m.pool === pi && m.kind === kind && m.ts >= t.from && m.ts <= t.to);
      if (!marks.length) continue;
      const cells = new Array<string>(plot).fill(' ');
      for (const m of marks) cells[col(m.ts)] = kind === 'wait' ? c.blue('w') : c.red('x');
      out.push(frame(kind === 'wait' ? 'waits' : 'skips', cells.join('')));
    }
  });
  out.push(...axis(t.from, span, plot, labelWidth));
  // [what it shows, its visible width]: the legend wraps to the width like the rest.
  const legend: [string, number][] = ['ok', 'failed', 'timeout', 'killed', 'running'].map((o) => [`${STYLES[o].paint(c, STYLES[o].glyph)} ${o}`, o.length + 2]);
  if (t.bars.some((b) => !STYLES[b.outcome])) legend.push([`${OTHER.paint(c, OTHER.glyph)} exit not logged`, 17]);
  if (t.bars.some((b) => b.held !== null)) legend.push([`${HELD.paint(c, HELD.glyph)} held for --delay`, 17]);
  legend.push([`${c.blue('w')} wait`, 6], [`${c.red('x')} skip`, 6]);
  const scale = `column ${formatDuration(span / plot)}`;
  legend.push([scale, scale.length]);
  let line = '';
  let used = 0;
  for (const [text, w] of legend) {
    if (used && used + 2 + w > width) {
      out.push(line);
      line = '';
      used = 0;
    }
    line += used ? `  ${text}` : text;
    used += used ? w + 2 : w;
  }
  out.push(line);
  return out.join('\n') + '\n';
}

/** A rule with ticks at a round step, and their times below it. */
function axis(from: number, span: number, plot: number, labelWidth: number): string[] {
  const withDate = new Date(from).toDateString() !== new Date(from + span).toDateString();
  const label = (ms: number, step: number): string => {
    const d = new Date(ms);
    const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    const time = step < 60_000 ? `${hm}:${String(d.getSeconds()).padStart(2, '0')}` : hm;
    return withDate ? `${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${time}` : time;
  };
  const sample = label(from, 1000).length + 2;
  const step = STEPS.find((s) => (s / span) * plot >= sample) ?? STEPS[STEPS.length - 1];
  const rule = new Array<string>(plot).fill('─');
  const text = new Array<string>(plot + labelWidth + 2).fill(' ');
  // Ticks on round local times (whole minutes, hours), as a clock shows them.
  const offset = new Date(from).getTimezoneOffset() * 60_000;
  for (let t = Math.ceil((from - offset) / step) * step + offset; t <= from + span; t += step) {
    const x = Math.floor(((t - from) / span) * plot);
    if (x < 0 || x >= plot) continue;
    rule[x] = '┬';
    const s = label(t, step);
    const at = labelWidth + 1 + x - Math.floor(s.length / 2);
    if (at < 0 || at + s.length > text.length || text.slice(Math.max(0, at - 1), at + s.length + 1).some((ch) => ch !== ' ')) continue;
    for (let i = 0; i < s.length; i++) text[at + i] = s[i];
  }
  return [`${' '.repeat(labelWidth)}└${rule.join('')}┘`, text.join('').trimEnd()];
}
