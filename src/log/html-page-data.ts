// The shape of the data the --html page embeds: built by html-page.ts, read by the page's script.
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
