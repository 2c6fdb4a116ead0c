// Job output is drained as it comes: complete lines go to the reporter, a bounded tail is kept
// for the exit record, and nothing grows with the size of the output.

const MAX_LINE = 64 * 1024;
const TAIL_LINES = 10;
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
