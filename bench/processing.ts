import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import sharp from 'sharp';
import { AccountDirectory } from '../shared/accounts';
import { LocalObjectStore } from '../shared/adapters/local-object-store.adapter';
import type { Config } from '../shared/config/config.schema';
import { IngestError } from '../shared/errors';
import { SCHEMAS, type ImageIngestedEvent } from '../shared/contracts/events';
import { IMAGE_TYPE_INFO, sniffImageType } from '../shared/image/image-type';
import { originalKey } from '../shared/image/object-keys';
import type { EventBus } from '../shared/ports/event-bus.port';
import { ConsumerRunner } from '../shared/consumer/consumer.runner';
import { ProcessorService } from '../services/processor/processor.service';
import type { InputSet } from './inputs';

const run = promisify(execFile);

export type Engine = 'project' | 'sharp' | 'imagemagick';

export interface ProcessingResult {
  engine: Engine;
  set: string;
  concurrency: number;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  mbPerSecond: number;
}

/** Runs `task` for 0..n-1 with at most `concurrency` at once; returns the wall time in seconds. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) await task(next++);
  }));
  return (performance.now() - started) / 1000;
}

/** The real ImageMagick (`convert` on PATH may be something else), or null. */
export async function findImageMagick(): Promise<string | null> {
  for (const candidate of ['magick', '/usr/bin/convert', 'convert']) {
    const version = await run(candidate, ['-version']).then((r) => r.stdout, () => '');
    if (version.includes('ImageMagick')) return candidate;
  }
  return null;
}

const nullBus: EventBus = {
  publish: async () => undefined,
  subscribe: async () => ({ stop: async () => undefined }),
  ping: async () => undefined,
  lag: async () => [],
  close: async () => undefined,
};

/**
 * Each engine makes the default renditions (thumb 256x256 cover/attention WebP q80, preview 1280
 * inside JPEG q85) from the same files and writes them to disk.
 */
export async function measureProcessing(config: Readonly<Config>, sets: InputSet[], imagesPerRun: number, concurrencies: number[], magick: string | null): Promise<ProcessingResult[]> {
  const results: ProcessingResult[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-processing-'));
  // Every run must decode: hide the processor's manifests, which would let repeats reuse earlier renditions.
  const store = new (class extends LocalObjectStore {
    override async getBuffer(key: string) {
      if (key.includes('/manifest-')) throw new IngestError('OBJECT_NOT_FOUND', `hidden ${key}`);
      return super.getBuffer(key);
    }
  })(path.join(dir, 'store'));
  const logger = pino({ level: 'silent' });
  const accounts = new AccountDirectory(config, store);
  const runner = new ConsumerRunner({ bus: nullBus, failedTopic: config.bus.topics.failed, retry: config.consumers.retry, logger });
  const processor = new ProcessorService({ config, accounts, store, bus: nullBus, runner, logger });
  const [thumb, preview] = config.renditionProfiles.default;
  try {
    for (const set of sets) {
      const buffers = set.files.map((f) => readFileSync(f));
      const events: ImageIngestedEvent[] = [];
      for (const [i, buffer] of buffers.entries()) {
        const type = sniffImageType(buffer)!;
        const key = originalKey(`${i}`.padStart(64, '0'), IMAGE_TYPE_INFO[type].extension);
        await store.put(key, buffer, IMAGE_TYPE_INFO[type].contentType);
        events.push({
          schema: SCHEMAS.ingested,
          id: `${i}`.padStart(64, '0'),
          receivedAt: new Date().toISOString(),
          source: { protocol: 'cli', account: 'bench', path: set.files[i], remoteAddress: null, receivedAt: new Date().toISOString() },
          original: { key, bytes: buffer.length, contentType: IMAGE_TYPE_INFO[type].contentType, location: store.locate(key) },
        });
      }
      const engines: Record<Engine, ((i: number) => Promise<void>) | null> = {
        project: async (i) => {
          const outcome = await processor.handle(events[i % events.length]);
          if (outcome.status !== 'processed') throw new Error(`project failed on ${set.files[i % events.length]}`);
        },
        // The floor, as a plain script would write it: read the file, one decode shrunk on load to
        // the preview, both outputs from those pixels, written to disk.
        sharp: async (i) => {
          const { data, info } = await sharp(set.files[i % set.files.length], { limitInputPixels: config.limits.maxPixels, failOn: config.limits.failOn })
            .rotate()
            .resize(preview.width, preview.height, { fit: 'inside', withoutEnlargement: true })
            .raw()
            .toBuffer({ resolveWithObject: true });
          const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
          const [a, b] = await Promise.all([
            sharp(data, raw).resize(thumb.width, thumb.height, { fit: 'cover', position: 'attention' }).webp({ quality: thumb.quality }).toBuffer(),
            sharp(data, raw).jpeg({ quality: preview.quality }).toBuffer(),
          ]);
          await Promise.all([writeFile(path.join(dir, `sharp-${i}-thumb.webp`), a), writeFile(path.join(dir, `sharp-${i}-preview.jpg`), b)]);
        },
        imagemagick: magick
          ? async (i) => {
              const input = set.files[i % set.files.length];
              await run(magick, [
                input, '-auto-orient',
                '(', '+clone', '-resize', `${preview.width}x${preview.height}>`, '-quality', String(preview.quality), '-write', path.join(dir, `im-${i}-preview.jpg`), '+delete', ')',
                '-thumbnail', `${thumb.width}x${thumb.height}^`, '-gravity', 'center', '-extent', `${thumb.width}x${thumb.height}`, '-quality', String(thumb.quality), path.join(dir, `im-${i}-thumb.webp`),
              ]);
            }
          : null,
      };
      for (const [engine, task] of Object.entries(engines) as [Engine, ((i: number) => Promise<void>) | null][]) {
        if (!task) continue;
        await task(0); // warm-up: libraries loaded, caches primed
        for (const concurrency of concurrencies) {
          const images = engine === 'imagemagick' ? Math.max(concurrency * 2, Math.ceil(imagesPerRun / 3)) : imagesPerRun;
          const seconds = await pool(images, concurrency, task);
          results.push({
            engine,
            set: set.name,
            concurrency,
            images,
            seconds: +seconds.toFixed(2),
            imagesPerSecond: +(images / seconds).toFixed(2),
            mbPerSecond: +((images * set.meanBytes) / 1e6 / seconds).toFixed(1),
          });
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
