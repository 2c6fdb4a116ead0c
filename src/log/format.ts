// Small formatting shared by the log's renderers: local times, padded tables.
import { formatDuration } from '../duration.js';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `2026-12-02 03:04:05` in local time, as `date` shows it. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export const durationOrDash = (ms: number | null): string => (ms === null ? '-' : formatDuration(ms));

/**
 * Control characters shown as `\xNN` instead of sent to the terminal: a log read from another
 * host or user could otherwise set the window title, clear the screen or write the clipboard.
 * Bidirectional overrides likewise (`\u202e`): they could make `gnp.exe` read as `exe.png`.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
}

/** Cut to `max` characters with an ellipsis, on one line, printable. */
export function clip(text: string, max: number): string {
  const one = printable(text.replace(/\s+/g, ' '));
  return one.length <= max ? one : `${one.slice(0, Math.max(1, max - 1))}…`;
}

/**
 * Rows of cells as aligned text: the first column and any listed in `left` are left-aligned,
 * the rest (figures) right-aligned. The first row is the header.
 */
export function table(cells: string[][], left: number[] = [0], indent = '  '): string[] {
  const rows = cells.map((r) => r.map(printable));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    (indent + r.map((cell, i) => (left.includes(i) ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).trimEnd(),
  );
}
