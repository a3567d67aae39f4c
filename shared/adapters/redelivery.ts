import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../errors';
import type { Logger } from '../logging';
import type { BusMessage, DeliveryContext, SubscribeOptions } from '../ports/event-bus.port';

/** Pause before a rejected message is handed over again; the runner's own backoff lives above this. */
const REDELIVERY_PAUSE_MS = 1_000;

/**
 * Both bus adapters deliver this way: a handler that rejects gets the same message again, so it is
 * neither skipped nor reordered. Returns false when the delivery was called off (context.signal);
 * the caller must then leave the message uncommitted.
 */
export async function deliverUntilHandled<T>(message: BusMessage<T>, options: SubscribeOptions<T>, context: DeliveryContext, logger: Logger): Promise<boolean> {
  for (;;) {
    try {
      await options.handle(message, context);
      return true;
    } catch (error) {
      if (context.signal.aborted) return false;
      logger.warn(
        { topic: message.topic, partition: message.partition, offset: message.offset, key: message.key, group: options.group, err: errorMessage(error) },
        'handler rejected the message; delivering it again',
      );
      await sleep(REDELIVERY_PAUSE_MS, undefined, { signal: context.signal }).catch(() => undefined);
      if (context.signal.aborted) return false;
    }
  }
}
