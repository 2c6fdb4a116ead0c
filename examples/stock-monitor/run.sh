#!/usr/bin/env bash
# The stock monitor, end to end, on this machine only:
#   a local shop (shop.js) flips a lava lamp between in and out of stock every 3 s;
#   warden checks it every 2 s (check-stock.sh); each time it is restocked (--on-change: the
#   edge, not every check that finds it in stock), warden mails the VIPs at once (mail-vip.sh)
#   and everyone else 8 s later (mail-everyone.sh), one mail job per restock (--unique); at
#   most 3 mail jobs are live at once in the pool "stock-mailer". The mails land in an outbox.
#   Halfway through, warden is SIGKILLed, as a crash or a hard deploy would, and a new one is
#   started: the delayed mails wait in the spool, and the new warden sends them on time.
#
#   npm start                       # from the repo root: build, then this script (~1 minute)
#   bash examples/stock-monitor/run.sh [extra warden flags, e.g. --log json]
#
# Environment (all optional):
#   STOCK_SECONDS / STOCK_MINUTES   how long to watch (default 1 minute; then warden drains)
#   STOCK_DELAY                     delay of the everyone mail, e.g. 3s (default: stock.json, 8s)
#   STOCK_FLIP_MS                   time between the shop's stock flips (default 3000)
#   STOCK_MAIL_SLEEP                seconds per "mail" (default 0.4)
#   STOCK_DIR                       work folder: outbox/, state/, warden.jsonl, shop.port
#                                   (default: a new temp folder, kept so you can look at it)
#   STOCK_CRASH_AT                  seconds until the SIGKILL of warden (default: half the run;
#                                   0: no crash)
# The settings are in stock.json (warden --config); flags given here override them.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NODE=${NODE:-$(command -v node)}
export NODE

EVERY_S=2 # the "every" of stock.json
if [ -n "${STOCK_SECONDS:-}" ]; then
  RUN_S=$STOCK_SECONDS
else
  RUN_S=$((${STOCK_MINUTES:-1} * 60))
fi
MAX_RUNS=$(((RUN_S + EVERY_S - 1) / EVERY_S))
[ "$MAX_RUNS" -ge 1 ] || MAX_RUNS=1

if [ -n "${STOCK_DIR:-}" ]; then
  mkdir -p "$STOCK_DIR"
  STOCK_DIR=$(cd "$STOCK_DIR" && pwd)
else
  STOCK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/warden-stock.XXXXXX")
fi
export STOCK_DIR
rm -rf "$STOCK_DIR/outbox/vip" "$STOCK_DIR/outbox/everyone" "$STOCK_DIR/shop.port"
# warden creates its state dir itself, private (0700); one made here with the default mode is refused.
mkdir -p "$STOCK_DIR/outbox"

# The config; with STOCK_DELAY, a copy whose delayed jobs use that delay instead.
CONFIG=$HERE/stock.json
if [ -n "${STOCK_DELAY:-}" ]; then
  CONFIG=$STOCK_DIR/stock.json
  "$NODE" -e '
    const fs = require("node:fs");
    const [from, to, delay] = process.argv.slice(1);
    const config = JSON.parse(fs.readFileSync(from, "utf8"));
    for (const job of config.jobs) if (job.delay !== undefined) job.delay = delay;
    fs.writeFileSync(to, JSON.stringify(config, null, 2) + "\n");
  ' "$HERE/stock.json" "$CONFIG" "$STOCK_DELAY"
fi

SHOP=
WARDEN=
cleanup() {
  if [ -n "$WARDEN" ] && kill -0 "$WARDEN" 2>/dev/null; then
    kill -TERM "$WARDEN" 2>/dev/null || true
    wait "$WARDEN" 2>/dev/null || true
  fi
  if [ -n "$SHOP" ]; then
    kill -TERM "$SHOP" 2>/dev/null || true
    wait "$SHOP" 2>/dev/null || true
  fi
}
trap cleanup EXIT
# SIGTERM/SIGHUP to this script: pass them on to warden, which stops its jobs and exits.
trap '[ -z "$WARDEN" ] || kill -TERM "$WARDEN" 2>/dev/null || true' TERM HUP
# Ctrl-C reaches warden straight from the terminal (same process group): it stops scheduling
# and drains its jobs; a second Ctrl-C terminates them. The script just waits for it.
trap ':' INT

# The shop: a free port on 127.0.0.1, written to $STOCK_DIR/shop.port.
STOCK_PARENT_PID=$$ "$NODE" "$HERE/shop.js" &
SHOP=$!
for _ in $(seq 1 100); do
  [ -s "$STOCK_DIR/shop.port" ] && break
  kill -0 "$SHOP" 2>/dev/null || { echo "run.sh: the shop did not start" >&2; exit 1; }
  sleep 0.1
done
[ -s "$STOCK_DIR/shop.port" ] || { echo "run.sh: the shop wrote no port in 10 s" >&2; exit 1; }

CRASH_AT=${STOCK_CRASH_AT:-$((RUN_S / 2))}
CRASH_RUNS=$(((CRASH_AT + EVERY_S - 1) / EVERY_S))
if [ "$CRASH_AT" -le 0 ] || [ "$CRASH_RUNS" -ge "$MAX_RUNS" ]; then CRASH_AT=0; fi

start_warden() { # max-runs
  "$NODE" "$ROOT/bin/warden.js" watch --config "$CONFIG" \
    --max-runs "$1" \
    --state-dir "$STOCK_DIR/state" \
    --log-file "$STOCK_DIR/warden.jsonl" \
    "${EXTRA[@]}" &
  WARDEN=$!
}
wait_warden() {
  while :; do
    wait "$WARDEN" && code=0 || code=$?
    # A trapped signal interrupts `wait` with 128+n while warden is still running: wait again.
    if [ "$code" -gt 128 ] && kill -0 "$WARDEN" 2>/dev/null; then continue; fi
    break
  done
  WARDEN=
}

echo "== watching for ${RUN_S}s ($MAX_RUNS checks), work folder $STOCK_DIR"
EXTRA=("$@")
# stock.json names the scripts relative to the repo root, so warden runs from there.
cd "$ROOT"
if [ "$CRASH_AT" -gt 0 ]; then
  start_warden "$MAX_RUNS"
  sleep "$CRASH_AT"
  echo "== SIGKILL warden after ${CRASH_AT}s, as a crash would; a new warden takes over"
  kill -KILL "$WARDEN" 2>/dev/null || true
  wait_warden
  MAX_RUNS=$((MAX_RUNS - CRASH_RUNS))
fi
start_warden "$MAX_RUNS"
wait_warden

kill -TERM "$SHOP" 2>/dev/null || true
wait "$SHOP" 2>/dev/null || true
SHOP=

count() { find "$STOCK_DIR/outbox/$1" -name '*.eml' 2>/dev/null | wc -l | tr -d ' '; }
events() { grep -c "\"event\":\"$1\"" "$STOCK_DIR/warden.jsonl" 2>/dev/null || true; }
lines() { grep -c -v '^ *\(#\|$\)' "$HERE/$1" || true; }
# A restock is a check that fired a new item (the shop's answer names the time of its change).
RESTOCKS=$(grep '"event":"check"' "$STOCK_DIR/warden.jsonl" 2>/dev/null | grep -c '"items":\["' || true)
# How long after its restock each everyone mail was started (spawn or resume vs its trigger).
LATE=$("$NODE" -e '
  const fs = require("node:fs");
  const events = fs.readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const delays = events.filter((e) => e.event === "delay");
  const after = [];
  for (const e of events) {
    if (e.event !== "spawn" || !String(e.command).endsWith("mail-everyone.sh")) continue;
    const off = (d) => Math.abs(Date.parse(e.ts) - Date.parse(d.dueAt));
    const d = delays.filter((x) => x.jobId === e.jobId).sort((x, y) => off(x) - off(y))[0];
    if (d) after.push(((Date.parse(e.ts) - Date.parse(d.dueAt) + d.delayMs) / 1000).toFixed(1));
  }
  process.stdout.write(after.join(" ") || "-");
' "$STOCK_DIR/warden.jsonl" 2>/dev/null || echo -)
echo
echo "== summary (warden exit status $code)"
echo "restocks seen: $RESTOCKS (each fired once: --on-change)"
echo "outbox $STOCK_DIR/outbox"
echo "  vip:      $(count vip) mails (restocks x $(lines vip.txt) VIPs = $((RESTOCKS * $(lines vip.txt))))"
echo "  everyone: $(count everyone) mails (restocks x $(lines everyone.txt) = $((RESTOCKS * $(lines everyone.txt)))), started this many seconds after the check that saw their restock: $LATE"
echo "log    $STOCK_DIR/warden.jsonl"
echo "  checks $(events check), jobs started $(events spawn), delayed $(events delay), resumed after the crash $(events resume), exits $(events exit), waits $(events wait), skips $(events skip)"
exit "$code"
