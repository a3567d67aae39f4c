import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { S3ObjectStore } from '../../shared/adapters/s3-object-store.adapter';
import { PACKAGE_ROOT } from '../../shared/paths';
import { stackEnv, stackS3 } from '../helpers/stack';

const run = promisify(execFile);
const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/** `stack.sh osd-stop|osd-start N`: each returns once Ceph itself reports the OSD down (PGs active) or up (PGs clean). */
const osd = (action: 'stop' | 'start', id: number) =>
  run('bash', [path.join(PACKAGE_ROOT, 'scripts', 'stack.sh'), `osd-${action}`, String(id)], { timeout: 180_000 });

/** How many PGs of the EC data pool are degraded or undersized, and how many are not active. */
async function dataPoolPgs(): Promise<{ degraded: number; inactive: number }> {
  const { stdout } = await run('ceph', ['-c', stackEnv().CEPH_CONF, 'pg', 'ls-by-pool', 'default.rgw.buckets.data', '-f', 'json']);
  const parsed = JSON.parse(stdout) as { pg_stats: { state: string }[] } | { state: string }[];
  const states = (Array.isArray(parsed) ? parsed : parsed.pg_stats).map((pg) => pg.state.split('+'));
  return {
    degraded: states.filter((s) => s.includes('degraded') || s.includes('undersized')).length,
    inactive: states.filter((s) => !s.includes('active')).length,
  };
}

describe('Ceph RGW on an erasure-coded pool (k=2, m=1) with one of its three OSDs dead', () => {
  const { name, endpoint, region, credentials } = stackS3('rgw');
  const store = new S3ObjectStore({
    name,
    endpoint,
    region,
    bucket: `degraded-${randomUUID().slice(0, 8)}`,
    forcePathStyle: true,
    createBucket: true,
    partSizeBytes: 5 * 1024 * 1024,
    credentials,
  });

  afterAll(async () => {
    await store.close();
  });

  it('reads what was written before, takes new writes while degraded, and heals when the OSD returns', async () => {
    const before = Array.from({ length: 8 }, (_, i) => ({ key: `before/${i}.jpg`, body: randomBytes(300_000 + i) }));
    for (const o of before) await store.put(o.key, o.body, 'image/jpeg');
    const large = randomBytes(12 * 1024 * 1024 + 1);

    await osd('stop', 1);
    try {
      // Every PG of the data pool holds a shard on each of the three OSDs: all of them lost one.
      expect(await dataPoolPgs()).toEqual({ degraded: 8, inactive: 0 });
      for (const o of before) expect(sha256(await store.getBuffer(o.key))).toBe(sha256(o.body));
      const during = Array.from({ length: 8 }, (_, i) => ({ key: `during/${i}.jpg`, body: randomBytes(200_000 + i) }));
      for (const o of during) await store.put(o.key, o.body, 'image/jpeg');
      await store.put('during/large.bin', Readable.from([large.subarray(0, 6 << 20), large.subarray(6 << 20)]), 'application/octet-stream');
      for (const o of during) expect(sha256(await store.getBuffer(o.key))).toBe(sha256(o.body));
      expect(sha256(await store.getBuffer('during/large.bin'))).toBe(sha256(large));
      await store.delete('before/0.jpg');
      expect(await store.head('before/0.jpg')).toBeNull();
    } finally {
      await osd('start', 1);
    }

    expect(await dataPoolPgs()).toEqual({ degraded: 0, inactive: 0 });
    expect(sha256(await store.getBuffer('during/large.bin'))).toBe(sha256(large));
    for (const o of before.slice(1)) expect(sha256(await store.getBuffer(o.key))).toBe(sha256(o.body));
  });
});
