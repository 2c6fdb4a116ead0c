// --config FILE: a JSON object of settings (camelCase keys, the same forms as the flags) and
// `jobs: [{run, delay}]`, read and checked into values; settings.ts merges them under the flags.
import fs from 'node:fs';
import { describeFsError, msg } from './messages.js';
import { parseText } from './options.js';
import type { OptionDef, Parsed, Value } from './options.js';

/** One job: its shell command and its delay after the trigger. */
export interface JobSpec {
  run: string;
  delayMs: number;
}

/** Option values by key, as read from flags, the environment or the file. */
export type Values = Map<string, Value>;

interface Loaded {
  values: Values;
  jobs?: JobSpec[];
}

export function loadConfig(file: string, defs: OptionDef[]): Loaded | { error: string } {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (err) {
    if (err instanceof ConfigTooLarge) return { error: msg.configTooLarge(file, CONFIG_MAX_BYTES) };
    if (err instanceof ConfigTooSlow) return { error: msg.configTooSlow(file, CONFIG_WAIT_MS) };
    return { error: msg.configUnreadable(file, describeFsError(err)) };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { error: msg.configNotJson(file, err instanceof Error ? err.message : String(err)) };
  }
  const where = (key: string): string => `--config ${file}: ${key}`;
  if (!isObject(data)) return { error: msg.wrongType(`--config ${file}`, 'a JSON object of settings') };

  const values: Values = new Map();
  let jobs: JobSpec[] | undefined;
  for (const [key, raw] of Object.entries(data)) {
    if (key === '$schema') continue;
    if (key === 'jobs') {
      const parsed = configJobs(raw, where);
      if ('error' in parsed) return parsed;
      jobs = parsed.jobs;
      continue;
    }
    const def = defs.find((d) => d.key === key && !d.cliOnly);
    if (!def) return { error: msg.unknownKey(where(key)) };
    const parsed = configValue(def, raw, where(key));
    if ('error' in parsed) return parsed;
    values.set(key, parsed.value);
  }
  if (jobs && values.has('job')) {
    const single = values.get('job');
    jobs = [...(Array.isArray(single) ? single : []).map((run) => ({ run, delayMs: -1 })), ...jobs];
    values.delete('job');
  } else if (values.has('job')) {
    const single = values.get('job');
    jobs = (Array.isArray(single) ? single : []).map((run) => ({ run, delayMs: -1 }));
    values.delete('job');
  }
  return { values, jobs };
}

/** `jobs: [{run, delay}]`; a job without a delay takes the file's or the flag's --delay (-1 here). */
function configJobs(raw: unknown, where: (key: string) => string): { jobs: JobSpec[] } | { error: string } {
  if (!Array.isArray(raw)) return { error: msg.wrongType(where('jobs'), 'a list of {"run": "...", "delay": "10m"}') };
  const jobs: JobSpec[] = [];
  for (const [i, item] of raw.entries()) {
    const at = where(`jobs[${i}]`);
    if (typeof item === 'string') {
      if (item.trim() === '') return { error: msg.emptyValue(at) };
      jobs.push({ run: item, delayMs: -1 });
      continue;
    }
    if (!isObject(item)) return { error: msg.wrongType(at, 'an object like {"run": "./mail.sh", "delay": "10m"}') };
    for (const key of Object.keys(item)) {
      if (key !== 'run' && key !== 'delay') return { error: msg.unknownKey(`${at}.${key}`) };
    }
    if (typeof item.run !== 'string') return { error: msg.wrongType(`${at}.run`, 'a shell command as a string') };
    if (item.run.trim() === '') return { error: msg.emptyValue(`${at}.run`) };
    let delayMs = -1;
    if (item.delay !== undefined) {
      if (typeof item.delay !== 'string' && item.delay !== 0) return { error: msg.wrongType(`${at}.delay`, 'a duration string such as "10m"') };
      const parsed = parseText({ key: 'delay', flag: '', kind: 'duration', commands: [], help: '' }, String(item.delay), `${at}.delay`);
      if ('error' in parsed) return parsed;
      delayMs = parsed.value as number;
    }
    jobs.push({ run: item.run, delayMs });
  }
  return { jobs };
}

function configValue(def: OptionDef, raw: unknown, where: string): Parsed {
  switch (def.kind) {
    case 'boolean':
      return typeof raw === 'boolean' ? { value: raw } : { error: msg.wrongType(where, 'true or false') };
    case 'count':
    case 'count-or-unlimited':
    case 'positive':
    case 'positive-or-unlimited':
      if (typeof raw === 'number') return parseText(def, String(raw), where);
      if (raw === 'unlimited' && def.kind.endsWith('unlimited')) return { value: Infinity };
      return { error: msg.wrongType(where, def.kind.endsWith('unlimited') ? 'a whole number or "unlimited"' : 'a whole number') };
    case 'optional-choice':
      if (typeof raw === 'boolean') return { value: raw };
      if (typeof raw === 'string' && def.choices?.includes(raw)) return { value: raw };
      return { error: msg.wrongType(where, `true, false or one of ${(def.choices ?? []).map((c) => JSON.stringify(c)).join(', ')}`) };
    case 'address':
      // A port alone may be written as a number: "metrics": 9464.
      return parseText(def, typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : '', where);
    case 'texts':
      if (typeof raw === 'string') return parseText(def, raw, where);
      if (Array.isArray(raw) && raw.length > 0 && raw.every((r) => typeof r === 'string' && r.trim() !== '')) return { value: raw as string[] };
      return { error: msg.wrongType(where, 'a shell command, or a list of them') };
    default:
      if (typeof raw !== 'string') return { error: msg.wrongType(where, def.kind.includes('duration') ? 'a duration string such as "30s"' : 'a string') };
      return parseText(def, raw, where);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Settings fit in far less; a bound keeps `--config /dev/zero` from eating the memory. */
const CONFIG_MAX_BYTES = 1024 * 1024;
/** How long a pipe (`--config <(...)`) may keep us waiting for its next bytes. */
const CONFIG_WAIT_MS = 5000;
class ConfigTooLarge extends Error {}
class ConfigTooSlow extends Error {}

/**
 * The file's text, read to its end but never past the bound. Opened non-blocking, so a FIFO
 * nobody writes reads as empty instead of hanging warden; a pipe with a writer is read as it
 * comes, waiting for it at most CONFIG_WAIT_MS at a time.
 */
function readConfigText(file: string): string {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    let waitedMs = 0;
    for (;;) {
      const buf = Buffer.alloc(64 * 1024);
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        if (waitedMs >= CONFIG_WAIT_MS) throw new ConfigTooSlow();
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        waitedMs += 10;
        continue;
      }
      if (n === 0) break;
      waitedMs = 0;
      total += n;
      if (total > CONFIG_MAX_BYTES) throw new ConfigTooLarge();
      chunks.push(buf.subarray(0, n));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}
