// SPEC "Shutdown is clean" and "Every child is reaped and every exit is logged once", for awkward job trees.
import path from 'node:path';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useFixture } from '../helpers/fixture.js';
import { readLedger } from '../helpers/ledger.js';
import { readStat } from '../helpers/procfs.js';
import { allExitRecordProblems } from '../helpers/records.js';
import { readLogFile, wardenEnv, type LogEvent } from '../helpers/supervised.js';
import { BIN } from '../helpers/paths.js';
import { statusLive } from '../helpers/status.js';
import { monotonicMs, waitFor } from '../helpers/wait.js';
import { runInPidNamespace } from '../helpers/pid-namespace.js';

const fixture = useFixture();

const exits = (file: string): LogEvent[] => readLogFile(file).events.filter((e) => e.event === 'exit');

describe('shutdown is clean', () => {
  it('on SIGTERM, stops background children, pipelines, TERM-ignoring and SIGSTOPped job groups within --kill-after, and logs each as killed', async () => {
    const f = fixture('trees');
    const jobs = {
      background: 'sleep 30 & sleep 30 & wait',
      pipeline: 'sleep 30 | cat | cat',
      ignoresTerm: "trap '' TERM; sleep 30; sleep 30",
      stopped: 'sleep 30 & sleep 30; wait',
    };
    const w = f.start(
      ['watch', '--every', '1h', '--max-runs', '1', '--max-live', '8', '--kill-after', '1s', '--log', 'json', '--log-file', f.logFile,
        ...Object.values(jobs).flatMap((j) => ['--job', f.job(j)])],
      { settleMs: 0 },
    );
    const sampler = f.sampler(5).start();
    await waitFor(() => readLedger(f.ledger).filter((e) => e.kind === 'start').length === 4, 10_000, 'the four jobs to start');
    // Each job is a whole tree: wait until the trees are built (sleeps exist), then stop one group.
    // sh+2 sleeps, sh+sleep+cat+cat, sh+sleep, sh+2 sleeps: 12 processes in 4 groups.
    await waitFor(() => sampler.sample().reduce((n, g) => n + g.pids.length, 0) >= 12, 10_000, 'every job tree to be built');
    const spawns = readLogFile(f.logFile).events.filter((e) => e.event === 'spawn');
    const stoppedSpawn = spawns.find((e) => String(e.command).includes('sleep 30 & sleep 30; wait'));
    expect(stoppedSpawn, 'the spawn event of the stopped job').toBeDefined();
    const stopPid = Number(stoppedSpawn!.jobPid);
    process.kill(-stopPid, 'SIGSTOP');
    await waitFor(() => readStat(stopPid)?.state === 'T', 5000, 'the job group to be stopped');

    const t0 = monotonicMs();
    await w.signal('SIGTERM');
    const r = await w.done;
    const took = monotonicMs() - t0;
    const left = sampler.stop();

    expect(r.code, r.stderr).toBe(143);
    expect(took, 'warden exits within the 1 s grace plus a margin').toBeLessThan(1000 + 2500);
    expect(r.report.escaped, 'processes alive after warden exited').toEqual([]);
    expect(f.sampler().sample(), 'tagged processes left').toEqual([]);
    expect(left.zombies.filter((z) => !z.reaped), 'zombies never reaped').toEqual([]);
    const records = exits(f.logFile);
    expect(records.map((e) => e.jobPid).sort(), 'one exit record per job').toEqual(spawns.map((e) => e.jobPid).sort());
    for (const e of records) expect(e, `exit record of ${String(e.command)}`).toMatchObject({ outcome: 'killed' });
    expect(allExitRecordProblems(records)).toEqual([]);
    const ignoring = records.find((e) => String(e.command).includes('TERM; sleep 30; sleep 30'));
    expect(ignoring, 'the TERM-ignoring job needed SIGKILL').toMatchObject({ signal: 'SIGKILL' });
    expect(readLogFile(f.logFile).events.filter((e) => e.event === 'stop')).toHaveLength(1);
    expect(await statusLive(f.stateDir, 'default')).toBe(0);
  }, 60_000);
});

describe('warden run passes shutdown on to its command', () => {
  it('on SIGTERM, terminates the command\'s whole group (SIGKILL after --kill-after if TERM is ignored) and exits 143', async () => {
    const f = fixture('runterm');
    const w = f.start(['run', '--kill-after', '500ms', '--log-file', f.logFile, '--', ...f.argv("trap '' TERM; sleep 30 & sleep 30 & wait")], { settleMs: 0 });
    const sampler = f.sampler(5);
    await waitFor(() => sampler.sample().reduce((n, g) => n + g.pids.length, 0) >= 3, 10_000, 'the command tree');
    const t0 = monotonicMs();
    await w.signal('SIGTERM');
    const r = await w.done;
    expect(r.code, r.stderr).toBe(143);
    expect(monotonicMs() - t0, 'ms until warden run exited').toBeLessThan(500 + 2500);
    expect(r.report.escaped).toEqual([]);
    const exits = readLogFile(f.logFile).events.filter((e) => e.event === 'exit');
    expect(exits).toHaveLength(1);
    expect(exits[0]).toMatchObject({ outcome: 'killed', signal: 'SIGKILL' });
  }, 30_000);
});

describe('every exit is logged once, when the job exits', () => {
  it('logs the exit of a job whose grandchild keeps its stdout open as soon as the job exits, and stops the grandchild on shutdown', async () => {
    const f = fixture('grandchild');
    const w = f.start(['watch', '--every', '1h', '--max-live', '2', '--kill-after', '1s', '--log-file', f.logFile,
      '--job', f.job('sleep 30 & exit 3')], { settleMs: 0 });
    await waitFor(() => readLedger(f.ledger).some((e) => e.kind === 'end'), 10_000, 'the job to exit');
    const jobEnd = monotonicMs();
    const record = await waitFor(() => exits(f.logFile)[0], 5000, 'the exit record while the grandchild still runs');
    const lag = monotonicMs() - jobEnd;
    expect(lag, 'ms between the job exiting and its exit record').toBeLessThan(1000);
    expect(record).toMatchObject({ exitCode: 3, outcome: 'failed' });
    expect(f.sampler().sample().length, 'the grandchild is still alive (it holds the job group)').toBe(1);
    await w.signal('SIGTERM');
    const r = await w.done;
    expect(r.code).toBe(143);
    expect(r.report.escaped, 'nothing started by warden outlives it').toEqual([]);
    expect(exits(f.logFile), 'exactly one exit record').toHaveLength(1);
  }, 30_000);

  it('logs the exit of a job whose child escaped with setsid when the job exits, and neither hangs nor loses the record', async () => {
    const f = fixture('setsid');
    const marker = path.join(f.work, 'escaped');
    const w = f.start(['watch', '--every', '1h', '--max-runs', '1', '--max-live', '2', '--kill-after', '1s', '--log-file', f.logFile,
      '--job', f.job(`setsid sh -c 'echo $$ > ${marker}; exec sleep 3' & exit 0`)], { settleMs: 0 });
    await waitFor(() => readLedger(f.ledger).some((e) => e.kind === 'end'), 10_000, 'the job to exit');
    const jobEnd = monotonicMs();
    const record = await waitFor(() => exits(f.logFile)[0], 5000, 'the exit record');
    expect(monotonicMs() - jobEnd, 'ms between the job exiting and its exit record').toBeLessThan(1000);
    expect(record).toMatchObject({ exitCode: 0, outcome: 'ok' });
    const escapee = Number(fs.readFileSync(marker, 'utf8'));
    const r = await w.done;
    expect(r.code, 'watch --max-runs 1 ends normally').toBe(0);
    expect(exits(f.logFile), 'exactly one exit record').toHaveLength(1);
    // The setsid child left the job's process group on purpose; it is the only thing allowed to remain.
    expect(r.report.escaped.map((e) => e.pid).filter((p) => p !== escapee)).toEqual([]);
  }, 30_000);
});

describe('strays are signalled only while they are warden\'s', () => {
  it('never signals a process that took over the group id of a finished job\'s stray processes', async () => {
    const f = fixture('strayreuse');
    type StrayResult = { leftover: boolean; reused: boolean; signalled: string[]; alive: boolean; code: number };
    const result = runInPidNamespace<StrayResult>(f.work, 'stray-reuse', STRAY_REUSE_PY, [BIN, f.stateDir, f.work], wardenEnv(f.stateDir));
    expect(result.leftover, 'the job left a process behind').toBe(true);
    expect(result.reused, 'an unrelated process leads a group with the stray group\'s old id').toBe(true);
    expect(result.signalled, 'signals the unrelated process received from warden').toEqual([]);
    expect(result.alive, 'the unrelated process is still alive').toBe(true);
    expect(result.code, 'warden stopped by SIGTERM exits 143').toBe(143);
  }, 60_000);
});

// Inside a private pid namespace: a watch whose job leaves `sleep 0.3` behind; once that stray
// has ended, an unrelated process is given the group's old id (ns_last_pid) and leads its own
// group; then warden is stopped, which terminates its strays.
const STRAY_REUSE_PY = String.raw`
import json, os, signal, subprocess, sys, time
warden, state, work = sys.argv[1:4]
def wait_for(test, what, t=15):
    end = time.time() + t
    while time.time() < end:
        v = test()
        if v:
            return v
        reap(); time.sleep(0.005)
    raise SystemExit("timeout waiting for " + what)
def read(p):
    try:
        return open(p).read()
    except OSError:
        return ""
def group_members(pg):
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = read("/proc/%s/stat" % d)
            if s and int(s[s.rindex(")") + 2:].split()[2]) == pg:
                n += 1
    return n
log = os.path.join(work, "log.jsonl")
pgfile = os.path.join(work, "pg")
w = subprocess.Popen(["node", warden, "watch", "--every", "1h", "--state-dir", state, "--log-file", log, "--kill-after", "1s",
                      "--job", "sleep 0.3 & echo $$ > " + pgfile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
pg = int(wait_for(lambda: read(pgfile).strip(), "the job's group id"))
exit_line = wait_for(lambda: next((l for l in read(log).splitlines() if '"event":"exit"' in l), None), "the job's exit")
leftover = json.loads(exit_line).get("leftover") is True
wait_for(lambda: group_members(pg) == 0, "the stray to end")
with open("/proc/sys/kernel/ns_last_pid", "w") as f:
    f.write(str(pg - 1))
sig = os.path.join(work, "signals")
traps = " ".join("trap 'echo %s >> %s' %s;" % (s, sig, s) for s in ("HUP", "INT", "TERM", "QUIT", "CONT", "USR1"))
open(sig, "w").close()
victim = subprocess.Popen(["sh", "-c", traps + " echo ready > " + sig + ".ready; while :; do sleep 0.02; done"], start_new_session=True)
wait_for(lambda: read(sig + ".ready"), "the unrelated process")
reused = victim.pid == pg
w.send_signal(signal.SIGTERM)
code = w.wait(20)
code = code if code >= 0 else 128 - code
# A marker signal of our own: once its trap has run, any signal warden sent has been handled too.
os.kill(victim.pid, signal.SIGUSR1)
wait_for(lambda: "USR1" in read(sig).split(), "the marker signal")
signalled = [s for s in read(sig).split() if s != "USR1"]
alive = victim.poll() is None
victim.kill(); victim.wait()
reap()
print(json.dumps({"leftover": leftover, "reused": reused, "signalled": signalled, "alive": alive, "code": code}))
`;
