import { createHash, randomUUID } from 'node:crypto';
import { SCHEMAS, type ImageFailedEvent, type ImageProcessedEvent, type ImageReplicatedEvent, type ImageSource } from '../../shared/contracts/events';

export function fakeId(): string {
  return createHash('sha256').update(randomUUID()).digest('hex');
}

export function source(overrides: Partial<ImageSource> = {}): ImageSource {
  return { protocol: 'ftp', account: 'cam1', path: '/DCIM/IMG_0001.JPG', remoteAddress: '127.0.0.1', receivedAt: '2025-03-01T10:00:00.000Z', ...overrides };
}

/** A valid images.processed/v1 event; tests override what they look at. */
export function processedEvent(overrides: Partial<ImageProcessedEvent> = {}): ImageProcessedEvent {
  const id = overrides.id ?? fakeId();
  const loc = (key: string) => ({ store: 'local', bucket: null, key, url: `file:///data/${key}` });
  const originalKey = `originals/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}.jpg`;
  const thumbKey = `renditions/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}/thumb.webp`;
  const src = overrides.source ?? source();
  return {
    schema: SCHEMAS.processed,
    id,
    receivedAt: src.receivedAt,
    source: src,
    original: { key: originalKey, bytes: 1234, contentType: 'image/jpeg', location: loc(originalKey) },
    capturedAt: '2025-03-01T09:59:00+01:00',
    camera: { make: 'Canon', model: 'EOS R5', serial: '0042' },
    gps: { lat: 52.52, lon: 13.405, alt: 34 },
    width: 1600,
    height: 1200,
    orientation: 1,
    exposure: { exposureTime: 0.004, fNumber: 2.8, iso: 400, focalLength: 50, lensModel: null, software: null },
    keywords: [],
    caption: null,
    title: null,
    creator: null,
    copyright: null,
    renditions: [{ name: 'thumb', key: thumbKey, width: 256, height: 256, bytes: 999, format: 'webp', contentType: 'image/webp', location: loc(thumbKey) }],
    locations: [
      { role: 'original', name: 'original', ...loc(originalKey) },
      { role: 'rendition', name: 'thumb', ...loc(thumbKey) },
    ],
    processedAt: '2025-03-01T10:00:01.000Z',
    processingMs: 120,
    ...overrides,
  };
}

/**
 * A processor failure whose original is stored and partly readable: camera and capture time were
 * read, the pixels could not be decoded.
 */
export function failedImageEvent(overrides: Partial<ImageFailedEvent> = {}): ImageFailedEvent {
  const id = overrides.id ?? fakeId();
  const src = overrides.source ?? source();
  const { original } = processedEvent({ id });
  return failedEvent({
    id,
    source: src,
    image: { receivedAt: src.receivedAt, original, capturedAt: '2025-03-01T09:58:00+01:00', camera: { make: 'Canon', model: 'EOS R5', serial: null } },
    ...overrides,
  });
}

export function failedEvent(overrides: Partial<ImageFailedEvent> = {}): ImageFailedEvent {
  return {
    schema: SCHEMAS.failed,
    id: fakeId(),
    stage: 'processor',
    error: { code: 'CORRUPT_IMAGE', message: 'VipsJpeg: premature end of JPEG image' },
    attempts: 1,
    source: source(),
    failedAt: '2025-03-01T10:00:02.000Z',
    ...overrides,
  };
}

/** A valid images.replicated/v1 event: every object of `processed` copied to the replica store `store`. */
export function replicatedEvent(processed: ImageProcessedEvent, store = 'replica-b', region = 'eu-north'): ImageReplicatedEvent {
  return {
    schema: SCHEMAS.replicated,
    id: processed.id,
    store,
    region,
    locations: processed.locations.map(({ role, name, key }) => ({
      store,
      bucket: 'images',
      key,
      url: `https://${store}.example/images/${key}`,
      region,
      role,
      name,
      bytes: 1234,
      sha256: processed.id,
    })),
    replicatedAt: '2025-03-01T10:00:05.000Z',
  };
}
