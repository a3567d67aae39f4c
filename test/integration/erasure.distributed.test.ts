import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@elastic/elasticsearch';
import pino from 'pino';
import { Eraser } from '../../services/privacy/eraser';
import { createAdapters, type Adapters } from '../../shared/adapters/adapters.factory';
import { loadConfig } from '../../shared/config/config.loader';
import type { Config } from '../../shared/config/config.schema';
import { readErasureRecord } from '../../shared/erasure-record';
import { imageKeyPrefixes } from '../../shared/image/object-keys';
import type { BusMessage, Subscription } from '../../shared/ports/event-bus.port';
import { processedEvent, source } from '../helpers/events';
import { assertEvent } from '../helpers/schemas';
import { distributedOverrides, stackEnv } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

/** The Eraser on the distributed adapters: MinIO, Elasticsearch (index and delivery record) and Kafka. */
describe('erasure on Kafka, Elasticsearch and MinIO', () => {
  const run = `erase-${randomUUID().slice(0, 8)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'erasure-'));
  let config: Readonly<Config>;
  let adapters: Adapters;
  let subscription: Subscription;
  const seen: BusMessage<unknown>[] = [];

  beforeAll(async () => {
    config = loadConfig({ env: stackEnv(), overrides: { ...distributedOverrides(run), dataDir: dir } });
    adapters = createAdapters(config, pino({ level: 'silent' }), stackEnv());
    subscription = await adapters.bus.subscribe({ group: `${run}-check`, topics: [config.bus.topics.erased], handle: async (m) => void seen.push(m) });
  });
  afterAll(async () => {
    await subscription.stop();
    await adapters.close();
    rmSync(dir, { recursive: true, force: true });
    const client = new Client({ node: stackEnv().ELASTICSEARCH_URL });
    try {
      // Deleting by wildcard is refused (action.destructive_requires_name): by name.
      const indices = Object.keys(await client.indices.get({ index: `it-${run}*`, allow_no_indices: true }));
      if (indices.length > 0) await client.indices.delete({ index: indices });
      const templates = [`it-${run}-template`, `it-${run}-failures-template`, `it-${run}-deliveries-template`];
      await client.indices.deleteIndexTemplate({ name: templates.join(',') }, { ignore: [404] });
    } finally {
      await client.close();
    }
  });

  it('removes the objects, the document and the FTP entries, publishes images.erased, and a replay stays ignored', async () => {
    const event = processedEvent({ source: source({ path: '/DCIM/IMG_0001.JPG' }) });
    for (const { key, contentType } of [event.original, ...event.renditions]) await adapters.store.put(key, Buffer.from('stand-in bytes'), contentType);
    await adapters.index.upsert(event);
    await adapters.deliveries.put('cam1', event.source.path, { imageId: event.id, size: 14, modifiedAt: event.receivedAt, originalKey: event.original.key, contentType: 'image/jpeg' });

    const eraser = new Eraser({ ...adapters, config, logger: pino({ level: 'silent' }) });
    const outcome = await eraser.erase(event.id, { trigger: 'operator', by: 'alice', reason: 'asked' });
    expect(outcome).toMatchObject({ status: 'erased', erasure: { indexed: true, deliveries: [{ account: 'cam1', files: 1 }] } });

    const left: string[] = [];
    for (const prefix of imageKeyPrefixes(event.id)) for await (const o of adapters.store.list(prefix)) left.push(o.key);
    expect(left).toEqual([]);
    expect(await adapters.index.get(event.id)).toBeNull();
    expect(await adapters.deliveries.get('cam1', event.source.path)).toBeNull();
    expect((await readErasureRecord(adapters.store, event.id))?.erasures[0].completedAt).toEqual(expect.any(String));
    const erased = await waitFor(() => seen.find((m) => m.key === event.id), 30_000, 'images.erased on Kafka');
    assertEvent('erased', erased.value);

    await adapters.index.upsert(event);
    expect(await adapters.index.get(event.id)).toBeNull();
    expect(await eraser.erase(event.id, { trigger: 'operator', by: 'alice', reason: 'asked' })).toMatchObject({ status: 'already-erased' });
  }, 90_000);
});
