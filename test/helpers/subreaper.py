#!/usr/bin/env python3
"""Run a command under a Linux child subreaper and report what it left behind.

usage: subreaper.py REPORT.json SETTLE_MS FORWARD_HUP(0|1) -- CMD [ARG...]

Writes REPORT.json.pid (the command's pid) as soon as it starts. When the command
exits, reaps every orphan that lands here, waits up to SETTLE_MS for the remaining
descendants to end on their own, then records the survivors as "escaped", SIGKILLs
them, reaps them, and writes REPORT.json:
  {"pid", "exitCode", "signal", "escaped": [{"pid","pgid","state","cmdline"}],
   "orphansReaped", "settledMs"}
Standard input/output/error pass straight through to the command.
"""
import ctypes, json, os, signal, sys, time

PR_SET_CHILD_SUBREAPER = 36


def stat_of(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("latin-1")
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return {"state": rest[0], "ppid": int(rest[1]), "pgid": int(rest[2])}


def cmdline_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def descendants(root):
    """Live (non-zombie) processes below root, found by walking ppid links."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = stat_of(int(name))
            if st:
                table[int(name)] = st
    children = {}
    for pid, st in table.items():
        children.setdefault(st["ppid"], []).append(pid)
    out, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        if table[pid]["state"] not in ("Z", "X"):
            out.append({"pid": pid, "pgid": table[pid]["pgid"], "state": table[pid]["state"],
                        "cmdline": cmdline_of(pid)})
    return out


def reap_all():
    n = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1


def main():
    sep = sys.argv.index("--")
    report, settle_ms, forward_hup = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    argv = sys.argv[sep + 1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.stderr.write("subreaper: prctl(PR_SET_CHILD_SUBREAPER) failed\n")
        sys.exit(70)
    child = {"pid": 0}

    def on_hup(_sig, _frame):
        if forward_hup and child["pid"]:
            try:
                os.kill(child["pid"], signal.SIGHUP)
            except ProcessLookupError:
                pass

    # Python handlers (not SIG_IGN) so the command starts with default dispositions.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGHUP, on_hup)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            sys.stderr.write(f"subreaper: cannot exec {argv[0]}: {e}\n")
            os._exit(127)
    child["pid"] = pid
    tmp = report + ".pid.tmp"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, report + ".pid")
    orphans = 0
    status = None
    while status is None:
        try:
            got, st = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            break
        if got == pid:
            status = st
        else:
            orphans += 1
    started = time.monotonic()
    deadline = started + settle_ms / 1000.0
    left = descendants(os.getpid())
    while left and time.monotonic() < deadline:
        orphans += reap_all()
        time.sleep(0.005)
        left = descendants(os.getpid())
    settled = int((time.monotonic() - started) * 1000)
    for p in left:
        try:
            os.kill(p["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    end = time.monotonic() + 5
    while descendants(os.getpid()) and time.monotonic() < end:
        reap_all()
        time.sleep(0.005)
    orphans += reap_all()
    code = os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None
    out = {"pid": pid, "exitCode": code, "signal": sig, "escaped": left,
           "orphansReaped": orphans, "settledMs": settled}
    with open(report + ".tmp", "w") as f:
        json.dump(out, f)
    os.rename(report + ".tmp", report)
    sys.exit(code if code is not None else 128 + (sig or 0))


main()
