// The script of the --html page, type-checked here and inlined into the page as its source
// text (String(timelineClient)): it must not refer to anything outside its own body.
// A canvas, not SVG: ten thousand bars stay one bitmap, redrawn in a few milliseconds.
import { drawAxis, drawBars } from './html-draw.js';
import { pageFormats } from './html-format.js';
import type { PageData } from './html-page-data.js';

export function timelineClient(): void {
  const data = JSON.parse(document.getElementById('timeline-data')?.textContent ?? '{}') as PageData;
  const canvas = document.getElementById('timeline') as HTMLCanvasElement;
  const tip = document.getElementById('tip') as HTMLDivElement;
  const range = document.getElementById('range') as HTMLSpanElement;
  const brush = document.getElementById('brush') as HTMLDivElement;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const COLOURS: Record<string, string> = { ok: '#2f9e55', failed: '#d93b3b', timeout: '#e3a008', killed: '#8e5cc4', running: '#3b82d6' };
  const LABEL = 150;
  const AXIS = 30;
  const HEAD = 24;
  const ROW = 18;
  const MARKS = 16;
  const n = data.bars.start.length;
  const span0 = Math.max(1, data.to - data.from);
  let v0 = 0;
  let v1 = span0;

  type Line = { y: number; h: number; kind: 'head' | 'slot' | 'marks'; pool: number; row: number };
  const lines: Line[] = [];
  const slotY = new Map<string, number>();
  let y = AXIS;
  data.pools.forEach((p, pi) => {
    lines.push({ y, h: HEAD, kind: 'head', pool: pi, row: -1 });
    y += HEAD;
    p.slots.forEach((_, r) => {
      slotY.set(`${pi}:${r}`, y);
      lines.push({ y, h: ROW, kind: 'slot', pool: pi, row: r });
      y += ROW;
    });
    if (data.marks.pool.includes(pi)) {
      lines.push({ y, h: MARKS, kind: 'marks', pool: pi, row: -1 });
      y += MARKS;
    }
    y += 6;
  });
  const height = y + 4;

  // Per row, bar indexes by start: hovering searches one row, not every bar.
  const byRow = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = `${data.bars.pool[i]}:${data.bars.row[i]}`;
    const list = byRow.get(key) ?? [];
    list.push(i);
    byRow.set(key, list);
  }
  const from = (i: number): number => data.bars.held[i] ?? data.bars.start[i];
  for (const list of byRow.values()) list.sort((a, b) => from(a) - from(b));

  // What the drawing needs of each bar, worked out once: its row, its outcome group, its reach.
  const tops = new Float64Array(n);
  const members: number[][] = data.outcomes.map(() => []);
  let maxBefore = 0;
  let maxAfter = 0;
  for (let i = 0; i < n; i++) {
    tops[i] = slotY.get(`${data.bars.pool[i]}:${data.bars.row[i]}`) ?? NaN;
    members[data.bars.outcome[i]].push(i);
    maxBefore = Math.max(maxBefore, data.bars.start[i] - from(i));
    maxAfter = Math.max(maxAfter, data.bars.end[i] - data.bars.start[i]);
  }
  const groups = members.map((m) => Int32Array.from(m));
  const colours = data.outcomes.map((o) => COLOURS[o] ?? '#888');
  const marksY = new Map(lines.filter((l) => l.kind === 'marks').map((l) => [l.pool, l.y + l.h / 2]));
  const markMids = Float64Array.from(data.marks.pool, (p) => marksY.get(p) ?? NaN);

  const { clock, dateTime, human } = pageFormats(data.from);

  let plotW = 0;
  const tOf = (x: number): number => v0 + ((x - LABEL) / plotW) * (v1 - v0);

  function draw(): void {
    const began = performance.now();
    const width = Math.max(400, canvas.parentElement?.clientWidth ?? 800);
    const dpr = window.devicePixelRatio || 1;
    plotW = width - LABEL - 12;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';

    if (lines.length) drawAxis(ctx, data.from, v0, v1, LABEL, plotW, AXIS, height);

    for (const line of lines) {
      const pool = data.pools[line.pool];
      if (line.kind === 'head') {
        ctx.fillStyle = '#222';
        ctx.font = 'bold 13px system-ui, sans-serif';
        const cap = pool.cap === null ? 'unlimited' : String(pool.cap);
        const hidden = pool.hiddenSlots ? `, ${pool.hiddenSlots} more slots not drawn` : '';
        ctx.fillText(`pool ${pool.label} (cap ${cap}${hidden})`, 6, line.y + line.h / 2 + 2);
        ctx.font = '12px system-ui, sans-serif';
        continue;
      }
      ctx.fillStyle = line.row % 2 ? '#fafbfc' : '#f3f5f8';
      ctx.fillRect(LABEL, line.y, plotW, line.h);
      ctx.fillStyle = '#666';
      ctx.fillText(line.kind === 'slot' ? `slot ${pool.slots[line.row]}` : 'waits / skips', 16, line.y + line.h / 2);
    }

    const drawn = drawBars({ ctx, data, tops, markMids, groups, colours, maxBefore, maxAfter, v0, v1, plotX: LABEL, plotW, row: ROW });
    canvas.dataset.bars = String(drawn);

    canvas.dataset.drawMs = (performance.now() - began).toFixed(1);
    range.textContent = !lines.length ? '' : `${dateTime(v0)} – ${dateTime(v1)} (${human(v1 - v0)}), ${drawn} of ${n} jobs in view`;
  }

  function zoom(a: number, b: number): void {
    const lo = Math.max(0, Math.min(a, b));
    const hi = Math.min(span0, Math.max(a, b));
    if (hi - lo < 1) return;
    v0 = lo;
    v1 = hi;
    draw();
  }

  // A command of a hundred kilobytes would make a tooltip taller than the page, hiding the rest.
  const cut = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}…` : text);

  function hit(x: number, yy: number): string[] | undefined {
    const line = lines.find((l) => yy >= l.y && yy < l.y + l.h);
    if (!line || x < LABEL) return undefined;
    const t = tOf(x);
    const slack = (4 / plotW) * (v1 - v0);
    if (line.kind === 'marks') {
      for (let i = 0; i < data.marks.ts.length; i++) {
        if (data.marks.pool[i] === line.pool && Math.abs(data.marks.ts[i] - t) <= slack) {
          return [data.marks.kind[i] === 'wait' ? 'waited for a slot' : `skipped: ${data.marks.reason[i]}`, dateTime(data.marks.ts[i])];
        }
      }
      return undefined;
    }
    if (line.kind !== 'slot') return undefined;
    const list = byRow.get(`${line.pool}:${line.row}`) ?? [];
    let best = -1;
    for (const i of list) {
      if (from(i) > t + slack) break;
      if (data.bars.end[i] >= t - slack) best = i;
    }
    if (best < 0) return undefined;
    const b = data.bars;
    const how = b.exitCode[best] !== null ? `exit code ${b.exitCode[best]}` : b.signal[best] ? `signal ${b.signal[best]}` : '';
    const host = cut(data.hosts[b.host[best]], 120);
    return [
      cut(data.commands[b.command[best]], 300),
      `job ${b.jobId[best]}${b.attempt[best] > 1 ? ` (attempt ${b.attempt[best]})` : ''}: ${data.outcomes[b.outcome[best]]}${how ? `, ${how}` : ''}`,
      `${dateTime(b.start[best])} – ${clock(b.end[best], true)} (${human(b.end[best] - b.start[best])})`,
      b.held[best] === null ? '' : `held its slot ${human(b.start[best] - (b.held[best] as number))} through --delay first`,
      `pid ${b.pid[best]}${host ? ` on ${host}` : ''}, slot ${data.pools[b.pool[best]].slots[b.row[best]]} of pool ${cut(data.pools[b.pool[best]].label, 120)}`,
      b.tail[best],
    ];
  }

  let dragFrom: number | undefined;
  const local = (ev: MouseEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  };
  canvas.addEventListener('mousedown', (ev) => {
    const [x] = local(ev);
    if (x >= LABEL) dragFrom = x;
  });
  window.addEventListener('mouseup', (ev) => {
    if (dragFrom === undefined) return;
    const [x] = local(ev);
    const from = dragFrom;
    dragFrom = undefined;
    brush.hidden = true;
    if (Math.abs(x - from) > 4) zoom(tOf(from), tOf(Math.max(LABEL, Math.min(LABEL + plotW, x))));
  });
  canvas.addEventListener('mousemove', (ev) => {
    const [x, yy] = local(ev);
    if (dragFrom !== undefined) {
      // The selection is a box over the canvas: the bars are not redrawn while dragging.
      tip.hidden = true;
      const to = Math.max(LABEL, Math.min(LABEL + plotW, x));
      brush.style.left = `${Math.min(dragFrom, to)}px`;
      brush.style.width = `${Math.abs(to - dragFrom)}px`;
      brush.style.top = `${AXIS}px`;
      brush.style.height = `${height - AXIS}px`;
      brush.hidden = false;
      return;
    }
    const text = hit(x, yy);
    if (!text) {
      tip.hidden = true;
      return;
    }
    tip.replaceChildren(
      ...text.flatMap((s, i) => {
        if (s === '') return [];
        const el = document.createElement(i === 5 ? 'pre' : 'div');
        el.textContent = s;
        if (i === 0) el.className = 'cmd';
        return [el];
      }),
    );
    tip.hidden = false;
    const left = Math.min(ev.pageX + 14, document.documentElement.scrollWidth - tip.offsetWidth - 8);
    tip.style.left = `${Math.max(4, left)}px`;
    tip.style.top = `${ev.pageY + 14}px`;
  });
  canvas.addEventListener('mouseleave', () => (tip.hidden = true));
  const button = (id: string, fn: () => void): void => document.getElementById(id)?.addEventListener('click', fn);
  button('zoom-in', () => zoom(v0 + (v1 - v0) / 4, v1 - (v1 - v0) / 4));
  button('zoom-out', () => zoom(v0 - (v1 - v0) / 2, v1 + (v1 - v0) / 2));
  button('zoom-reset', () => zoom(0, span0));
  window.addEventListener('resize', () => draw());
  draw();
  document.body.dataset.jobs = String(n);
  document.body.dataset.ready = '1';
}
