#!/usr/bin/env node
// A tiny local "shop" for the stock-monitor example: one product whose stock flips between
// in and out of stock on a timer. Plain Node, no dependencies.
//
//   GET /api/stock  ->  200 {"product":"Lava lamp","inStock":true,"quantity":4,"changedAt":"..."}
//
// It listens on 127.0.0.1 on a free port and writes that port to $STOCK_DIR/shop.port (or the
// file named by $SHOP_PORT_FILE). Environment:
//   STOCK_FLIP_MS      time between flips (default 3000); the shop starts in stock
//   STOCK_PARENT_PID   exit when this process is gone (run.sh passes its own pid), so the shop
//                      never outlives the script even if the script is SIGKILLed
// SIGINT is ignored on purpose: a Ctrl-C in the terminal goes to warden, which keeps checking
// the shop while it drains its jobs; run.sh stops the shop with SIGTERM afterwards.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const flipMs = Number(process.env.STOCK_FLIP_MS ?? 3000);
const portFile = process.env.SHOP_PORT_FILE ?? path.join(process.env.STOCK_DIR ?? '.', 'shop.port');
const parentPid = Number(process.env.STOCK_PARENT_PID ?? 0);
const product = 'Lava lamp';

let inStock = true;
let quantity = 4;
let changedAt = new Date().toISOString();

const say = (text) => process.stdout.write(`${new Date().toTimeString().slice(0, 8)} [shop] ${text}\n`);

const flipper = setInterval(() => {
  inStock = !inStock;
  quantity = inStock ? 1 + Math.floor(Math.random() * 9) : 0;
  changedAt = new Date().toISOString();
  say(inStock ? `restocked: ${quantity} x ${product}` : `sold out: ${product}`);
}, flipMs);

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/api/stock') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ product, inStock, quantity, changedAt }) + '\n');
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  // Write then rename, so a reader never sees a half-written port.
  fs.writeFileSync(`${portFile}.tmp`, `${port}\n`);
  fs.renameSync(`${portFile}.tmp`, portFile);
  say(`open on http://127.0.0.1:${port}/api/stock, ${product} in stock (${quantity}), flips every ${flipMs} ms`);
});

function stop() {
  clearInterval(flipper);
  clearInterval(watchdog);
  try {
    fs.unlinkSync(portFile);
  } catch {
    // Already gone.
  }
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGHUP', stop);
process.on('SIGINT', () => undefined);

const watchdog = setInterval(() => {
  if (!parentPid) return;
  try {
    process.kill(parentPid, 0);
  } catch {
    stop();
  }
}, 500);
