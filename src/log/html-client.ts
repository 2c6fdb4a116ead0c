// The script of the --html page, type-checked here and inlined into the page as its source
// text (String(timelineClient)): it must not refer to anything outside its own body.
// A canvas, not SVG: ten thousand bars stay one bitmap, redrawn in a few milliseconds.
import { drawBars } from './html-draw.js';

/** The data the page embeds (see html-page.ts): bars as columns, strings by index. */
export interface PageData {
  from: number;
  to: number;
  pools: { label: string; cap: number | null; slots: number[]; hiddenSlots: number; hiddenJobs: number }[];
  outcomes: string[];
  commands: string[];
  hosts: string[];
  bars: {
    pool: number[];
    row: number[];
    /** Start of the slot's hold through a --delay, or null. */
    held: (number | null)[];
    start: number[];
    end: number[];
    outcome: number[];
    command: number[];
    jobId: string[];
    attempt: number[];
    pid: number[];
    host: number[];
    exitCode: (number | null)[];
    signal: (string | null)[];
    tail: string[];
  };
  marks: { pool: number[]; ts: number[]; kind: string[]; reason: string[] };
}

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

  const pad = (v: number): string => String(v).padStart(2, '0');
  const clock = (ms: number, withMs: boolean): string => {
    const d = new Date(data.from + ms);
    const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return withMs ? `${t}.${String(d.getMilliseconds()).padStart(3, '0')}` : t;
  };
  const dateTime = (ms: number): string => {
    const d = new Date(data.from + ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms, true)}`;
  };
  /** An axis label: the date once ticks are days apart, the date and time over a long view. */
  const tick = (ms: number, step: number): string => {
    const d = new Date(data.from + ms);
    const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    if (step >= 864e5) return day;
    if (v1 - v0 > 864e5) return `${day.slice(5)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return clock(ms, step < 1000);
  };
  const human = (ms: number): string => {
    if (ms < 1000) return `${Math.round(ms)}ms`;
    if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
    const s = Math.floor(ms / 1000);
    return s < 3600 ? `${Math.floor(s / 60)}m${pad(s % 60)}s` : `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  };

  let plotW = 0;
  const xOf = (t: number): number => LABEL + ((t - v0) / (v1 - v0)) * plotW;
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

    // Axis: round steps, a grid line each.
    const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 6048e5, 2592e6, 31536e6];
    const step = steps.find((s) => (s / (v1 - v0)) * plotW >= 90) ?? 31536e6;
    const offset = new Date(data.from).getTimezoneOffset() * 60_000;
    ctx.fillStyle = '#555';
    ctx.textAlign = 'center';
    for (let t = Math.ceil((v0 + data.from - offset) / step) * step + offset - data.from; t <= v1; t += step) {
      const x = xOf(t);
      ctx.fillStyle = '#eceff3';
      ctx.fillRect(Math.round(x), AXIS - 4, 1, height - AXIS);
      ctx.fillStyle = '#555';
      ctx.fillText(tick(t, step), x, AXIS / 2);
    }
    ctx.textAlign = 'left';

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
    range.textContent = `${dateTime(v0)} – ${dateTime(v1)} (${human(v1 - v0)}), ${drawn} of ${n} jobs in view`;
  }

  function zoom(a: number, b: number): void {
    const lo = Math.max(0, Math.min(a, b));
    const hi = Math.min(span0, Math.max(a, b));
    if (hi - lo < 1) return;
    v0 = lo;
    v1 = hi;
    draw();
  }

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
    const host = data.hosts[b.host[best]];
    return [
      data.commands[b.command[best]],
      `job ${b.jobId[best]}${b.attempt[best] > 1 ? ` (attempt ${b.attempt[best]})` : ''}: ${data.outcomes[b.outcome[best]]}${how ? `, ${how}` : ''}`,
      `${dateTime(b.start[best])} – ${clock(b.end[best], true)} (${human(b.end[best] - b.start[best])})`,
      b.held[best] === null ? '' : `held its slot ${human(b.start[best] - (b.held[best] as number))} through --delay first`,
      `pid ${b.pid[best]}${host ? ` on ${host}` : ''}, slot ${data.pools[b.pool[best]].slots[b.row[best]]} of pool ${data.pools[b.pool[best]].label}`,
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
