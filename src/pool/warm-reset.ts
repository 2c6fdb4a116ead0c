// A waiter is woken by a reset: the kernel resets its connection to a slot when the slot's last
// descriptor closes, and the waiter's read fails with ECONNRESET. The first such failure in a
// Node process runs ~2.5 ms of cold code before anyone hears of it; the next, ~0.1 ms. So a
// process about to wait meets one of its own first, off the hand-off's path.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { pad } from './names.js';

let warmed = false;

export function warmReset(): void {
  if (warmed) return;
  warmed = true;
  const path = pad(`warden-warm:${randomBytes(16).toString('hex')}`);
  // Accepted but never read: a byte left unread when it closes makes the peer's read fail
  // with ECONNRESET, the same failure, on the same path, as a freed slot's.
  const server = net.createServer({ pauseOnConnect: true });
  let accepted: net.Socket | undefined;
  let client: net.Socket | undefined;
  let connected = false;
  const reset = (): void => {
    if (!accepted || !client || !connected) return;
    client.write('x');
    accepted.destroy();
    server.close();
  };
  server.on('error', () => undefined);
  server.on('connection', (conn) => {
    conn.on('error', () => undefined);
    conn.unref();
    accepted = conn;
    reset();
  });
  server.listen({ path, backlog: 1 }, () => {
    client = net.connect({ path });
    client.unref();
    client.on('error', () => undefined);
    client.on('connect', () => {
      connected = true;
      reset();
    });
  });
  server.unref();
}
