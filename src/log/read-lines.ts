// Reads a log file as batches of lines without ever holding more than a chunk and one line:
// a log of any size streams through, and a line longer than the limit (a torn or hostile file)
// is reported and skipped instead of growing the buffer.
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
  /** Why the rest of the stream could not be read (a truncated or corrupt gzip, an I/O error). */
  broken?: string;
}

export interface LogSource {
  name: string;
  stream: AsyncIterable<Buffer | string>;
}

/**
 * Opens a log now (so a wrong name fails before anything is read) and reads it once: a pipe
 * (`<(zcat old.gz)`) cannot be opened twice. `-` is standard input. Throws the file system's
 * error (ENOENT, EACCES, EISDIR).
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
  return { name: file, stream: decompressed(raw as AsyncIterable<Buffer>) };
}

/**
 * The text of a log, gunzipped when its bytes say gzip (whatever its name: `app.log.1` may be
 * compressed, `x.gz` may not be). Concatenated gzip members read as one text.
 */
async function* decompressed(raw: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  const source = raw[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  // The magic is two bytes; a pipe may hand over one at a time.
  while (head.length < 2) {
    const next = await source.next();
    if (next.done) {
      if (head.length) yield head;
      return;
    }
    head = Buffer.concat([head, Buffer.from(next.value)]);
  }
  const rest = async function* (): AsyncGenerator<Buffer> {
    yield head;
    for (let next = await source.next(); !next.done; next = await source.next()) yield Buffer.from(next.value);
  };
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    yield* rest();
    return;
  }
  const gunzip = zlib.createGunzip({ chunkSize: CHUNK });
  // pipeline ends the gunzip with the reader's error, or with its own (a truncated file).
  void pipeline(Readable.from(rest()), gunzip).catch(() => undefined);
  yield* gunzip as AsyncIterable<Buffer>;
}

/**
 * The lines of a stream, a chunk's worth at a time; a last line without a newline counts too.
 * A stream that fails midway (a truncated .gz, a read error) ends with a batch saying why; the
 * line it was in is not given, as it may be cut short.
 */
export async function* readLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<LineBatch> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let dropping = false;
  let lineNo = 1;
  const chunks = stream[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Buffer | string>;
    try {
      next = await chunks.next();
    } catch (err) {
      yield { first: lineNo, lines: [], tooLong: [], broken: readError(err) };
      return;
    }
    if (next.done) break;
    const chunk = next.value;
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

function readError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  // zlib's own words ("unexpected end of file", "incorrect header check") say it well enough.
  return `unreadable from here: ${e.code?.startsWith('Z_') ? e.message : (e.code ?? e.message)}`;
}
