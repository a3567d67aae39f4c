import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { stringify } from 'yaml';
import { S3ObjectStore } from '../../shared/adapters/s3-object-store.adapter';
import { hashPassword } from '../../shared/accounts';
import type { ImageProcessedEvent } from '../../shared/contracts/events';
import { cameraJpeg } from '../helpers/fixtures';
import { awaitStarted, freePort, startService, type ServiceProcess } from '../helpers/processes';
import { distributedOverrides, serviceEnv, stackEnv, stackS3 } from '../helpers/stack';
import { assertEvent } from '../helpers/schemas';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Location {
  store: string;
  region?: string;
  bucket: string;
  key: string;
  role: string;
}

/** The replicator's own log lines about one image: how many objects it copied and found in place. */
function replications(replicator: ServiceProcess, id: string): { copied: number; present: number }[] {
  return replicator
    .output()
    .split('\n')
    .filter((line) => line.includes('"image replicated"') && line.includes(id))
    .map((line) => JSON.parse(line) as { copied: number; present: number });
}

describe('replication from MinIO (primary, eu-west) to Ceph RGW (replica, eu-north), services as separate processes', () => {
  const run = randomUUID().slice(0, 8);
  const env = stackEnv();
  const [minio, rgw] = [stackS3('minio'), stackS3('rgw')];
  const base = distributedOverrides(run, 'wait_for', 'minio') as { s3: { bucket: string }; bus: { topics: Record<string, string> } };
  const replicaBucket = `it-${run}-replica`;
  const overrides = {
    ...base,
    stores: [
      { name: 'minio', region: 'eu-west', role: 'primary', s3: { endpoint: minio.endpoint, bucket: base.s3.bucket } },
      { name: 'rgw', region: 'eu-north', role: 'replica', s3: { endpoint: rgw.endpoint, bucket: replicaBucket, sendSha256: rgw.sendSha256 } },
    ],
  };
  const services: ServiceProcess[] = [];
  let replicator: ServiceProcess;
  let httpPort: number;
  let ftpPort: number;
  let producer: Producer;
  const processed = new Map<string, ImageProcessedEvent>();
  const replicated: unknown[] = [];
  const kafka = new Kafka({ clientId: `replication-${run}`, brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `replication-check-${run}` });

  beforeAll(async () => {
    [ftpPort, httpPort] = [await freePort(), await freePort()];
    const dir = mkdtempSync(path.join(tmpdir(), 'replication-'));
    const configFile = path.join(dir, 'site.yaml');
    writeFileSync(configFile, stringify({ ...overrides, accounts: [{ name: 'cam1', passwordHash: await hashPassword('replication-pass') }] }));
    const common = {
      ...serviceEnv('minio'),
      // Each store's own keys; the primary's also stand as the S3_* default.
      STORE_RGW_ACCESS_KEY_ID: rgw.credentials.accessKeyId,
      STORE_RGW_SECRET_ACCESS_KEY: rgw.credentials.secretAccessKey,
      CONFIG_FILE: configFile,
      DATA_DIR: dir,
      FTP_PORT: String(ftpPort),
      HTTP_PORT: String(httpPort),
      FTP_PASV_MIN_PORT: '31100',
      FTP_PASV_MAX_PORT: '31199',
      LOG_LEVEL: 'info',
    };
    replicator = startService('replicator', 'replicator', { ...common, LOG_LEVEL: 'debug' });
    services.push(startService('pipeline', null, { ...common, SERVICES: 'ingest,processor,indexer,search' }), replicator);
    try {
      await awaitStarted(services, 100_000);
    } catch (error) {
      for (const s of services) process.stderr.write(`--- ${s.name}\n${s.output().slice(-3000)}\n`);
      throw error;
    }
    // After the services made the topics (the broker does not create them on its own).
    producer = kafka.producer();
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topics: [base.bus.topics.processed, base.bus.topics.replicated], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        const value = JSON.parse(message.value!.toString()) as ImageProcessedEvent;
        if (topic === base.bus.topics.processed) processed.set(value.id, value);
        else replicated.push(value);
      },
    });
  });

  afterAll(async () => {
    await consumer.disconnect();
    await producer.disconnect();
    await Promise.all(services.map((s) => s.stop()));
  });

  it('copies every upload to RGW byte for byte, the API lists both copies with their regions, and a re-delivered event copies nothing', async () => {
    const images = await Promise.all(Array.from({ length: 3 }, (_, i) => cameraJpeg({ seed: 500 + i, width: 1600, height: 1200 })));
    const client = new Client(30_000);
    await client.access({ host: '127.0.0.1', port: ftpPort, user: 'cam1', password: 'replication-pass' });
    for (const [i, image] of images.entries()) await client.uploadFrom(Readable.from([image]), `IMG_${i}.JPG`);
    client.close();

    const replica = new S3ObjectStore({
      name: 'rgw', endpoint: rgw.endpoint, region: rgw.region, bucket: replicaBucket, forcePathStyle: true, createBucket: false,
      partSizeBytes: 8 << 20, credentials: rgw.credentials, sendSha256: false,
    });
    try {
      for (const image of images) {
        const id = sha256(image);
        const doc = await waitFor(async () => {
          const response = await fetch(`http://127.0.0.1:${httpPort}/api/images/${id}`);
          const body = response.ok ? ((await response.json()) as { locations: Location[] }) : null;
          return body?.locations.some((l) => l.store === 'rgw') && body;
        }, 90_000, `the RGW copies of ${id}`);
        const event = processed.get(id)!;
        const keys = [event.original.key, ...event.renditions.map((r) => r.key)];
        expect(doc.locations.map((l) => [l.store, l.region, l.bucket, l.key])).toEqual([
          ...keys.map((key) => ['minio', 'eu-west', base.s3.bucket, key]),
          ...keys.map((key) => ['rgw', 'eu-north', replicaBucket, key]),
        ]);
        expect(sha256(await replica.getBuffer(event.original.key))).toBe(id);
      }
      for (const value of replicated) assertEvent('replicated', value);

      const id = sha256(images[0]);
      expect(replications(replicator, id)).toEqual([expect.objectContaining({ copied: 3, present: 0 })]);
      await producer.send({ topic: base.bus.topics.processed, messages: [{ key: id, value: JSON.stringify(processed.get(id)) }] });
      const [, again] = await waitFor(() => replications(replicator, id).length === 2 && replications(replicator, id), 60_000, 'the re-delivered event replicated');
      expect(again).toMatchObject({ copied: 0, present: 3 });
    } finally {
      await replica.close();
    }
  });
});
