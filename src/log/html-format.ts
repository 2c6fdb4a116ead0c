// Times and durations as the --html page shows them, in the reader's local time. Inlined into
// the page as its source text, like html-client.ts: it refers to nothing outside its body.

export interface PageFormats {
  /** 03:04:05, or 03:04:05.250 with milliseconds. */
  clock(ms: number, withMs: boolean): string;
  dateTime(ms: number): string;
  /** An axis label: the date once ticks are days apart, date and time over a view of days. */
  tick(ms: number, step: number, viewMs: number): string;
  human(ms: number): string;
}

/** Formatters for times given as milliseconds after `from` (epoch milliseconds). */
export function pageFormats(from: number): PageFormats {
  const pad = (v: number): string => String(v).padStart(2, '0');
  const day = (d: Date): string => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const clock = (ms: number, withMs: boolean): string => {
    const d = new Date(from + ms);
    const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    return withMs ? `${t}.${String(d.getMilliseconds()).padStart(3, '0')}` : t;
  };
  return {
    clock,
    dateTime: (ms) => `${day(new Date(from + ms))} ${clock(ms, true)}`,
    tick: (ms, step, viewMs) => {
      const d = new Date(from + ms);
      if (step >= 864e5) return day(d);
      if (viewMs > 864e5) return `${day(d).slice(5)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
      return clock(ms, step < 1000);
    },
    human: (ms) => {
      if (ms < 1000) return `${Math.round(ms)}ms`;
      if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
      const s = Math.floor(ms / 1000);
      return s < 3600 ? `${Math.floor(s / 60)}m${pad(s % 60)}s` : `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
    },
  };
}
