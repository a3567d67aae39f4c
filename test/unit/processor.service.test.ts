import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import sharp from 'sharp';
import { AccountDirectory } from '../../shared/accounts';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { loadConfig } from '../../shared/config/config.loader';
import { ConsumerRunner } from '../../shared/consumer/consumer.runner';
import { SCHEMAS, type ImageIngestedEvent, type ImageProcessedEvent, type ProcessingPolicy } from '../../shared/contracts/events';
import { originalKey } from '../../shared/image/object-keys';
import type { EventBus } from '../../shared/ports/event-bus.port';
import { ProcessorService } from '../../services/processor/processor.service';
import { cameraJpeg } from '../helpers/fixtures';
import { assertEvent } from '../helpers/schemas';
import { undecodableJpeg } from '../helpers/undecodable';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Records what the processor publishes; the runner around it is tested on its own. */
function recordingBus() {
  const published: { topic: string; key: string; value: ImageProcessedEvent }[] = [];
  const bus: EventBus = {
    publish: async (topic, key, value) => void published.push({ topic, key, value: value as ImageProcessedEvent }),
    subscribe: async () => ({ stop: async () => undefined }),
    ping: async () => undefined,
    lag: async () => [],
    close: async () => undefined,
  };
  return { bus, published };
}

const thumbOnly: ProcessingPolicy = {
  renditionProfile: 'cams',
  renditions: [{ name: 'thumb', width: 100, height: 100, fit: 'cover', position: 'centre', format: 'webp', quality: 70, metadata: 'strip' }],
  crop: { box: { left: 0, top: 0, width: 50, height: 100, unit: 'percent' } },
};

describe('the processor', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'processor-'));
  const config = loadConfig({ env: {}, overrides: { dataDir: dir, log: { level: 'silent' } } });
  const logger = pino({ level: 'silent' });
  const store = new LocalObjectStore(path.join(dir, 'objects'));
  const { bus, published } = recordingBus();
  const accounts = new AccountDirectory(config, store);
  const processor = new ProcessorService({ config, accounts, store, bus, logger, runner: new ConsumerRunner({ bus, failedTopic: 'f', retry: { initialDelayMs: 1, maxDelayMs: 1 }, logger }) });

  async function ingested(bytes: Buffer, overrides: Partial<ImageIngestedEvent> = {}): Promise<ImageIngestedEvent> {
    const id = sha256(bytes);
    const key = originalKey(id, 'jpg');
    await store.put(key, bytes, 'image/jpeg');
    const receivedAt = new Date().toISOString();
    return {
      schema: SCHEMAS.ingested,
      id,
      receivedAt,
      source: { protocol: 'ftp', account: 'cam1', path: '/a.jpg', remoteAddress: null, receivedAt },
      original: { key, bytes: bytes.length, contentType: 'image/jpeg', location: store.locate(key) },
      policy: thumbOnly,
      ...overrides,
    };
  }

  it('applies the policy the event carries, whatever this process knows of the account', async () => {
    const event = await ingested(await cameraJpeg({ seed: 41, width: 800, height: 600 }));
    assertEvent('ingested', event);
    expect(await processor.handle(event)).toEqual({ status: 'processed' });
    const processed = published.at(-1)!.value;
    assertEvent('processed', processed);
    expect(processed.renditions.map((r) => [r.name, r.width, r.height])).toEqual([['thumb', 100, 100]]);
    expect('policy' in processed).toBe(false);
    const meta = await sharp(await store.getBuffer(processed.renditions[0].key)).metadata();
    expect(meta.format).toBe('webp');
  });

  it('uses the account policy for events written before policies travelled', async () => {
    const event = await ingested(await cameraJpeg({ seed: 42, width: 800, height: 600 }), { policy: undefined });
    expect(await processor.handle(event)).toEqual({ status: 'processed' });
    expect(published.at(-1)!.value.renditions.map((r) => r.name)).toEqual(['thumb', 'preview']);
  });

  it('does not decode identical bytes again under the same policy, and announces the new source', async () => {
    const bytes = await cameraJpeg({ seed: 43, width: 800, height: 600, make: 'Canon' });
    const first = await ingested(bytes);
    await processor.handle(first);
    const firstResult = published.at(-1)!.value;
    // Without the original, a decode would fail: only the kept result can serve the re-upload.
    await store.delete(first.original.key);
    const again = { ...first, source: { ...first.source, path: '/resent/a.jpg', receivedAt: new Date(Date.now() + 1000).toISOString() } };
    expect(await processor.handle(again)).toEqual({ status: 'processed' });
    const second = published.at(-1)!.value;
    expect(second.source.path).toBe('/resent/a.jpg');
    expect(second.renditions).toEqual(firstResult.renditions);
    expect(second.camera).toEqual(firstResult.camera);
    // A different policy is new work, and needs the original again.
    await expect(processor.handle({ ...again, policy: { ...thumbOnly, crop: null } })).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
  });

  it('fails an undecodable image for good but keeps what its metadata says', async () => {
    const event = await ingested(undecodableJpeg(await cameraJpeg({ seed: 44, make: 'Olympus', model: 'D-320L', gps: { lat: 48.1, lon: 11.5 } })));
    const outcome = await processor.handle(event);
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'CORRUPT_IMAGE' } });
    if (outcome.status !== 'failed') throw new Error('unreachable');
    expect(outcome.image).toMatchObject({ original: event.original, camera: { make: 'Olympus', model: 'D-320L' }, gps: { lat: 48.1, lon: 11.5 } });
  });

  it('throws store outages for the runner to retry instead of failing the image', async () => {
    const event = await ingested(await cameraJpeg({ seed: 45, width: 400, height: 300 }));
    const broken = Object.assign(Object.create(Object.getPrototypeOf(store)), store, {
      getFile: async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'STORE_UNAVAILABLE', retriable: true })),
    });
    const flaky = new ProcessorService({ config, accounts, store: broken, bus, logger, runner: new ConsumerRunner({ bus, failedTopic: 'f', retry: { initialDelayMs: 1, maxDelayMs: 1 }, logger }) });
    await expect(flaky.handle(event)).rejects.toThrow('ECONNREFUSED');
  });
});
