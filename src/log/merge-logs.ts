// Every file's events, parsed, as one stream in time order: each file is already in order
// (appended as things happen), so a k-way merge of their heads keeps memory to a batch per file.
import { readLines } from './read-lines.js';
import type { LogSource } from './read-lines.js';
import { parseLine } from './parse-event.js';
import type { LogEvent } from './parse-event.js';

export type OnMalformed = (file: string, line: number, reason: string) => void;

const OUT_BATCH = 4096;

async function* fileEvents({ name: file, stream }: LogSource, onMalformed: OnMalformed): AsyncGenerator<LogEvent[]> {
  for await (const batch of readLines(stream)) {
    const events: LogEvent[] = [];
    for (const n of batch.tooLong) onMalformed(file, n, 'line too long');
    if (batch.broken) onMalformed(file, batch.first, batch.broken);
    for (let i = 0; i < batch.lines.length; i++) {
      const parsed = parseLine(batch.lines[i]);
      if (parsed === undefined) continue;
      if ('malformed' in parsed) onMalformed(file, batch.first + i, parsed.malformed);
      else events.push(parsed);
    }
    if (events.length) yield events;
  }
}

interface Head {
  source: AsyncGenerator<LogEvent[]>;
  batch: LogEvent[];
  at: number;
}

/** Batches of events from all files, merged by time. */
export async function* mergedEvents(files: LogSource[], onMalformed: OnMalformed): AsyncGenerator<LogEvent[]> {
  if (files.length === 1) {
    yield* fileEvents(files[0], onMalformed);
    return;
  }
  const heads: Head[] = [];
  for (const file of files) {
    const source = fileEvents(file, onMalformed);
    const first = await source.next();
    if (!first.done) heads.push({ source, batch: first.value, at: 0 });
  }
  let out: LogEvent[] = [];
  while (heads.length) {
    let min = 0;
    for (let i = 1; i < heads.length; i++) {
      if (heads[i].batch[heads[i].at].ts < heads[min].batch[heads[min].at].ts) min = i;
    }
    const head = heads[min];
    out.push(head.batch[head.at++]);
    if (head.at === head.batch.length) {
      const next = await head.source.next();
      if (next.done) heads.splice(min, 1);
      else {
        head.batch = next.value;
        head.at = 0;
      }
    }
    if (out.length >= OUT_BATCH) {
      yield out;
      out = [];
    }
  }
  if (out.length) yield out;
}
