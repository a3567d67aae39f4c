import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageFailedEvent, ImageProcessedEvent } from '../../shared/contracts/events';
import { eventProblems } from '../../shared/contracts/validate';
import { errorMessage, isRetriable } from '../../shared/errors';
import type { BusMessage } from '../../shared/ports/event-bus.port';
import { UsageError, parseCommandArgs, startProgress, type CommandContext } from './cli.io';

export const REINDEX_USAGE = `  npm run cli -- reindex [--from topic]
                 (replays images.processed and images.failed from their oldest retained message into the index)`;

/**
 * Why `--from store` is refused: the store holds what processing made (originals, renditions, one
 * manifest per policy) but not who sent an image, from which path and when: manifests leave out
 * source and receivedAt, and originals are named by their hash alone. A document without sources
 * would hide the image from account searches, so the topic is the only complete record.
 */
const STORE_INFEASIBLE =
  '--from store is not supported: the store keeps originals, renditions and per-policy manifests but not the ' +
  'senders (source, path, receivedAt) an index document needs; replay the topic instead (--from topic)';

/** How often the replay checks whether its group has caught up with the topics. */
const POLL_MS = 250;

/**
 * `cli reindex`: a fresh consumer group reads both topics from the beginning and merges every
 * event into the index as the indexer would. The index merges idempotently, so this rebuilds an
 * emptied index and leaves a full one as it was.
 */
export async function reindexCommand(ctx: CommandContext, args: string[], now = Date.now()): Promise<number> {
  const usage = `usage:\n${REINDEX_USAGE}`;
  const { values, positionals } = parseCommandArgs(args, { from: { type: 'string', default: 'topic' } }, usage);
  if (values.help) {
    ctx.io.out(usage);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(usage);
  if (values.from === 'store') throw new UsageError(STORE_INFEASIBLE);
  if (values.from !== 'topic') throw new UsageError(`--from must be topic (or store, which is explained by --from store), not "${values.from}"`);
  const { adapters, config, io, logger } = ctx;
  const { processed, failed } = config.bus.topics;
  const topics = [processed, failed];
  const group = `reindex-${now}`;
  const behind = async () => (await adapters.bus.lag(group, topics)).reduce((sum, p) => sum + p.lag, 0);
  const total = await behind();
  const progress = startProgress(io, 'reindex', total);
  const counts = { processed: 0, failed: 0, invalid: 0 };
  const started = Date.now();
  const handle = async (message: BusMessage<unknown>) => {
    const role = message.topic === processed ? 'processed' : 'failed';
    const problems = eventProblems(role, message.value);
    if (problems) {
      counts.invalid++;
      logger.warn({ topic: message.topic, offset: message.offset, problems }, 'event skipped: it fails its schema');
    } else if (role === 'processed') {
      await adapters.index.upsert(message.value as ImageProcessedEvent);
      counts.processed++;
    } else {
      const event = message.value as ImageFailedEvent;
      await adapters.index.recordFailure(event);
      if (event.id && event.image) await adapters.index.upsertFailed(event);
      counts.failed++;
    }
    progress.tick(1, `${counts.processed} processed, ${counts.failed} failed`);
  };
  const subscription = await adapters.bus.subscribe<unknown>({
    group,
    topics,
    fromBeginning: true,
    concurrency: config.indexer.concurrency,
    handle: async (message) => {
      try {
        await handle(message);
      } catch (error) {
        // Uncommitted, so delivered again after a pause; an outage of the index shows here.
        if (isRetriable(error)) logger.warn({ err: errorMessage(error) }, 'index unavailable; the event is retried');
        throw error;
      }
    },
  });
  try {
    let known = total;
    for (let left = total; left > 0; left = await behind()) {
      // Events published while the replay runs are replayed too.
      if (progress.done() + left > known) progress.setTotal((known = progress.done() + left));
      await sleep(POLL_MS);
    }
  } finally {
    await subscription.stop();
    progress.stop();
  }
  io.out(
    `reindexed ${counts.processed} processed and ${counts.failed} failed event(s) from ${topics.join(', ')} ` +
      `(group ${group}; ${counts.invalid} invalid skipped) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  if (config.adapters === 'embedded') {
    io.err(`note: the embedded log keeps messages for bus.retentionHours (${config.bus.retentionHours} h) once every group has read them; older images are not in the replay`);
  }
  return counts.invalid > 0 ? 1 : 0;
}
