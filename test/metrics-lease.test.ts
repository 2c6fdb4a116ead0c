// watch --metrics with a Redis pool whose server dies under a running job: the lease lapses, the
// job's warden logs `lease-lost`, and warden_lease_losses_total says so, scraped while the
// server is still away (a scrape must not fail or hang for want of the pool's server).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, useRedisFile } from './helpers/redis.js';
import { eventsNamed, killTagged, startWarden, testDir, waitFor } from './helpers/warden.js';

const { redis, tag } = useRedisFile('metrics-lease');

function scrape(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('the scrape got no answer within 10 s')));
    req.on('error', reject);
  });
}

const sample = (body: string, name: string): number | undefined => {
  const m = new RegExp(`^${name}\\{pool="leased"\\} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : undefined;
};

describe('warden_lease_losses_total', () => {
  it('counts a lease lost for real: the Redis server killed under a running job, past --lease', async () => {
    const { dir, env } = testDir('metrics-lease');
    const ready = path.join(dir, 'ready');
    const port = await freePort();
    const watch = startWarden(
      ['watch', '--redis', redis.url, '--pool', 'leased', '--max-live', '1', '--lease', '2s', '--every', '1h', '--metrics', `127.0.0.1:${port}`, '--log', 'json', '--job', `touch ${ready}; sleep 60`],
      { env: { ...env, WARDEN_TEST_TAG: tag } },
    );
    try {
      await waitFor('the job to start', () => fs.existsSync(ready));
      const before = await scrape(port);
      expect(before.status).toBe(200);
      expect(sample(before.body, 'warden_lease_losses_total')).toBe(0);
      expect(sample(before.body, 'warden_live_jobs')).toBe(1);

      await redis.kill();
      const lost = await waitFor('lease-lost', () => eventsNamed(watch.events(), 'lease-lost').length > 0 && eventsNamed(watch.events(), 'lease-lost'), 30_000);
      expect(lost[0]).toMatchObject({ cause: 'unreachable', pool: 'leased' });
      // Scraped while the server is still away: every metric there, the loss counted once.
      const after = await scrape(port);
      expect(after.status).toBe(200);
      expect(sample(after.body, 'warden_lease_losses_total')).toBe(eventsNamed(watch.events(), 'lease-lost').length);
      expect(sample(after.body, 'warden_lease_losses_total')).toBe(1);
      expect(sample(after.body, 'warden_live_jobs')).toBe(1);
      expect(sample(after.body, 'warden_jobs_started_total')).toBe(1);
    } finally {
      process.kill(watch.pid, 'SIGTERM');
      await watch.done;
      killTagged('WARDEN_TEST_TAG', tag);
      await redis.restart();
    }
  }, 60_000);
});
