/**
 * Quick end-to-end figures, the product started in this process: N camera-like JPEGs uploaded over
 * FTP at concurrency C, time from each 226 reply to the image being searchable, steady-state rate.
 * Usage: npm run bench:pipeline -- [--images 40] [--concurrency 4] [--megapixels 12] [--stack] [--replica]
 * --stack runs on Kafka, Elasticsearch and MinIO started by `npm run stack:up`.
 * --replica adds a replica store, a second local folder (embedded) or Ceph RGW (--stack; a second
 * MinIO bucket when the stack runs no RGW), and reports the replication lag: each image's processedAt
 * to its images.replicated event's replicatedAt.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startApp } from '../services/app';
import { hashPassword } from '../shared/accounts';
import { loadConfig } from '../shared/config/config.loader';
import type { EventBus } from '../shared/ports/event-bus.port';
import { cameraJpeg } from '../test/helpers/fixtures';
import { SCHEMAS, type ImageProcessedEvent, type ImageReplicatedEvent } from '../shared/contracts/events';
import { distributedOverrides, stackEnv, stackS3 } from '../test/helpers/stack';
import { waitFor } from '../test/helpers/wait';
import { load, percentile } from './e2e';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '4' },
    megapixels: { type: 'string', default: '12' },
    stack: { type: 'boolean', default: false },
    replica: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  const megapixels = Number(values.megapixels);
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 3) / 2));
  const height = Math.round((width * 2) / 3);
  const inputs = await Promise.all(
    Array.from({ length: 4 }, (_, i) => cameraJpeg({ width, height, seed: 1000 + i, make: 'Canon', model: 'EOS R5', dateTimeOriginal: '2024:05:01 12:00:00', gps: { lat: 48.1, lon: 11.5 }, quality: 95 })),
  );
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'));
  if (values.stack) Object.assign(process.env, stackEnv());
  const run = `bench-${Date.now()}`;
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      log: { level: 'warn' },
      ftp: { port: 0 },
      http: { port: 0 },
      accounts: [{ name: 'bench', passwordHash: await hashPassword('bench-password') }],
      // The default refresh, as in production: searchable within a second, bulks never wait for it.
      ...(values.stack ? distributedOverrides(run, 'false') : {}),
      ...(values.replica ? { stores: replicaStores(run) } : {}),
    },
  });
  const app = await startApp(config, pino({ level: 'warn' }));
  const lag = values.replica ? await watchReplication(app.adapters.bus, config.bus.topics, run) : null;
  try {
    const deployment = { ftpPort: app.ftpPort!, httpPort: app.httpPort!, processes: [], stop: async () => undefined };
    const images = Number(values.images);
    const result = await load({ deployment, password: 'bench-password', inputs, images, concurrency: Number(values.concurrency), offset: 0 });
    const replication = lag && { replica: config.stores[1].name, replicationLagMs: await lag.settled(images) };
    const machine = { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) };
    console.log(JSON.stringify({ machine, adapters: config.adapters, megapixels, meanMB: +(inputs.reduce((n, b) => n + b.length, 0) / inputs.length / 1e6).toFixed(2), ...result, ...replication, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }, null, 2));
  } finally {
    await lag?.stop();
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A primary and one replica: two local folders, or on the stack MinIO and Ceph RGW (a second MinIO bucket without RGW). */
function replicaStores(run: string): object[] {
  if (!values.stack) {
    return [
      { name: 'local-a', region: 'site-a', role: 'primary', local: { dir: 'objects' } },
      { name: 'local-b', region: 'site-b', role: 'replica', local: { dir: 'replica' } },
    ];
  }
  const [minio, rgw] = [stackS3('minio'), stackEnv().RGW_ENDPOINT ? stackS3('rgw') : null];
  const replica = rgw ?? { ...minio, name: 'minio-b' };
  Object.assign(process.env, { [`STORE_${replica.name.toUpperCase().replace(/-/g, '_')}_ACCESS_KEY_ID`]: replica.credentials.accessKeyId, [`STORE_${replica.name.toUpperCase().replace(/-/g, '_')}_SECRET_ACCESS_KEY`]: replica.credentials.secretAccessKey });
  return [
    { name: 'minio', region: 'eu-west', role: 'primary', s3: { endpoint: minio.endpoint, bucket: `it-${run}` } },
    { name: replica.name, region: 'eu-north', role: 'replica', s3: { endpoint: replica.endpoint, bucket: `it-${run}-replica`, sendSha256: replica.sendSha256 } },
  ];
}

/** Each image's processedAt and its replicatedAt, read off the bus by a group of the bench's own. */
async function watchReplication(bus: EventBus, topics: { processed: string; replicated: string }, run: string) {
  const processedAt = new Map<string, number>();
  const replicatedAt = new Map<string, number>();
  const subscription = await bus.subscribe<ImageProcessedEvent | ImageReplicatedEvent>({
    group: `${run}-lag`,
    topics: [topics.processed, topics.replicated],
    handle: async ({ value }) => {
      if (value.schema === SCHEMAS.processed) processedAt.set(value.id, Date.parse(value.processedAt));
      else replicatedAt.set(value.id, Date.parse(value.replicatedAt));
    },
  });
  return {
    /** Waits until `images` images are replicated; their lags' p50, p95 and max. */
    async settled(images: number) {
      await waitFor(() => replicatedAt.size >= images && [...replicatedAt.keys()].every((id) => processedAt.has(id)), 300_000, `${images} images replicated`);
      const lags = [...replicatedAt].map(([id, at]) => at - processedAt.get(id)!).sort((a, b) => a - b);
      return { p50: percentile(lags, 50), p95: percentile(lags, 95), max: lags[lags.length - 1] };
    },
    stop: () => subscription.stop(),
  };
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
