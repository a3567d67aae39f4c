import pino from 'pino';
import { ConsumerRunner } from '../../shared/consumer/consumer.runner';
import type { ImageFailedEvent, ImageProcessedEvent, ImageReplicatedEvent } from '../../shared/contracts/events';
import { loadConfig } from '../../shared/config/config.loader';
import { IngestError } from '../../shared/errors';
import type { ImageIndex } from '../../shared/ports/image-index.port';
import { IndexerService } from '../../services/indexer/indexer.service';
import { notYetIndexed } from '../../shared/index-document';
import { failedEvent, processedEvent, replicatedEvent } from '../helpers/events';
import { handBus } from '../helpers/hand-bus';
import { waitFor } from '../helpers/wait';

describe('the indexer', () => {
  const config = loadConfig({ env: {} });
  const logger = pino({ level: 'silent' });
  const { processed, failed, replicated } = config.bus.topics;

  function indexer(index: Partial<ImageIndex>) {
    const { bus, published, deliver } = handBus();
    const runner = new ConsumerRunner({ bus, failedTopic: failed, retry: { initialDelayMs: 1, maxDelayMs: 2 }, logger });
    return { service: new IndexerService({ config, index: index as ImageIndex, runner, logger }), published, deliver };
  }

  it('indexes a failed image that carries what could be read of it, and records every dead letter', async () => {
    const calls: string[] = [];
    const { service, deliver } = indexer({
      recordFailure: async (e: ImageFailedEvent) => void calls.push(`failure:${e.id}`),
      upsertFailed: async (e: ImageFailedEvent) => void calls.push(`image:${e.id}`),
    });
    await service.start();
    const withImage = failedEvent({ image: { receivedAt: '2025-03-01T10:00:00.000Z', original: processedEvent().original } });
    const ingestRefusal = failedEvent({ stage: 'ingest', id: null });
    await deliver(failed, withImage);
    await deliver(failed, ingestRefusal);
    expect(calls).toEqual([`failure:${withImage.id}`, `image:${withImage.id}`, `failure:null`]);
  });

  it('dead-letters a processed event the index refuses for good, and moves on', async () => {
    const [refused, fine] = [processedEvent(), processedEvent()];
    const indexed: string[] = [];
    const { service, published, deliver } = indexer({
      upsert: async (e: ImageProcessedEvent) => {
        if (e.id === refused.id) throw new IngestError('INVALID_EVENT', 'mapper_parsing_exception');
        indexed.push(e.id);
      },
    });
    await service.start();
    await deliver(processed, refused);
    await deliver(processed, fine);
    expect(published).toEqual([
      { topic: failed, key: refused.id, value: expect.objectContaining({ id: refused.id, stage: 'indexer', error: { code: 'INVALID_EVENT', message: 'mapper_parsing_exception' }, attempts: 1 }) },
    ]);
    expect(indexed).toEqual([fine.id]);
  });

  it('retries the copies of an image not indexed yet until its processed event is, instead of dead-lettering them', async () => {
    const event = processedEvent();
    const copies = replicatedEvent(event);
    const indexed = new Set<string>();
    const calls: string[] = [];
    const { service, published, deliver } = indexer({
      upsert: async (e: ImageProcessedEvent) => void indexed.add(e.id),
      addLocations: async (e: ImageReplicatedEvent) => {
        calls.push(indexed.has(e.id) ? 'added' : 'not yet');
        if (!indexed.has(e.id)) throw notYetIndexed(e.id);
      },
    });
    await service.start();
    const copying = deliver(replicated, copies);
    await waitFor(() => calls.length >= 2, 5_000, 'a retry');
    await deliver(processed, event);
    await copying;
    expect(calls.at(-1)).toBe('added');
    expect(calls.filter((c) => c === 'added')).toHaveLength(1);
    expect(published).toEqual([]);
  });
});
