import { createHash } from 'node:crypto';
import type { AccountDirectory } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import {
  SCHEMAS,
  type FailedImage,
  type ImageIngestedEvent,
  type ImageProcessedEvent,
  type ProcessingPolicy,
  type Rendition,
} from '../../shared/contracts/events';
import type { ConsumerRunner, HandlerOutcome } from '../../shared/consumer/consumer.runner';
import { IngestError, isRetriable } from '../../shared/errors';
import { processingSeconds, type ProcessingStage } from '../../shared/metrics';
import { IMAGE_TYPE_INFO, IMAGE_TYPES, type ImageType } from '../../shared/image/image-type';
import { manifestKey, renditionKey } from '../../shared/image/object-keys';
import type { Logger } from '../../shared/logging';
import type { EventBus, Subscription } from '../../shared/ports/event-bus.port';
import type { ObjectStore } from '../../shared/ports/object-store.port';
import type { TraceContext } from '../../shared/tracing';
import { extractMetadata, type ExtractedMetadata } from './exif.extractor';
import { renderImage } from './image.renderer';

export interface ProcessorDeps {
  config: Readonly<Config>;
  accounts: AccountDirectory;
  store: ObjectStore;
  bus: EventBus;
  runner: ConsumerRunner;
  logger: Logger;
}

/** What processing an image under one policy yields, whoever sent it: kept beside the renditions for re-uploads. */
type Manifest = Omit<ImageProcessedEvent, 'schema' | 'id' | 'receivedAt' | 'source' | 'original' | 'processedAt' | 'processingMs'>;

const EXTENSIONS: Record<string, string> = { jpeg: 'jpg', webp: 'webp', png: 'png', avif: 'avif' };

function imageType(contentType: string): ImageType {
  const type = IMAGE_TYPES.find((t) => IMAGE_TYPE_INFO[t].contentType === contentType);
  if (!type) throw new IngestError('UNSUPPORTED_TYPE', `no decoder for ${contentType}`);
  return type;
}

/** Names a policy by what it makes, so a renamed but identical profile still reuses its renditions. */
function policyHash(policy: ProcessingPolicy): string {
  return createHash('sha256').update(JSON.stringify({ renditions: policy.renditions, crop: policy.crop })).digest('hex').slice(0, 16);
}

/** EXIF a "keep" rendition carries: who, what camera, when. Never GPS: renditions travel further than originals. */
function keptExif(meta: ExtractedMetadata): Record<string, Record<string, string>> {
  const ifd0: Record<string, string> = {};
  const exif: Record<string, string> = {};
  if (meta.camera.make) ifd0.Make = meta.camera.make;
  if (meta.camera.model) ifd0.Model = meta.camera.model;
  if (meta.creator) ifd0.Artist = meta.creator;
  if (meta.copyright) ifd0.Copyright = meta.copyright;
  const time = meta.capturedAt?.match(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?([+-]\d{2}:\d{2})?$/);
  if (time) {
    exif.DateTimeOriginal = `${time[1]}:${time[2]}:${time[3]} ${time[4]}`;
    if (time[5]) exif.OffsetTimeOriginal = time[5];
  }
  return { IFD0: ifd0, IFD2: exif };
}

/** Runs one stage of processing and records how long it took, failed or not. */
async function timed<T>(stage: ProcessingStage, work: () => Promise<T>): Promise<T> {
  const end = processingSeconds.startTimer({ stage });
  try {
    return await work();
  } finally {
    end();
  }
}

/** Turns an ingested original into metadata and renditions: `images.ingested` → `images.processed`. */
export class ProcessorService {
  private readonly logger: Logger;

  constructor(private readonly deps: ProcessorDeps) {
    this.logger = deps.logger.child({ component: 'processor' });
  }

  start(): Promise<Subscription> {
    const { config, runner } = this.deps;
    return runner.start({
      stage: 'processor',
      group: config.bus.groups.processor,
      topic: config.bus.topics.ingested,
      role: 'ingested',
      concurrency: config.processor.concurrency,
      handle: (event, _message, { trace }) => this.handle(event, trace),
    });
  }

  /**
   * Processed, or failed for good (the runner dead-letters it; the image is still indexed with what
   * could be read). Transient faults (store or bus down) are thrown for the runner to retry.
   */
  async handle(event: ImageIngestedEvent, trace?: TraceContext): Promise<HandlerOutcome> {
    const started = performance.now();
    const log = this.logger.child({ imageId: event.id, account: event.source.account, traceId: trace?.traceId });
    // Events from before policies travelled carry none: the account's current one is the best guess.
    const policy = event.policy ?? this.deps.accounts.policy(event.source.account);
    const key = manifestKey(event.id, policyHash(policy));
    let manifest = await this.readManifest(key);
    const reused = manifest !== null;
    if (!manifest) {
      const made = await this.process(event, policy);
      if ('failure' in made) {
        log.warn({ code: made.failure.code, err: made.failure.message }, 'image cannot be processed');
        return { status: 'failed', error: made.failure, image: made.image };
      }
      manifest = made.manifest;
      await this.deps.store.put(key, Buffer.from(JSON.stringify(manifest)), 'application/json');
    }
    const { schema: _schema, policy: _policy, ...ingested } = event;
    const processed: ImageProcessedEvent = {
      schema: SCHEMAS.processed,
      ...ingested,
      ...manifest,
      processedAt: new Date().toISOString(),
      processingMs: Math.round(performance.now() - started),
    };
    await this.deps.bus.publish(this.deps.config.bus.topics.processed, event.id, processed, trace?.headers);
    processingSeconds.observe({ stage: 'total' }, (performance.now() - started) / 1000);
    log.info({ ms: processed.processingMs, renditions: processed.renditions.length, reused }, 'image processed');
    return { status: 'processed' };
  }

  /** One read: a first upload costs a miss, not a HEAD and then a GET for every re-upload. */
  private async readManifest(key: string): Promise<Manifest | null> {
    try {
      return JSON.parse((await this.deps.store.getBuffer(key)).toString('utf8')) as Manifest;
    } catch (error) {
      if (error instanceof IngestError && error.code === 'OBJECT_NOT_FOUND') return null;
      throw error;
    }
  }

  private async process(event: ImageIngestedEvent, policy: ProcessingPolicy): Promise<{ manifest: Manifest } | { failure: IngestError; image: FailedImage }> {
    const { config, store } = this.deps;
    // By path, not in memory: originals can be hundreds of megabytes and several are processed at once.
    const original = await timed('read', () => store.getFile(event.original.key));
    let metadata: ExtractedMetadata | null = null;
    try {
      const type = imageType(event.original.contentType);
      const read = await timed('metadata', () => extractMetadata(original.path, type));
      metadata = read;
      const rendered = await timed('render', () =>
        renderImage({
          input: original.path,
          type,
          crop: policy.crop ?? undefined,
          renditions: policy.renditions,
          limits: config.limits,
          keptExif: keptExif(read),
        }),
      );
      const stored: Rendition[] = await timed('write', () =>
        Promise.all(
          rendered.outputs.map(async (output) => {
            const key = renditionKey(event.id, output.name, EXTENSIONS[output.format]);
            const object = await store.put(key, output.data, output.contentType);
            return {
              name: output.name,
              key,
              width: output.width,
              height: output.height,
              bytes: object.bytes,
              format: output.format,
              contentType: output.contentType,
              location: store.locate(key),
            };
          }),
        ),
      );
      return {
        manifest: {
          ...metadata,
          width: rendered.width,
          height: rendered.height,
          renditions: stored,
          locations: [
            { role: 'original', name: 'original', ...event.original.location },
            ...stored.map((r) => ({ role: 'rendition' as const, name: r.name, ...r.location })),
          ],
        },
      };
    } catch (error) {
      if (isRetriable(error) || !(error instanceof IngestError)) throw error;
      return { failure: error, image: { receivedAt: event.receivedAt, original: event.original, ...(metadata ?? {}) } };
    } finally {
      await original.release();
    }
  }
}
