import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { Kafka, logLevel } from 'kafkajs';
import { stringify } from 'yaml';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../shared/adapters/s3-object-store.adapter';
import { hashPassword } from '../../shared/accounts';
import type { TopicRole } from '../../shared/contracts/events';
import { cameraJpeg } from '../helpers/fixtures';
import { awaitStarted, freePort, startService, type ServiceProcess } from '../helpers/processes';
import { distributedOverrides, serviceEnv, stackEnv, stackS3, type StackStore } from '../helpers/stack';
import { assertEvent } from '../helpers/schemas';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** On RGW the objects are also encrypted at rest with SSE-KMS, the product's whole write path with it. */
describe.each<[StackStore, string]>([
  ['minio', 'MinIO'],
  ['rgw', 'Ceph RGW (SSE-KMS)'],
])('the services as separate processes on Kafka, Elasticsearch and %s', (which, title) => {
  const run = randomUUID().slice(0, 8);
  const env = stackEnv();
  const s3 = stackS3(which);
  const base = distributedOverrides(run, 'wait_for', which) as { s3: Record<string, unknown> & { bucket: string }; bus: { topics: Record<string, string> } };
  const overrides = which === 'rgw' ? { ...base, s3: { ...base.s3, sse: { mode: 'kms', kmsKeyId: s3.kmsKeyId } } } : base;
  const services: ServiceProcess[] = [];
  let ftpPort: number;
  let httpPort: number;

  beforeAll(async () => {
    [ftpPort, httpPort] = [await freePort(), await freePort()];
    const dir = mkdtempSync(path.join(tmpdir(), 'distributed-'));
    const configFile = path.join(dir, 'site.yaml');
    writeFileSync(configFile, stringify({ ...overrides, accounts: [{ name: 'cam1', passwordHash: await hashPassword('distributed-pass') }] }));
    const common = {
      ...serviceEnv(which),
      CONFIG_FILE: configFile,
      DATA_DIR: dir,
      FTP_PORT: String(ftpPort),
      HTTP_PORT: String(httpPort),
      FTP_PASV_MIN_PORT: '31000',
      FTP_PASV_MAX_PORT: '31099',
      LOG_LEVEL: 'info',
    };
    services.push(
      startService('ingest', 'ingest', common),
      startService('processor-1', 'processor', common),
      startService('processor-2', 'processor', common),
      startService('indexer', 'indexer', common),
      startService('search', 'search', common),
    );
    try {
      // Consumers join their groups before a service reports started; a fresh broker makes that slow.
      await awaitStarted(services, 100_000);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, 10_000, 'search service');
    } catch (error) {
      for (const s of services) process.stderr.write(`--- ${s.name}\n${s.output().slice(-3000)}\n`);
      throw error;
    }
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });

  it(`takes FTP uploads to searchable images, objects in ${title} and events on Kafka, shared by two processors`, async () => {
    const images = await Promise.all(Array.from({ length: 12 }, (_, i) => cameraJpeg({ seed: 300 + i, width: 2000, height: 1500, make: 'Canon', model: 'EOS R6', gps: { lat: 40 + i / 10, lon: -3.7 } })));
    const client = new Client(30_000);
    await client.access({ host: '127.0.0.1', port: ftpPort, user: 'cam1', password: 'distributed-pass' });
    for (const [i, image] of images.entries()) await client.uploadFrom(Readable.from([image]), `IMG_${i}.JPG`);
    client.close();

    const ids = images.map(sha256);
    const keys: string[] = [];
    for (const id of ids) {
      const doc = await waitFor(async () => {
        const response = await fetch(`http://127.0.0.1:${httpPort}/api/images/${id}`);
        return response.ok ? ((await response.json()) as { camera: { make: string }; locations: { store: string; bucket: string; key: string; url: string }[]; renditions: { name: string; url: string }[] }) : undefined;
      }, 60_000, `image ${id}`);
      expect(doc.camera.make).toBe('Canon');
      expect(doc.locations.map((l) => [l.store, l.bucket])).toEqual(Array(3).fill([s3.name, overrides.s3.bucket]));
      expect(doc.locations[0].url).toBe(`${s3.endpoint}/${overrides.s3.bucket}/${doc.locations[0].key}`);
      keys.push(...doc.locations.map((l) => l.key));
    }
    // A GET by id is real-time; search sees a document after the index's next refresh.
    const search = await waitFor(async () => {
      const page = (await (await fetch(`http://127.0.0.1:${httpPort}/api/images?make=canon&bbox=-4,39.9,-3,41.5&size=100`)).json()) as { total: number; items: { renditions: { url: string }[] }[] };
      return page.total === 12 ? page : undefined;
    }, 10_000, 'all twelve in a search');
    const thumb = await fetch(`http://127.0.0.1:${httpPort}${search.items[0].renditions[0].url}`);
    expect(thumb.headers.get('content-type')).toBe('image/webp');

    const store = new S3ObjectStore({
      name: s3.name, endpoint: s3.endpoint, region: s3.region, bucket: overrides.s3.bucket, forcePathStyle: true, createBucket: false,
      partSizeBytes: 8 << 20, credentials: s3.credentials,
    });
    const originalKey = `originals/${ids[0].slice(0, 2)}/${ids[0].slice(2, 4)}/${ids[0]}.jpg`;
    const original = await store.getBuffer(originalKey);
    expect(sha256(original)).toBe(ids[0]);
    await store.close();
    if (which === 'rgw') {
      const client = new S3Client({ region: s3.region, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
      // Originals (ingest's putFile) and renditions (the processor's put) alike.
      for (const key of keys) {
        const head = await client.send(new HeadObjectCommand({ Bucket: overrides.s3.bucket, Key: key }));
        expect([key, head.ServerSideEncryption, head.SSEKMSKeyId]).toEqual([key, 'aws:kms', s3.kmsKeyId]);
      }
      client.destroy();
    }

    const kafka = new Kafka({ clientId: 'downstream', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `downstream-${run}` });
    const received: Record<string, { key: string; value: unknown }[]> = {};
    await consumer.connect();
    await consumer.subscribe({ topics: [overrides.bus.topics.ingested, overrides.bus.topics.processed], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        (received[topic] ??= []).push({ key: message.key!.toString(), value: JSON.parse(message.value!.toString()) });
      },
    });
    await waitFor(() => received[overrides.bus.topics.processed]?.length >= 12 && received[overrides.bus.topics.ingested]?.length >= 12, 60_000, 'events on Kafka');
    await consumer.disconnect();
    for (const [role, topic] of Object.entries(overrides.bus.topics)) {
      if (!received[topic]) continue;
      for (const { key, value } of received[topic]) {
        assertEvent(role as TopicRole, value);
        expect(key).toBe((value as { id: string }).id);
      }
    }

    const processedBy = services.filter((s) => s.name.startsWith('processor')).map((s) => (s.output().match(/"image processed"/g) ?? []).length);
    expect(processedBy.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12);
    expect(processedBy.every((n) => n > 0)).toBe(true);
  });

  it('shuts every service down cleanly on SIGTERM', async () => {
    const codes = await Promise.all(services.map((s) => s.stop()));
    expect(codes).toEqual([0, 0, 0, 0, 0]);
  });
});
