import type { BusMessage, DeliveryContext, EventBus, SubscribeOptions } from '../../shared/ports/event-bus.port';

/**
 * A bus that hands each subscriber's handler to the test, which delivers messages itself (one at a
 * time, awaiting the handler), and records what is published.
 */
export function handBus() {
  const handlers = new Map<string, SubscribeOptions<unknown>['handle']>();
  const published: { topic: string; key: string; value: unknown }[] = [];
  const bus: EventBus = {
    publish: async (topic, key, value) => void published.push({ topic, key, value }),
    subscribe: async <T>(options: SubscribeOptions<T>) => {
      for (const topic of options.topics) handlers.set(topic, options.handle as SubscribeOptions<unknown>['handle']);
      return { stop: async () => undefined };
    },
    ping: async () => undefined,
    lag: async () => [],
    close: async () => undefined,
  };
  const context: DeliveryContext = { signal: new AbortController().signal, heartbeat: async () => undefined };
  let offset = 0;
  const deliver = (topic: string, value: unknown) => {
    const message: BusMessage<unknown> = { topic, partition: 0, offset: String(offset++), key: 'k', value, headers: {} };
    return handlers.get(topic)!(message, context);
  };
  return { bus, published, deliver };
}
