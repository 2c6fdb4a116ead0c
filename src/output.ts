// Job output is drained as it comes: complete lines go to the reporter, a bounded tail is kept
// for the exit record, and nothing grows with the size of the output.

const MAX_LINE = 64 * 1024;
export const TAIL_LINES = 10;
const TAIL_LINE_CHARS = 400;
export const TRUNCATED = '…[truncated]';

/** Splits a byte stream into lines; an over-long line is cut into pieces rather than held. */
export class LineSplitter {
  private partial: Buffer[] = [];
  private partialLength = 0;

  /** Complete lines in this chunk (without their newline); a line over MAX_LINE comes in pieces. */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      // Hold what has no newline yet, but never more than MAX_LINE.
      while (end - start > MAX_LINE - this.partialLength) {
        const room = MAX_LINE - this.partialLength;
        lines.push(this.take(chunk.subarray(start, start + room)));
        start += room;
      }
      if (nl === -1) {
        if (end > start) {
          this.partial.push(chunk.subarray(start, end));
          this.partialLength += end - start;
        }
        break;
      }
      lines.push(this.take(chunk.subarray(start, nl)));
      start = nl + 1;
    }
    return lines;
  }

  /** Drop a held partial line (its end was in output that was skipped). */
  reset(): void {
    this.partial = [];
    this.partialLength = 0;
  }

  /** Whatever is left without a final newline. */
  flush(): Buffer[] {
    return this.partialLength ? [this.take(Buffer.alloc(0))] : [];
  }

  private take(end: Buffer): Buffer {
    if (!this.partialLength) return end;
    const line = Buffer.concat([...this.partial, end]);
    this.partial = [];
    this.partialLength = 0;
    return line;
  }
}

/** The last few lines of a job's output, each cut to a readable length. */
export class Tail {
  private lines: string[] = [];

  add(lines: Buffer[]): void {
    const from = Math.max(0, lines.length - TAIL_LINES);
    for (let i = from; i < lines.length; i++) {
      const line = lines[i];
      const text = line.length > TAIL_LINE_CHARS * 4 ? line.subarray(0, TAIL_LINE_CHARS * 4).toString('utf8') : line.toString('utf8');
      this.lines.push(text.length > TAIL_LINE_CHARS ? cut(text, TAIL_LINE_CHARS) + TRUNCATED : text);
    }
    if (this.lines.length > TAIL_LINES) this.lines.splice(0, this.lines.length - TAIL_LINES);
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/**
 * Where in a chunk the last `count` lines begin (0: from the start). The tail needs no more,
 * so a 200 MB flood is not split into millions of line objects just to keep ten.
 */
export function lastLinesStart(chunk: Buffer, count: number): number {
  let at = chunk.length;
  for (let k = 0; k <= count; k++) {
    at = chunk.lastIndexOf(10, at - 1);
    if (at <= 0) return 0;
  }
  return at + 1;
}

/**
 * Puts a prefix in front of every complete line, in one buffer per chunk; holds a partial line
 * (up to MAX_LINE) so that lines of concurrent jobs never interleave.
 */
export class LineFramer {
  private partial: Buffer[] = [];
  private partialLength = 0;

  constructor(private readonly prefix: Buffer) {}

  push(chunk: Buffer): Buffer | undefined {
    const last = chunk.lastIndexOf(10);
    if (last === -1) {
      this.hold(chunk);
      return this.partialLength >= MAX_LINE ? this.flush() : undefined;
    }
    let lines = 0;
    for (let i = chunk.indexOf(10); i !== -1 && i <= last; i = chunk.indexOf(10, i + 1)) lines++;
    const out = Buffer.allocUnsafe(this.partialLength + last + 1 + lines * this.prefix.length);
    let o = 0;
    let start = 0;
    for (let i = chunk.indexOf(10); i !== -1 && i <= last; i = chunk.indexOf(10, i + 1)) {
      o += this.prefix.copy(out, o);
      if (start === 0) for (const piece of this.partial) o += piece.copy(out, o);
      o += chunk.copy(out, o, start, i + 1);
      start = i + 1;
    }
    this.partial = [];
    this.partialLength = 0;
    this.hold(chunk.subarray(last + 1));
    return out.subarray(0, o);
  }

  /** The held partial line, ended with a newline (at the end of the stream, or when too long). */
  flush(): Buffer | undefined {
    if (!this.partialLength) return undefined;
    const out = Buffer.concat([this.prefix, ...this.partial, NEWLINE]);
    this.partial = [];
    this.partialLength = 0;
    return out;
  }

  private hold(piece: Buffer): void {
    if (!piece.length) return;
    this.partial.push(piece);
    this.partialLength += piece.length;
  }
}

const NEWLINE = Buffer.from('\n');

/** The tail of a file (for jobs whose output went to --output DIR). */
export function tailOfBytes(bytes: Buffer, fromStart: boolean): string {
  const tail = new Tail();
  // A read that began mid-file begins mid-line: drop that first piece.
  const text = fromStart ? bytes : bytes.subarray(bytes.indexOf(10) + 1);
  const lines = text.toString('utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  tail.add(lines.map((l) => Buffer.from(l)));
  return tail.text();
}

/** The first `n` UTF-16 units, one fewer if the last would split a surrogate pair. */
function cut(text: string, n: number): string {
  const code = text.charCodeAt(n - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}
