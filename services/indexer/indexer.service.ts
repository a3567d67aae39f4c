import type { Config } from '../../shared/config/config.schema';
import type { ConsumerRunner } from '../../shared/consumer/consumer.runner';
import type { Logger } from '../../shared/logging';
import { uploadToSearchable } from '../../shared/metrics';
import type { Subscription } from '../../shared/ports/event-bus.port';
import type { ImageIndex } from '../../shared/ports/image-index.port';

export interface IndexerDeps {
  config: Readonly<Config>;
  index: ImageIndex;
  runner: ConsumerRunner;
  logger: Logger;
}

/**
 * Makes processed images searchable with the locations of every copy, keeps dead letters for the
 * operators' view, and indexes images that failed processing with what could be read of them, so
 * nothing stored is unfindable.
 */
export class IndexerService {
  private readonly logger: Logger;

  constructor(private readonly deps: IndexerDeps) {
    this.logger = deps.logger.child({ component: 'indexer' });
  }

  async start(): Promise<Subscription[]> {
    const { runner, config, index } = this.deps;
    return Promise.all([
      runner.start({
        stage: 'indexer',
        group: config.bus.groups.indexer,
        topic: config.bus.topics.processed,
        role: 'processed',
        concurrency: config.indexer.concurrency,
        handle: async (event, { offset }, { trace }) => {
          await index.upsert(event);
          // From this delivery's receipt: a re-send is timed from its own upload, not the image's first.
          const seconds = (Date.now() - Date.parse(event.source.receivedAt)) / 1000;
          if (seconds >= 0) uploadToSearchable.observe(seconds);
          this.logger.debug({ imageId: event.id, offset, traceId: trace.traceId }, 'image indexed');
          return { status: 'processed' };
        },
      }),
      runner.start({
        stage: 'indexer',
        group: config.bus.groups.replicas,
        topic: config.bus.topics.replicated,
        role: 'replicated',
        concurrency: config.indexer.concurrency,
        handle: async (event, _message, { trace }) => {
          // An image not indexed yet throws a retriable NOT_YET_INDEXED: the runner retries until its processed event is.
          await index.addLocations(event);
          this.logger.debug({ imageId: event.id, store: event.store, region: event.region, traceId: trace.traceId }, 'replica locations indexed');
          return { status: 'processed' };
        },
      }),
      runner.start({
        stage: 'indexer',
        group: config.bus.groups.failures,
        topic: config.bus.topics.failed,
        role: 'failed',
        handle: async (event, _message, { trace }) => {
          await index.recordFailure(event);
          if (event.id && event.image) await index.upsertFailed(event);
          this.logger.debug({ imageId: event.id, code: event.error.code, traceId: trace.traceId }, 'dead letter recorded');
          return { status: 'processed' };
        },
      }),
    ]);
  }
}
