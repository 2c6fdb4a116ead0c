// The HTTP end of --metrics: GET /metrics in Prometheus' text format, nothing else. It listens
// before anything starts, so a busy port or a wrong address is a usage error (exit 2).
import http from 'node:http';
import { UsageError } from '../exit.js';
import { msg } from '../messages.js';
import type { Address } from '../options.js';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  /** Where it listens, as it may be scraped (host:port). */
  readonly where: string;
  close(): Promise<void>;
}

export async function serveMetrics(address: Address, registry: Registry): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return void res.writeHead(404, { 'content-type': 'text/plain' }).end(msg.metricsNotFound());
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
    );
  });
  // A scraper that holds a connection open must not keep warden from exiting.
  server.keepAliveTimeout = 5000;
  const shown = `${address.host?.includes(':') ? `[${address.host}]` : (address.host ?? '*')}:${address.port}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new UsageError(msg.metricsCannotListen(shown, listenError(err)))));
    server.listen({ port: address.port, host: address.host }, resolve);
  });
  server.unref();
  return {
    where: shown,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listenError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return msg.portBusy();
    case 'EACCES':
      return msg.portDenied();
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return msg.noSuchLocalAddress();
    default:
      return err.message;
  }
}
