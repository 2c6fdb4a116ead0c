// Human lines for events: one line per event, colour only where the reporter allows it.
import type { ChalkInstance } from 'chalk';
import { formatDuration } from '../duration.js';
import type { Stamped } from '../events.js';
import { formatCap } from '../messages.js';

export function formatPretty(e: Stamped, c: ChalkInstance): string {
  const time = c.dim(e.ts.slice(11, 19));
  const head = (label: string, paint: (s: string) => string): string => `${time} ${paint(label.padEnd(5))}`;
  switch (e.event) {
    case 'start':
      return `${head('start', c.cyan)} warden ${e.version} ${e.mode}: pool ${c.bold(e.pool)} (max ${formatCap(e.maxLive ?? Infinity)} live, ${e.backend})${e.schedule ? `, ${e.schedule}` : ''}`;
    case 'check': {
      const paint = e.outcome === 'fired' ? c.green : e.outcome === 'idle' ? c.dim : c.red;
      const how = e.signal ? `signal ${e.signal}` : e.exitCode === null ? '' : `exit ${e.exitCode}`;
      const count = e.outcome === 'fired' && e.triggers > 1 ? `, ${e.triggers} triggers` : '';
      const change = e.changed === undefined ? '' : e.changed ? ', changed' : ', unchanged';
      const lines = e.stderr ? indentTail(e.stderr, c) : '';
      return `${head('check', paint)} #${e.tick} ${paint(e.outcome)} (${[how, formatDuration(e.durationMs)].filter(Boolean).join(', ')}${count}${change})${lines}`;
    }
    case 'spawn':
      return `${head('spawn', c.blue)} ${c.bold(e.jobId)} pid ${e.jobPid ?? '-'} slot ${e.slot}${e.token !== undefined ? ` token ${e.token}` : ''}${e.attempt > 1 ? ` attempt ${e.attempt}` : ''}: ${e.command}${e.item !== undefined ? c.dim(` [${e.item}]`) : ''}`;
    case 'exit': {
      const paint = e.outcome === 'ok' ? c.green : c.red;
      const how = e.error ?? (e.signal ? `signal ${e.signal}` : `exit ${e.exitCode}`);
      const extra = [e.forced ? 'forced with SIGKILL' : '', e.leftover ? 'processes of its group live on' : '']
        .filter(Boolean)
        .join(', ');
      const tail = e.outcome === 'ok' ? '' : indentTail(e.tail, c);
      return `${head('exit', paint)} ${c.bold(e.jobId)} ${paint(e.outcome)} (${how}, ${formatDuration(e.durationMs)}${extra ? `, ${extra}` : ''}): ${e.command}${tail}`;
    }
    case 'skip':
      return `${head('skip', c.yellow)} #${e.tick} ${e.reason}${e.lateMs !== undefined ? ` (${formatDuration(e.lateMs)} late)` : ''}${e.command ? `: ${e.command}` : ''}${e.item !== undefined ? c.dim(` [${e.item}]`) : ''}`;
    case 'wait':
      return `${head('wait', c.yellow)} pool ${e.pool} is full (${e.live}/${formatCap(e.maxLive ?? Infinity)}); waiting for a slot`;
    case 'retry':
      return `${head('retry', c.yellow)} ${c.bold(e.jobId)} attempt ${e.attempt} in ${formatDuration(e.delayMs)}`;
    case 'delay':
      return `${head('delay', c.dim)} ${c.bold(e.jobId)} starts in ${formatDuration(e.delayMs)} (${e.dueAt.slice(11, 19)}${e.spoolId ? `, spooled as ${e.spoolId}` : ''}): ${e.command}${e.item !== undefined ? c.dim(` [${e.item}]`) : ''}`;
    case 'resume':
      return `${head('resume', c.cyan)} ${c.bold(e.jobId)} due ${e.dueAt.slice(11, 19)}${e.lateMs > 0 ? `, ${formatDuration(e.lateMs)} late` : ''} (from the spool, ${e.spoolId}): ${e.command}${e.item !== undefined ? c.dim(` [${e.item}]`) : ''}`;
    case 'stop': {
      const running = (e.running ?? []).map((r) => `\n    ${r.jobId} pid ${r.jobPid ?? '-'} running ${formatDuration(r.runningMs)}: ${r.command}`).join('');
      return `${head('stop', c.cyan)} ${e.reason}${e.liveJobs ? `; ${e.liveJobs} job${e.liveJobs === 1 ? '' : 's'} still running` : ''}${running}`;
    }
    case 'lease-lost':
      return `${head('lease', c.red)} ${e.jobId ? c.bold(e.jobId) : 'a job'}${e.jobPid ? ` pid ${e.jobPid}` : ''} lost its lease in pool ${e.pool} (${e.cause}, token ${e.token}, held ${formatDuration(e.heldMs)})`;
    case 'error':
      return `${head('error', c.red)} ${e.message}`;
  }
}

function indentTail(tail: string, c: ChalkInstance): string {
  if (!tail) return '';
  return tail
    .split('\n')
    .map((line) => `\n    ${c.dim('|')} ${line}`)
    .join('');
}
