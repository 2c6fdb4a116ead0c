// Reads a log file as batches of lines without ever holding more than a chunk and one line:
// a log of any size streams through, and a line longer than the limit (a torn or hostile file)
// is reported and skipped instead of growing the buffer.
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import zlib from 'node:zlib';

/** Longer lines are not events warden writes (an exit's tail is at most ~4 KB). */
export const MAX_LINE = 1 << 20;
const CHUNK = 1 << 16;

export interface LineBatch {
  /** Line number (1-based) of lines[0]. */
  first: number;
  lines: string[];
  /** Line numbers of lines dropped for their length (left empty in `lines`). */
  tooLong: number[];
}

export interface LogSource {
  name: string;
  stream: AsyncIterable<Buffer | string>;
}

/**
 * Opens a log now (so a wrong name fails before anything is read) and reads it once: a pipe
 * (`<(zcat old.gz)`) cannot be opened twice. `-` is standard input; `.gz` is decompressed.
 * Throws the file system's error (ENOENT, EACCES, EISDIR).
 */
export function openLog(file: string): LogSource {
  let raw: NodeJS.ReadableStream;
  if (file === '-') raw = process.stdin;
  else {
    const fd = fs.openSync(file, 'r');
    if (fs.fstatSync(fd).isDirectory()) {
      fs.closeSync(fd);
      throw Object.assign(new Error(`${file} is a folder`), { code: 'EISDIR' });
    }
    raw = fs.createReadStream('', { fd, highWaterMark: CHUNK });
  }
  const stream = file.endsWith('.gz') ? raw.pipe(zlib.createGunzip({ chunkSize: 64 * 1024 })) : raw;
  return { name: file, stream: stream as AsyncIterable<Buffer> };
}

/** The lines of a stream, a chunk's worth at a time; a last line without a newline counts too. */
export async function* readLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<LineBatch> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let dropping = false;
  let lineNo = 1;
  for await (const chunk of stream) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    const batch: LineBatch = { first: lineNo, lines: [], tooLong: [] };
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) break;
      // A dropped line keeps its place as an empty line, which readers pass over.
      const line = dropping ? '' : carry + text.slice(start, nl);
      carry = '';
      if (dropping || line.length > MAX_LINE) {
        batch.tooLong.push(lineNo);
        batch.lines.push('');
        dropping = false;
      } else batch.lines.push(line);
      lineNo++;
      start = nl + 1;
    }
    if (!dropping) {
      carry += text.slice(start);
      if (carry.length > MAX_LINE) {
        carry = '';
        dropping = true;
      }
    }
    if (batch.lines.length || batch.tooLong.length) yield batch;
  }
  const rest = carry + decoder.end();
  if (dropping) yield { first: lineNo, lines: [''], tooLong: [lineNo] };
  else if (rest.length) yield { first: lineNo, lines: [rest], tooLong: [] };
}
