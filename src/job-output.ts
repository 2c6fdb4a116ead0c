// Where a job's output goes (relayed behind its id, drained, a file, the terminal), and the
// bounded tail of it that the exit record keeps. Output is read as it comes, so a flood never
// blocks the job and nothing grows with its size.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LineFramer, LineSplitter, TAIL_LINES, Tail, lastLinesStart, tailOfBytes } from './output.js';

export type OutputMode =
  | { kind: 'relay'; prefix: Buffer; write: (framed: Buffer) => void }
  | { kind: 'drain' }
  | { kind: 'file'; dir: string }
  | { kind: 'inherit' };

export const outputFile = (dir: string, jobId: string): string => path.join(dir, `${jobId}.log`);

/** Read the child's pipes as they come; returns the tail of what they said so far. */
export function drainOutput(child: ChildProcess, output: OutputMode, jobId: string): () => string {
  if (output.kind === 'file') return () => fileTail(output.dir, jobId);
  const tail = new Tail();
  const streams = [child.stdout, child.stderr].filter((s): s is NonNullable<typeof s> => s != null);
  for (const stream of streams) {
    const splitter = new LineSplitter();
    const framer = output.kind === 'relay' ? new LineFramer(output.prefix) : undefined;
    stream.on('data', (chunk: Buffer) => {
      if (framer && output.kind === 'relay') {
        const framed = framer.push(chunk);
        if (framed) output.write(framed);
      }
      // Only the last lines of a chunk can reach the tail: a flood is not split line by line.
      const from = lastLinesStart(chunk, TAIL_LINES);
      if (from > 0) splitter.reset();
      tail.add(splitter.push(from ? chunk.subarray(from) : chunk));
    });
    stream.on('close', () => {
      const rest = framer?.flush();
      if (rest && output.kind === 'relay') output.write(rest);
      tail.add(splitter.flush());
    });
  }
  return () => tail.text();
}

/** The last lines of a job's --output file. */
function fileTail(dir: string, jobId: string): string {
  try {
    const fd = fs.openSync(outputFile(dir, jobId), 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 8192);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return tailOfBytes(buf, size === len);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}
