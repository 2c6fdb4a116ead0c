#!/usr/bin/env bash
# The servers the tests run for real: redis-server (pools across hosts) and a headless
# chromium (the `warden log --html` page); faketime shows a host whose clock is off. Installed from Debian's packages where we can
# (root with apt-get); elsewhere we stop with the one command that installs them.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: installing ${missing[*]} (Debian packages)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "test-deps: the tests need ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}" >&2
exit 1
