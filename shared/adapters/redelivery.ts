import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../errors';
import type { Logger } from '../logging';
import type { BusMessage, SubscribeOptions } from '../ports/event-bus.port';

/**
 * Both bus adapters deliver this way: the handler is retried in place with exponential backoff, so a
 * transient fault neither skips the message nor reorders its key. Returns false when the consumer
 * stopped first; the caller must then leave the message uncommitted.
 */
export async function handleUntilDone<T>(message: BusMessage<T>, options: SubscribeOptions<T>, signal: AbortSignal, logger: Logger): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await options.handle(message);
      return true;
    } catch (error) {
      logger.warn(
        { topic: message.topic, partition: message.partition, offset: message.offset, key: message.key, group: options.group, attempt, err: errorMessage(error) },
        'handler failed, message will be redelivered',
      );
      if (signal.aborted) return false;
      await sleep(Math.min(30_000, 200 * 2 ** Math.min(attempt, 8)), undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return false;
    }
  }
}
