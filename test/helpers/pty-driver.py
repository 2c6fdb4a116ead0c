#!/usr/bin/env python3
"""Run a command on a real pseudo-terminal, driven by lines on stdin.

usage: pty-driver.py -- CMD [ARG...]
stdin commands, one per line: "INT" types Ctrl-C, "HUP" closes the terminal (hang-up),
"TYPE <text>" types text. Everything the command writes to the terminal is copied to
stdout. Exits with the command's status (128+n when killed by signal n).
"""
import os, pty, select, signal, sys

sep = sys.argv.index("--")
argv = sys.argv[sep + 1:]
pid, master = pty.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)

signal.signal(signal.SIGPIPE, signal.SIG_DFL)
stdin_open = True
buf = b""
status = None
while status is None:
    fds = []
    if master is not None:
        fds.append(master)
    if stdin_open:
        fds.append(0)
    ready = select.select(fds, [], [], 0.02)[0] if fds else []
    if master is not None and master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:
            data = b""
        if data:
            os.write(1, data)
        else:
            os.close(master)
            master = None
    if 0 in ready:
        data = os.read(0, 4096)
        if not data:
            stdin_open = False
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd = line.decode().strip()
            if cmd == "INT" and master is not None:
                os.write(master, b"\x03")
            elif cmd == "HUP" and master is not None:
                os.close(master)
                master = None
            elif cmd.startswith("TYPE ") and master is not None:
                os.write(master, cmd[5:].encode())
    got, st = os.waitpid(pid, os.WNOHANG)
    if got == pid:
        status = st
if master is not None:
    try:
        while True:
            r = select.select([master], [], [], 0.05)[0]
            if not r:
                break
            data = os.read(master, 65536)
            if not data:
                break
            os.write(1, data)
    except OSError:
        pass
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
