// The host's keeper does not outlive its purpose: a lease freed while the server is away is
// retried only until it would have lapsed by itself, then the keeper goes idle and exits,
// even if the server never comes back.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keeperPids, useRedisFile } from './helpers/redis.js';
import { startWarden, waitFor } from './helpers/warden.js';

const { redis, dir, tag } = useRedisFile('redis-keeper');

describe('the keeper', () => {
  it('exits once its last lease has lapsed when the server went away for good', async () => {
    const started = path.join(dir, 'started');
    const release = path.join(dir, 'release');
    const run = startWarden(['run', '--redis', redis.url, '--pool', 'gone', '--max-live', '1', '--lease', '2s', '--', 'sh', '-c', `touch ${started}; while [ ! -e ${release} ]; do sleep 0.05; done`], {
      env: { WARDEN_STATE_DIR: path.join(dir, 'state'), WARDEN_TEST_TAG: tag },
    });
    await waitFor('the job to start', () => fs.existsSync(started), 30_000);
    const keepers = await waitFor('the keeper to run', () => keeperPids(tag).length > 0 && keeperPids(tag), 30_000);
    await redis.stop();
    fs.writeFileSync(release, '');
    await run.done;
    // Lease 2 s, then the keeper's idle time: it must be gone well within this deadline.
    await waitFor('the keeper to exit', () => keepers.every((pid) => !fs.existsSync(`/proc/${pid}`) || fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')), 45_000);
    expect(keeperPids(tag)).toEqual([]);
  });
});
