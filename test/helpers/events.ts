// Reading warden's JSON-lines events, for every kind of test: one parser, one event shape.

/** Why: one JSON log event; tests read only the fields SPEC.md promises. */
export interface LogEvent {
  event: string;
  ts: string;
  pid: number;
  [field: string]: unknown;
}

/** Why: JSON-lines text to events, skipping lines that are not warden events (job output, notices). */
export function parseEvents(text: string): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const v = JSON.parse(t) as unknown;
      if (v && typeof v === 'object' && typeof (v as { event?: unknown }).event === 'string') out.push(v as LogEvent);
    } catch {
      /* not an event */
    }
  }
  return out;
}

/** Why: the events of one kind (`spawn`, `exit`, ...), in log order. */
export function eventsNamed<E extends { event?: unknown }>(events: E[], name: string): E[] {
  return events.filter((e) => e.event === name);
}
