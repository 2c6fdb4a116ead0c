// `warden status`: every pool in the state dir, its cap, its live holders and free slots.
// The kernel says which slots are held; holder records only describe them.
import { formatDuration } from '../duration.js';
import { formatCap, msg } from '../messages.js';
import { listPools, poolDir, readMeta } from '../pool/holders.js';
import { processAlive } from '../process-group.js';
import { openPool } from '../pool/open-pool.js';
import type { PoolBackend, SlotState } from '../pool/pool.js';
import { Sink } from '../report/sink.js';
import type { Settings } from '../settings.js';
import { EXIT } from '../exit.js';
import { checkExistingStateDir } from './common.js';
import { durableDirFor } from '../durable-dir.js';
import { FileSpool, spoolPools } from '../spool/spool.js';
import { SPOOLED_COLUMNS, spooledRow, spooledViews } from '../spool/spooled-view.js';
import type { SpooledJobView } from '../spool/spooled-view.js';

export interface SlotView {
  slot: number;
  pid: number | null;
  /** The recorded holder process still exists (else its descendants hold the slot). */
  pidAlive: boolean;
  jobId: string | null;
  command: string | null;
  owner: number | null;
  startedAt: string | null;
  runningMs: number | null;
}

export interface PoolView {
  name: string;
  backend: PoolBackend;
  maxLive: number | null;
  live: number;
  free: number | null;
  /** Every cap that processes using this pool declared; more than one is a mismatch. */
  maxLiveValues: (number | null)[];
  mismatch: boolean;
  holders: SlotView[];
  /** Delayed jobs in the pool's spool, the soonest first. */
  spooled: SpooledView[];
}

export interface SpooledView extends SpooledJobView {
  /** The process that accepted it. */
  owner: number;
}

function spooledJobs(stateDir: string, pool: string): Promise<SpooledView[]> {
  return spooledViews(new FileSpool(durableDirFor(stateDir).dir, pool, stateDir), (e) => ({ owner: e.owner }), { owner: 0 });
}

/** `status --drop ID`: remove a spooled job so that it never runs. */
export async function dropSpooled(stateDir: string, id: string, only?: string): Promise<SpooledView | undefined> {
  for (const name of only ? [only] : knownPools(stateDir)) {
    const view = (await spooledJobs(stateDir, name)).find((v) => v.id === id);
    if (view && (await new FileSpool(durableDirFor(stateDir).dir, name, stateDir).remove(id))) return view;
  }
  return undefined;
}

/** Pools of the state dir, and those with delayed jobs kept where a reboot does not empty it. */
function knownPools(stateDir: string): string[] {
  const names = new Set(listPools(stateDir));
  for (const name of spoolPools(durableDirFor(stateDir).dir)) names.add(name);
  return [...names].sort();
}

export async function inspectPools(stateDir: string, only?: string): Promise<PoolView[]> {
  const names = knownPools(stateDir).filter((n) => only === undefined || n === only);
  const views: PoolView[] = [];
  for (const name of names) {
    const meta = readMeta(poolDir(stateDir, name));
    if (!meta) {
      // Nothing live (a reboot emptied the state dir), only delayed jobs waiting for a warden.
      const spooled = await spooledJobs(stateDir, name);
      if (spooled.length) views.push({ name, backend: 'socket', maxLive: null, live: 0, free: null, maxLiveValues: [], mismatch: false, holders: [], spooled });
      continue;
    }
    const { backend, states } = await heldStates(stateDir, name, meta.maxLive, meta.backend);
    const now = Date.now();
    const holders: SlotView[] = states
      .filter((s) => s.held)
      .map((s) => {
        const h = s.holder;
        return {
          slot: s.slot,
          pid: h?.pid ?? null,
          pidAlive: h ? processAlive(h.pid) : false,
          jobId: h?.jobId ?? null,
          command: h?.command ?? null,
          owner: h?.owner ?? null,
          startedAt: h?.startedAt ?? null,
          runningMs: h ? Math.max(0, now - Date.parse(h.startedAt)) : null,
        };
      });
    const caps = new Set<number>([meta.maxLive, ...states.flatMap((s) => (s.held && s.holder ? [s.holder.maxLive] : []))]);
    const cap = Math.max(...caps);
    views.push({
      name,
      backend,
      maxLive: Number.isFinite(cap) ? cap : null,
      live: holders.length,
      free: Number.isFinite(cap) ? Math.max(0, cap - holders.filter((h) => h.slot < cap).length) : null,
      maxLiveValues: [...caps].sort((a, b) => a - b).map((c) => (Number.isFinite(c) ? c : null)),
      mismatch: caps.size > 1,
      holders,
      spooled: await spooledJobs(stateDir, name),
    });
  }
  return views;
}

/**
 * The pool's slots as its recorded backend sees them, or as the other backend does when only
 * that one has slots held: pool.json names the backend of the last process to open the pool,
 * which may be one that was turned away for using the other backend.
 */
async function heldStates(stateDir: string, name: string, maxLive: number, recorded: PoolBackend): Promise<{ backend: PoolBackend; states: SlotState[] }> {
  const upTo = Number.isFinite(maxLive) ? maxLive : 0;
  const look = (backend: PoolBackend): Promise<SlotState[]> => openPool({ name, maxLive, stateDir, backend, inspectOnly: true }).inspect(upTo);
  const states = await look(recorded);
  if (states.some((s) => s.held)) return { backend: recorded, states };
  const other: PoolBackend = recorded === 'socket' ? 'flock' : 'socket';
  const others = await look(other);
  return others.some((s) => s.held) ? { backend: other, states: others } : { backend: recorded, states };
}

/** `only`: the pool named with --pool (or WARDEN_POOL); all pools otherwise. */
export async function statusCommand(settings: Settings, only: string | undefined): Promise<number> {
  if (settings.redis) return (await import('./status-fleet.js')).fleetStatus(settings, only);
  // What status shows is all it does: a report that could not be written (a full disk) is a
  // failure, not exit 0 with an empty file. A reader that stopped reading (`| head`) is not.
  let lost: string | undefined;
  const out = new Sink(1, 'stdout', (_what, why, code) => {
    if (code !== 'EPIPE') lost ??= why;
  });
  const code = await showStatus(settings, only, out);
  if (lost === undefined) return code;
  new Sink(2, 'stderr', () => undefined).write(msg.statusUnwritten(lost) + '\n');
  return EXIT.software;
}

async function showStatus(settings: Settings, only: string | undefined, out: Sink): Promise<number> {
  if (settings.drop !== undefined) {
    const dropped = await dropSpooled(settings.stateDir, settings.drop, only);
    if (!dropped) {
      new Sink(2, 'stderr', () => undefined).write(msg.usageError(msg.noSpooledJob(settings.drop, durableDirFor(settings.stateDir).dir)) + '\n');
      return EXIT.failed;
    }
    out.write(settings.json ? JSON.stringify({ dropped }, null, 2) + '\n' : msg.droppedSpooled(dropped.id, dropped.jobId, dropped.command, dropped.held) + '\n');
    return EXIT.ok;
  }
  // A state dir a reboot emptied has no pools, but the spool may still hold delayed jobs.
  checkExistingStateDir(settings.stateDir);
  const pools = await inspectPools(settings.stateDir, only);
  if (settings.json) {
    out.write(JSON.stringify({ stateDir: settings.stateDir, spoolDir: durableDirFor(settings.stateDir).dir, pools }, null, 2) + '\n');
    return EXIT.ok;
  }
  if (!pools.length) {
    out.write((only ? msg.noSuchPool(only, settings.stateDir) : msg.noPools(settings.stateDir)) + '\n');
    return EXIT.ok;
  }
  const spoolDir = durableDirFor(settings.stateDir).dir;
  out.write(pools.map((p) => renderPool(p, spoolDir)).join('\n') + '\n');
  return EXIT.ok;
}

function renderPool(p: PoolView, spoolDir: string): string {
  const cap = formatCap(p.maxLive ?? Infinity);
  const lines = [p.maxLiveValues.length ? `pool ${p.name} (${p.backend}): ${p.live} live of ${cap}, ${p.free === null ? 'no cap' : `${p.free} free`}` : msg.poolOnlySpooled(p.name)];
  if (p.mismatch) {
    lines.push(`  note: processes give this pool different --max-live values (${p.maxLiveValues.map((c) => formatCap(c ?? Infinity)).join(', ')}); each admits only into its first N slots, so the cap is the largest`);
  }
  if (p.holders.length) {
    const rows = [['slot', 'pid', 'job', 'started', 'running', 'command']];
    for (const h of p.holders) {
      rows.push([
        String(h.slot),
        h.pid === null ? '?' : `${h.pid}${h.pidAlive ? '' : ' (exited; its processes hold the slot)'}`,
        h.jobId ?? '?',
        h.startedAt ? h.startedAt.replace('T', ' ').slice(0, 19) : '?',
        h.runningMs === null ? '?' : formatDuration(h.runningMs),
        h.command ?? '(unknown holder)',
      ]);
    }
    lines.push(...table(rows));
  }
  if (p.spooled.length) {
    lines.push(`  spooled delayed jobs, kept in ${spoolDir} (drop one with: warden status --drop ID):`);
    lines.push(...table([SPOOLED_COLUMNS, ...p.spooled.map((j) => spooledRow(j))]));
  }
  return lines.join('\n');
}

/** Rows as aligned columns, indented; the last column runs on unpadded. */
function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => '  ' + r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
}
