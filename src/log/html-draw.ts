// The bars and marks of the --html page's canvas. Like html-client.ts it is inlined as its
// source text, so it refers to nothing outside its body. Built for a quarter of a million bars:
// bars are grouped by outcome (one fill colour per pass) and each group is searched by start
// time, so a zoomed view touches only the bars it shows.
import type { PageData } from './html-page-data.js';
import { pageFormats } from './html-format.js';

export interface BarView {
  ctx: CanvasRenderingContext2D;
  data: PageData;
  /** Each bar's row top (NaN: not drawn) and each mark's row middle (NaN: none). */
  tops: Float64Array;
  markMids: Float64Array;
  /** Bar indexes per outcome, in start order; colour per outcome. */
  groups: Int32Array[];
  colours: string[];
  /** The longest any bar reaches before its start (its delay's hold) and after it. */
  maxBefore: number;
  maxAfter: number;
  v0: number;
  v1: number;
  plotX: number;
  plotW: number;
  row: number;
}

/** Draws every bar in view; returns how many that is. */
export function drawBars(v: BarView): number {
  const { ctx, data } = v;
  const b = data.bars;
  const scale = v.plotW / (v.v1 - v.v0);
  const right = v.plotX + v.plotW;
  const xOf = (t: number): number => v.plotX + (t - v.v0) * scale;
  /** First position in `group` whose bar starts at or after `t`. */
  const first = (group: Int32Array, t: number): number => {
    let lo = 0;
    let hi = group.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b.start[group[mid]] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const visible = (i: number): boolean => !Number.isNaN(v.tops[i]) && b.end[i] >= v.v0 && (b.held[i] ?? b.start[i]) <= v.v1;

  let drawn = 0;
  const edges: number[] = [];
  v.groups.forEach((group, o) => {
    const held: number[] = [];
    ctx.fillStyle = v.colours[o];
    for (let k = first(group, v.v0 - v.maxAfter); k < group.length; k++) {
      const i = group[k];
      if (b.start[i] > v.v1 + v.maxBefore) break;
      if (!visible(i)) continue;
      drawn++;
      const h = b.held[i];
      if (h !== null && h < b.start[i]) held.push(i);
      if (b.start[i] > v.v1) continue;
      const x0 = Math.max(v.plotX, xOf(b.start[i]));
      const w = Math.max(1, Math.min(right, xOf(b.end[i])) - x0);
      ctx.fillRect(x0, v.tops[i] + 3, w, v.row - 6);
      if (w >= 4) edges.push(x0, v.tops[i]);
    }
    // The slot held through a delay: a thin line from the trigger up to the job.
    ctx.fillStyle = '#9aa3ad';
    for (const i of held) {
      const x0 = Math.max(v.plotX, xOf(b.held[i] as number));
      const x1 = Math.min(right, xOf(b.start[i]));
      ctx.fillRect(x0, v.tops[i] + v.row / 2 - 1, Math.max(1, x1 - x0), 2);
      ctx.fillRect(x0, v.tops[i] + 5, 1, v.row - 10);
    }
  });
  // A pale edge where a bar starts tells back-to-back jobs apart.
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  for (let k = 0; k < edges.length; k += 2) ctx.fillRect(edges[k], edges[k + 1] + 3, 1, v.row - 6);

  const m = data.marks;
  for (let i = 0; i < m.ts.length; i++) {
    const mid = v.markMids[i];
    if (m.ts[i] < v.v0 || m.ts[i] > v.v1 || Number.isNaN(mid)) continue;
    const x = xOf(m.ts[i]);
    ctx.beginPath();
    if (m.kind[i] === 'wait') {
      ctx.fillStyle = '#3b82d6';
      ctx.moveTo(x, mid - 5);
      ctx.lineTo(x + 4, mid + 4);
      ctx.lineTo(x - 4, mid + 4);
      ctx.fill();
    } else {
      ctx.strokeStyle = '#d93b3b';
      ctx.lineWidth = 2;
      ctx.moveTo(x - 4, mid - 4);
      ctx.lineTo(x + 4, mid + 4);
      ctx.moveTo(x + 4, mid - 4);
      ctx.lineTo(x - 4, mid + 4);
      ctx.stroke();
    }
  }
  return drawn;
}

/** The time axis: labels at a round step (whole seconds, minutes, hours, days), a grid line each. */
export function drawAxis(ctx: CanvasRenderingContext2D, from: number, v0: number, v1: number, plotX: number, plotW: number, top: number, height: number): void {
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 6048e5, 2592e6, 31536e6];
  const step = steps.find((s) => (s / (v1 - v0)) * plotW >= 90) ?? 31536e6;
  const { tick } = pageFormats(from);
  // Round in local time: ticks on whole hours and days as the reader's clock has them.
  const offset = new Date(from).getTimezoneOffset() * 60_000;
  ctx.textAlign = 'center';
  for (let t = Math.ceil((v0 + from - offset) / step) * step + offset - from; t <= v1; t += step) {
    const x = plotX + ((t - v0) / (v1 - v0)) * plotW;
    ctx.fillStyle = '#eceff3';
    ctx.fillRect(Math.round(x), top - 4, 1, height - top);
    ctx.fillStyle = '#555';
    ctx.fillText(tick(t, step, v1 - v0), x, top / 2);
  }
  ctx.textAlign = 'left';
}
