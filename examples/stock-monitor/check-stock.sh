#!/bin/sh
# The check: is the lava lamp in stock at the local shop?
#   exit 0 = in stock (warden fires the jobs), 1 = out of stock, 2 = could not ask the shop.
# The shop's answer goes to stdout, so the jobs get it in WARDEN_CHECK_OUTPUT.
# Asks with curl when there is one, else with Node's fetch (STOCK_FETCH=node forces that).
# The shop's address: $STOCK_URL, else the port the shop wrote to $STOCK_DIR/shop.port.
url=${STOCK_URL:-}
if [ -z "$url" ]; then
  port=$(cat "${STOCK_DIR:-.}/shop.port" 2>/dev/null)
  if [ -z "$port" ]; then
    echo "check-stock: no shop.port in ${STOCK_DIR:-.} (is the shop running?)" >&2
    exit 2
  fi
  url="http://127.0.0.1:$port/api/stock"
fi

if [ "${STOCK_FETCH:-}" != node ] && command -v curl >/dev/null 2>&1; then
  body=$(curl -fsS --max-time 2 "$url") || { echo "check-stock: curl failed ($?) for $url" >&2; exit 2; }
else
  body=$("${NODE:-node}" -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
      .then(async (r) => {
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        process.stdout.write(await r.text());
      })
      .catch((e) => { console.error(e.message); process.exit(2); });
  ' "$url") || { echo "check-stock: fetch failed for $url" >&2; exit 2; }
fi

case $body in
  *'"inStock":true'*) printf '%s\n' "$body"; exit 0 ;;
  *'"inStock":false'*) exit 1 ;;
  *) echo "check-stock: unexpected answer from $url: $body" >&2; exit 2 ;;
esac
