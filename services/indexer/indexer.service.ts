import type { Config } from '../../shared/config/config.schema';
import type { ImageFailedEvent, ImageProcessedEvent } from '../../shared/contracts/events';
import type { Logger } from '../../shared/logging';
import type { EventBus, Subscription } from '../../shared/ports/event-bus.port';
import type { ImageIndex } from '../../shared/ports/image-index.port';

export interface IndexerDeps {
  config: Readonly<Config>;
  bus: EventBus;
  index: ImageIndex;
  logger: Logger;
}

/** Makes processed images searchable and keeps dead letters for the operators' view. */
export class IndexerService {
  private readonly logger: Logger;

  constructor(private readonly deps: IndexerDeps) {
    this.logger = deps.logger.child({ component: 'indexer' });
  }

  async start(): Promise<Subscription[]> {
    const { bus, config, index } = this.deps;
    return Promise.all([
      bus.subscribe<ImageProcessedEvent>({
        group: 'indexer',
        topics: [config.bus.topics.processed],
        concurrency: config.indexer.concurrency,
        handle: async ({ value, offset }) => {
          await index.upsert(value);
          this.logger.debug({ imageId: value.id, offset }, 'image indexed');
        },
      }),
      bus.subscribe<ImageFailedEvent>({
        group: 'indexer-failures',
        topics: [config.bus.topics.failed],
        handle: async ({ value }) => {
          await index.recordFailure(value);
        },
      }),
    ]);
  }
}
