import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ImageProcessedEvent, ImageReplicatedEvent } from '../../shared/contracts/events';
import { registry } from '../../shared/metrics';
import type { BusMessage, Subscription } from '../../shared/ports/event-bus.port';
import { cameraJpeg } from '../helpers/fixtures';
import { startTestApp, type TestApp } from '../helpers/app';
import { assertEvent } from '../helpers/schemas';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Location {
  role: string;
  name: string;
  store: string;
  region?: string;
  key: string;
}

/** Objects the replicator found already intact in the replica, read from /metrics' registry. */
async function presentCopies(): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'image_ingest_replicated_objects_total');
  return (metric?.values ?? []).filter((v) => v.labels.store === 'replica-b' && v.labels.outcome === 'present').reduce((n, v) => n + v.value, 0);
}

describe('replication to a second region (embedded: a second local folder)', () => {
  let t: TestApp;
  let seen: BusMessage<unknown>[];
  let subscription: Subscription;

  beforeAll(async () => {
    t = await startTestApp({
      stores: [
        { name: 'local-a', region: 'eu-west', role: 'primary', local: { dir: 'objects' } },
        { name: 'replica-b', region: 'eu-north', role: 'replica', local: { dir: 'replica' } },
      ],
    });
    seen = [];
    const { processed, replicated } = t.config.bus.topics;
    subscription = await t.app.adapters.bus.subscribe({ group: `replication-check-${Date.now()}`, topics: [processed, replicated], handle: async (m) => void seen.push(m) });
  });
  afterAll(async () => {
    await subscription.stop();
    await t.stop();
  });

  const events = <T>(topic: string, id: string) => seen.filter((m) => m.topic === topic && m.key === id).map((m) => m.value as T);
  const replicaFile = (key: string) => path.join(t.dataDir, 'replica', key);

  it('copies an FTP upload to the replica byte for byte, and the API lists both copies with their regions', async () => {
    const data = await cameraJpeg({ seed: 71, width: 800, height: 600 });
    const id = sha256(data);
    await t.upload('/DCIM/IMG_0071.JPG', data);

    const detail = await waitFor(async () => {
      const { status, body } = await t.api<{ locations: Location[] }>(`/api/images/${id}`);
      return status === 200 && body.locations.some((l) => l.store === 'replica-b') && body;
    }, 30_000, 'the replica locations in the image detail');
    const [processed] = events<ImageProcessedEvent>(t.config.bus.topics.processed, id);
    const objects = [processed.original.key, ...processed.renditions.map((r) => r.key)];
    expect(detail.locations.map((l) => [l.store, l.region, l.role, l.key])).toEqual([
      ...objects.map((key, i) => ['local-a', 'eu-west', i === 0 ? 'original' : 'rendition', key]),
      ...objects.map((key, i) => ['replica-b', 'eu-north', i === 0 ? 'original' : 'rendition', key]),
    ]);
    expect(readFileSync(replicaFile(processed.original.key))).toEqual(data);
    for (const key of objects) expect(readFileSync(replicaFile(key))).toEqual(readFileSync(path.join(t.dataDir, 'objects', key)));

    const [replicated] = events<ImageReplicatedEvent>(t.config.bus.topics.replicated, id);
    assertEvent('replicated', replicated);
    expect(replicated).toMatchObject({ id, store: 'replica-b', region: 'eu-north' });
    expect(replicated.locations[0]).toMatchObject({ role: 'original', bytes: data.length, sha256: id });
  });

  it('copies nothing twice when the same processed event is delivered again', async () => {
    const data = await cameraJpeg({ seed: 72, width: 800, height: 600 });
    const id = sha256(data);
    await t.upload('/DCIM/IMG_0072.JPG', data);
    const { processed, replicated } = t.config.bus.topics;
    const [event] = await waitFor(() => events<ImageProcessedEvent>(replicated, id).length === 1 && events<ImageProcessedEvent>(processed, id), 30_000, 'the first replication');
    const keys = [event.original.key, ...event.renditions.map((r) => r.key)];
    // Each copy was written once, by a rename into place: a second copy would be a new inode.
    const inodes = keys.map((key) => statSync(replicaFile(key)).ino);
    const present = await presentCopies();

    await t.app.adapters.bus.publish(processed, id, event);
    const [first, second] = await waitFor(() => events<ImageReplicatedEvent>(replicated, id).length === 2 && events<ImageReplicatedEvent>(replicated, id), 30_000, 'the second replication');
    expect(second.locations).toEqual(first.locations);
    expect(keys.map((key) => statSync(replicaFile(key)).ino)).toEqual(inodes);
    expect((await presentCopies()) - present).toBe(keys.length);
    const { body } = await t.api<{ locations: Location[] }>(`/api/images/${id}`);
    expect(body.locations.filter((l) => l.store === 'replica-b')).toHaveLength(keys.length);
  });
});
