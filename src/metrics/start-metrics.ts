// --metrics for `watch`: the metrics and their HTTP server, listening before anything starts.
import type { Address } from '../options.js';
import { serveMetrics } from './server.js';
import type { MetricsServer } from './server.js';
import { WardenMetrics } from './warden-metrics.js';

export interface RunningMetrics {
  metrics: WardenMetrics;
  server: MetricsServer;
}

export async function startMetrics(address: Address, pool: string, maxLive: number): Promise<RunningMetrics> {
  const metrics = new WardenMetrics(pool, maxLive);
  return { metrics, server: await serveMetrics(address, metrics.registry) };
}
