import type { AccountDirectory } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import {
  SCHEMAS,
  type ImageFailedEvent,
  type ImageIngestedEvent,
  type ImageProcessedEvent,
  type Rendition,
} from '../../shared/contracts/events';
import { IngestError, isRetriable } from '../../shared/errors';
import { IMAGE_TYPE_INFO, IMAGE_TYPES, type ImageType } from '../../shared/image/image-type';
import { renditionKey } from '../../shared/image/object-keys';
import type { Logger } from '../../shared/logging';
import type { EventBus, Subscription } from '../../shared/ports/event-bus.port';
import type { ObjectStore } from '../../shared/ports/object-store.port';
import { extractMetadata, type ExtractedMetadata } from './exif.extractor';
import { renderImage } from './image.renderer';

export type ProcessOutcome = 'processed' | 'failed';

export interface ProcessorDeps {
  config: Readonly<Config>;
  accounts: AccountDirectory;
  store: ObjectStore;
  bus: EventBus;
  logger: Logger;
}

const EXTENSIONS: Record<string, string> = { jpeg: 'jpg', webp: 'webp', png: 'png', avif: 'avif' };

function imageType(contentType: string): ImageType {
  const type = IMAGE_TYPES.find((t) => IMAGE_TYPE_INFO[t].contentType === contentType);
  if (!type) throw new IngestError('UNSUPPORTED_TYPE', `no decoder for ${contentType}`);
  return type;
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

/** Turns an ingested original into metadata and renditions: `images.ingested` → `images.processed`. */
export class ProcessorService {
  private readonly logger: Logger;

  constructor(private readonly deps: ProcessorDeps) {
    this.logger = deps.logger.child({ component: 'processor' });
  }

  start(): Promise<Subscription> {
    return this.deps.bus.subscribe<ImageIngestedEvent>({
      group: 'processor',
      topics: [this.deps.config.bus.topics.ingested],
      concurrency: this.deps.config.processor.concurrency,
      handle: async (message) => {
        await this.handle(message.value);
      },
    });
  }

  /**
   * Permanent failures become dead letters and count as handled; transient ones (store or bus
   * down) are thrown so the bus redelivers the message after a backoff.
   */
  async handle(event: ImageIngestedEvent): Promise<ProcessOutcome> {
    const started = performance.now();
    const log = this.logger.child({ imageId: event.id, account: event.source.account });
    try {
      const processed = await this.process(event, started);
      await this.deps.bus.publish(this.deps.config.bus.topics.processed, event.id, processed);
      log.info({ ms: processed.processingMs, renditions: processed.renditions.length }, 'image processed');
      return 'processed';
    } catch (error) {
      if (isRetriable(error)) throw error;
      const failure = error as IngestError;
      log.warn({ code: failure.code, err: failure.message }, 'image cannot be processed');
      const dead: ImageFailedEvent = {
        schema: SCHEMAS.failed,
        id: event.id,
        stage: 'processor',
        error: { code: failure.code, message: failure.message },
        attempts: 1,
        source: event.source,
        failedAt: new Date().toISOString(),
      };
      await this.deps.bus.publish(this.deps.config.bus.topics.failed, event.id, dead);
      return 'failed';
    }
  }

  private async process(event: ImageIngestedEvent, started: number): Promise<ImageProcessedEvent> {
    const { config, store } = this.deps;
    const account = this.deps.accounts.find(event.source.account);
    const profile = account?.renditionProfile ?? 'default';
    const renditions = config.renditionProfiles[profile] ?? config.renditionProfiles.default;
    const input = await store.getBuffer(event.original.key);
    const type = imageType(event.original.contentType);
    const metadata = await extractMetadata(input, type);
    const rendered = await renderImage({
      input,
      type,
      crop: account?.crop,
      renditions,
      limits: config.limits,
      keptExif: keptExif(metadata),
    });
    const stored: Rendition[] = await Promise.all(
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
    );
    const { schema: _schema, ...ingested } = event;
    return {
      schema: SCHEMAS.processed,
      ...ingested,
      ...metadata,
      width: rendered.width,
      height: rendered.height,
      renditions: stored,
      locations: [
        { role: 'original', name: 'original', ...event.original.location },
        ...stored.map((r) => ({ role: 'rendition' as const, name: r.name, ...r.location })),
      ],
      processedAt: new Date().toISOString(),
      processingMs: Math.round(performance.now() - started),
    };
  }
}
