import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import pino from 'pino';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { loadConfig } from '../../shared/config/config.loader';
import { ConsumerRunner } from '../../shared/consumer/consumer.runner';
import type { ImageFailedEvent, ImageProcessedEvent, ImageReplicatedEvent } from '../../shared/contracts/events';
import { writeErasureRecord, type ErasureRecord } from '../../shared/erasure-record';
import { IngestError } from '../../shared/errors';
import { originalKey, renditionKey } from '../../shared/image/object-keys';
import type { NamedStore, ObjectStore } from '../../shared/ports/object-store.port';
import { ReplicatorService } from '../../services/replicator/replicator.service';
import { processedEvent } from '../helpers/events';
import { assertEvent } from '../helpers/schemas';
import { handBus } from '../helpers/hand-bus';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** A store whose writes the test can count and whose next calls it can make fail or corrupt. */
function watched(store: ObjectStore) {
  const puts: string[] = [];
  const faults: ('outage' | 'corrupt')[] = [];
  const proxy: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
    put: async (key: string, body: Parameters<ObjectStore['put']>[1], contentType: string) => {
      const fault = faults.shift();
      if (fault === 'outage') throw new IngestError('STORE_UNAVAILABLE', 'connect ECONNREFUSED', { retriable: true });
      puts.push(key);
      const stored = await store.put(key, body, contentType);
      // A write that lands with one byte flipped, as a faulty disk or proxy would leave it.
      if (fault === 'corrupt') {
        const bytes = await store.getBuffer(key);
        bytes[0] ^= 0xff;
        await store.put(key, bytes, contentType);
      }
      return stored;
    },
  });
  return { store: proxy, puts, faults };
}

describe('the replicator', () => {
  const logger = pino({ level: 'silent' });
  let dir: string;
  let primary: LocalObjectStore;
  let replicas: LocalObjectStore[];

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'replicator-'));
    primary = new LocalObjectStore(path.join(dir, 'a'), 'a', 'eu-west');
    replicas = [new LocalObjectStore(path.join(dir, 'b'), 'b', 'eu-north'), new LocalObjectStore(path.join(dir, 'c'), 'c', 'us-east')];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function replicator(stores: ObjectStore[] = replicas) {
    const config = loadConfig({ env: {}, overrides: { dataDir: dir, log: { level: 'silent' } } });
    const { bus, published, deliver } = handBus();
    const runner = new ConsumerRunner({ bus, failedTopic: config.bus.topics.failed, retry: { initialDelayMs: 1, maxDelayMs: 2 }, logger });
    const named: NamedStore[] = [
      { name: 'a', region: 'eu-west', role: 'primary', store: primary },
      ...stores.map((store, i): NamedStore => ({ name: ['b', 'c'][i], region: ['eu-north', 'us-east'][i], role: 'replica', store })),
    ];
    const service = new ReplicatorService({ config, stores: named, bus, runner, logger });
    const { processed, replicated, failed } = config.bus.topics;
    return {
      service,
      deliver: (event: ImageProcessedEvent) => deliver(processed, event),
      replicated: () => published.filter((p) => p.topic === replicated).map((p) => p.value as ImageReplicatedEvent),
      deadLetters: () => published.filter((p) => p.topic === failed).map((p) => p.value as ImageFailedEvent),
    };
  }

  /** An image stored in the primary as the processor leaves it: the original (its id is its hash) and a thumbnail. */
  async function storedImage(): Promise<{ event: ImageProcessedEvent; original: Buffer; thumb: Buffer }> {
    const [original, thumb] = [randomBytes(300_000), randomBytes(20_000)];
    const id = sha256(original);
    const [okey, tkey] = [originalKey(id, 'jpg'), renditionKey(id, 'thumb', 'webp')];
    await primary.put(okey, original, 'image/jpeg');
    await primary.put(tkey, thumb, 'image/webp');
    const base = processedEvent({ id });
    const event: ImageProcessedEvent = {
      ...base,
      processedAt: new Date().toISOString(),
      original: { key: okey, bytes: original.length, contentType: 'image/jpeg', location: primary.locate(okey) },
      renditions: [{ ...base.renditions[0], key: tkey, bytes: thumb.length, location: primary.locate(tkey) }],
      locations: [
        { role: 'original', name: 'original', ...primary.locate(okey) },
        { role: 'rendition', name: 'thumb', ...primary.locate(tkey) },
      ],
    };
    return { event, original, thumb };
  }

  /** The audit record of an erasure of the event's image one minute after its receipt. */
  function erasureAfter(event: ImageProcessedEvent): ErasureRecord {
    const erasedAt = new Date(Date.parse(event.source.receivedAt) + 60_000).toISOString();
    return {
      id: event.id,
      erasures: [{ erasedAt, trigger: 'operator', by: 'ops', reason: 'test', objects: [], unconfiguredStores: [], indexed: true, deliveries: [], completedAt: erasedAt }],
    };
  }

  it('copies the original and every rendition to each replica and announces each replica’s verified copies', async () => {
    const { service, deliver, replicated } = replicator();
    await service.start();
    const { event, original, thumb } = await storedImage();
    await deliver(event);

    for (const replica of replicas) {
      expect(await replica.getBuffer(event.original.key)).toEqual(original);
      expect(await replica.getBuffer(event.renditions[0].key)).toEqual(thumb);
    }
    const events = replicated();
    events.forEach((e) => assertEvent('replicated', e));
    expect(events.map((e) => [e.id, e.store, e.region])).toEqual([
      [event.id, 'b', 'eu-north'],
      [event.id, 'c', 'us-east'],
    ]);
    expect(events[0].locations).toEqual([
      { ...replicas[0].locate(event.original.key), region: 'eu-north', role: 'original', name: 'original', bytes: original.length, sha256: event.id },
      { ...replicas[0].locate(event.renditions[0].key), region: 'eu-north', role: 'rendition', name: 'thumb', bytes: thumb.length, sha256: sha256(thumb) },
    ]);
  });

  it('copies nothing again when the same event is delivered twice, and announces the same copies', async () => {
    const b = watched(replicas[0]);
    const { service, deliver, replicated } = replicator([b.store]);
    await service.start();
    const { event } = await storedImage();
    await deliver(event);
    await deliver(event);
    expect(b.puts).toEqual([event.original.key, event.renditions[0].key]);
    const [first, second] = replicated();
    expect(second.locations).toEqual(first.locations);
  });

  it('replaces a copy of the right size whose bytes differ, found by its hash', async () => {
    const b = watched(replicas[0]);
    const { service, deliver } = replicator([b.store]);
    await service.start();
    const { event, thumb } = await storedImage();
    await replicas[0].put(event.renditions[0].key, randomBytes(thumb.length), 'image/webp');
    await deliver(event);
    expect(await replicas[0].getBuffer(event.renditions[0].key)).toEqual(thumb);
    expect(b.puts).toContain(event.renditions[0].key);
  });

  it('copies again when a copy reads back different, and when the replica store is briefly down', async () => {
    const b = watched(replicas[0]);
    b.faults.push('corrupt', 'outage');
    const { service, deliver, replicated, deadLetters } = replicator([b.store]);
    await service.start();
    const { event, original } = await storedImage();
    await deliver(event);
    expect(await replicas[0].getBuffer(event.original.key)).toEqual(original);
    expect(b.puts.filter((k) => k === event.original.key)).toHaveLength(2);
    expect(replicated()).toHaveLength(1);
    expect(deadLetters()).toEqual([]);
  });

  it('closes what it read from the primary when the replica refuses the write', async () => {
    const b = watched(replicas[0]);
    b.faults.push('outage');
    const { service, deliver } = replicator([b.store]);
    await service.start();
    const { event } = await storedImage();
    const opened: Readable[] = [];
    const getStream = primary.getStream.bind(primary);
    primary.getStream = async (key, range) => {
      const stream = await getStream(key, range);
      if (stream) opened.push(stream.body);
      return stream;
    };
    await deliver(event);
    // The first read was cut off by the outage, the rest were read to the end.
    expect(opened.length).toBeGreaterThan(0);
    await waitFor(() => opened.every((body) => body.destroyed), 2_000, 'every source stream closed');
  });

  it('skips an image whose original was erased from the primary, and announces nothing', async () => {
    const { service, deliver, replicated, deadLetters } = replicator();
    await service.start();
    const { event } = await storedImage();
    await primary.delete(event.original.key);
    await writeErasureRecord(primary, erasureAfter(event));
    await deliver(event);
    expect(replicated()).toEqual([]);
    expect(deadLetters()).toEqual([]);
    expect(await replicas[0].head(event.original.key)).toBeNull();
  });

  it('copies and keeps the same bytes delivered again after an erasure: a new image, not the erased one', async () => {
    const { service, deliver, replicated } = replicator();
    await service.start();
    const { event, original } = await storedImage();
    const record = erasureAfter(event);
    await writeErasureRecord(primary, record);
    const receivedAt = new Date(Date.parse(record.erasures[0].erasedAt) + 60_000).toISOString();
    await deliver({ ...event, receivedAt, source: { ...event.source, receivedAt } });
    expect(replicated().map((r) => r.store)).toEqual(['b', 'c']);
    expect(await replicas[0].getBuffer(event.original.key)).toEqual(original);
  });

  it('dead-letters an image whose original is missing from the primary without an erasure', async () => {
    const { service, deliver, replicated, deadLetters } = replicator();
    await service.start();
    const { event } = await storedImage();
    await primary.delete(event.original.key);
    await deliver(event);
    expect(replicated()).toEqual([]);
    expect(deadLetters()).toEqual([expect.objectContaining({ id: event.id, stage: 'replicator', error: expect.objectContaining({ code: 'OBJECT_NOT_FOUND' }), attempts: 1 })]);
  });

  it('refuses to spread an original that no longer hashes to its id, leaving no copy behind', async () => {
    const { service, deliver, replicated, deadLetters } = replicator();
    await service.start();
    const { event, original } = await storedImage();
    const rotten = Buffer.from(original);
    rotten[1000] ^= 0x01;
    await primary.put(event.original.key, rotten, 'image/jpeg');
    await deliver(event);
    expect(replicated()).toEqual([]);
    expect(deadLetters()).toEqual([expect.objectContaining({ id: event.id, error: expect.objectContaining({ code: 'REPLICA_MISMATCH' }) })]);
    expect(await replicas[0].head(event.original.key)).toBeNull();
  });
});
