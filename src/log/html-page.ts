// --html FILE: one self-contained page (no network: styles, data and script inline) with the
// timeline on a canvas, each job's details on hover, zoom to a time range, and the summary.
import { timelineClient } from './html-client.js';
import { drawAxis, drawBars } from './html-draw.js';
import { pageFormats } from './html-format.js';
import type { PageData } from './html-page-data.js';
import type { Report } from './report.js';
import { summaryHeading, summarySections } from './summary-text.js';
import type { Timeline } from './timeline-data.js';

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:16px 20px;color:#222;background:#fff}
h1{font-size:18px;margin:0 0 4px}
p.meta{margin:2px 0;color:#555}
.bar{display:flex;gap:8px;align-items:center;margin:10px 0 6px;flex-wrap:wrap}
button{font:inherit;padding:2px 10px;border:1px solid #bbb;border-radius:4px;background:#f6f7f9;cursor:pointer}
.legend span{display:inline-flex;align-items:center;gap:4px;margin-right:10px;color:#444}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px}
#range{color:#555}
.wrap{position:relative;width:100%}
canvas{display:block;cursor:crosshair}
#brush{position:absolute;background:rgba(59,130,214,.15);border:1px solid rgba(59,130,214,.5);pointer-events:none}
#tip{position:absolute;z-index:2;max-width:560px;background:#fffffb;border:1px solid #bbb;border-radius:4px;padding:6px 8px;box-shadow:0 2px 8px rgba(0,0,0,.15);font-size:12px;pointer-events:none}
#tip .cmd{font-weight:600;font-family:ui-monospace,monospace;word-break:break-all}
#tip div{overflow-wrap:anywhere}
#tip pre{margin:4px 0 0;max-height:160px;overflow:hidden;white-space:pre-wrap;color:#444;border-top:1px solid #eee;padding-top:4px}
[hidden]{display:none!important}
table{border-collapse:collapse;margin:14px 0;font-size:13px}
th,td{padding:3px 10px;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}
th{background:#f3f5f8}
td.l,th.l{text-align:left}
td.l{max-width:420px;overflow:hidden;text-overflow:ellipsis;font-family:ui-monospace,monospace}
`;

const LEGEND: [string, string][] = [
  ['ok', '#2f9e55'],
  ['failed', '#d93b3b'],
  ['timeout', '#e3a008'],
  ['killed', '#8e5cc4'],
  ['running', '#3b82d6'],
];

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON safe inside a <script> element: no `</script>`, no comment openers. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

function pageData(t: Timeline): PageData {
  const index = <T>(values: T[]): ((v: T) => number) => {
    const at = new Map<T, number>();
    return (v) => {
      let i = at.get(v);
      if (i === undefined) at.set(v, (i = values.push(v) - 1));
      return i;
    };
  };
  const outcomes: string[] = [];
  const commands: string[] = [];
  const hosts: string[] = [];
  const outcome = index(outcomes);
  const command = index(commands);
  const host = index(hosts);
  const b = t.bars;
  return {
    from: t.from,
    to: t.to,
    pools: t.pools,
    outcomes,
    commands,
    hosts,
    bars: {
      pool: b.map((x) => x.pool),
      row: b.map((x) => x.row),
      held: b.map((x) => (x.held === null ? null : x.held - t.from)),
      start: b.map((x) => x.start - t.from),
      end: b.map((x) => x.end - t.from),
      outcome: b.map((x) => outcome(x.outcome)),
      command: b.map((x) => command(x.command)),
      jobId: b.map((x) => x.jobId),
      attempt: b.map((x) => x.attempt),
      pid: b.map((x) => x.pid),
      host: b.map((x) => host(x.host)),
      exitCode: b.map((x) => x.exitCode),
      signal: b.map((x) => x.signal),
      tail: b.map((x) => x.tail),
    },
    marks: {
      pool: t.marks.map((m) => m.pool),
      ts: t.marks.map((m) => m.ts - t.from),
      kind: t.marks.map((m) => m.kind),
      reason: t.marks.map((m) => m.reason),
    },
  };
}

function tables(r: Report): string {
  return summarySections(r)
    .map((section) => {
      const [head, ...rows] = section.rows;
      const cell = (tag: string, text: string, i: number): string => `<${tag}${section.left.includes(i) ? ' class="l"' : ''} title="${escapeHtml(text)}">${escapeHtml(text)}</${tag}>`;
      return `<table><thead><tr>${head.map((h, i) => cell('th', h, i)).join('')}</tr></thead><tbody>${rows
        .map((row) => `<tr>${row.map((c, i) => cell('td', c, i)).join('')}</tr>`)
        .join('')}</tbody></table>`;
    })
    .join('\n');
}

export function htmlPage(r: Report, t: Timeline): string {
  const heading = summaryHeading(r).map((l) => `<p class="meta">${escapeHtml(l)}</p>`).join('\n');
  const legend = LEGEND.map(([name, colour]) => `<span><i style="background:${colour}"></i>${name}</span>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>warden log: ${escapeHtml(r.files.join(', '))}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>warden log: ${escapeHtml(r.files.join(', '))}</h1>
${heading}
<div class="bar"><button id="zoom-in" type="button">Zoom in</button><button id="zoom-out" type="button">Zoom out</button><button id="zoom-reset" type="button">Whole log</button>
<span class="legend">${legend}${t.bars.some((b) => b.held !== null) ? '<span><b style="color:#9aa3ad">├─</b>slot held through --delay</span>' : ''}<span><b style="color:#3b82d6">▲</b>wait</span><span><b style="color:#d93b3b">✕</b>skip</span></span></div>
<p class="meta">${t.pools.length ? 'Drag across the timeline to zoom to a time range; hover over a job for its details.' : 'No job, wait or skip to draw in this window.'} <span id="range"></span></p>
<div class="wrap"><canvas id="timeline"></canvas><div id="brush" hidden></div></div>
<div id="tip" hidden></div>
${tables(r)}
<script type="application/json" id="timeline-data">${scriptJson(pageData(t))}</script>
<script>${[pageFormats, drawAxis, drawBars].map(String).join('\n')}
(${String(timelineClient)})();</script>
</body>
</html>
`;
}
