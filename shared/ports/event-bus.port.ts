export interface BusMessage<T = unknown> {
  topic: string;
  partition: number;
  /** Position in the partition; strings because Kafka offsets exceed 2^53. */
  offset: string;
  key: string;
  value: T;
}

export interface SubscribeOptions<T = unknown> {
  /** Consumer group: members share the partitions, each group sees every message. */
  group: string;
  topics: string[];
  /**
   * Called once per message; the offset is committed only after the returned promise resolves, so
   * a crash redelivers. A rejection redelivers the same message after a backoff. Messages of one key
   * are never handled concurrently and arrive in order.
   */
  handle: (message: BusMessage<T>) => Promise<void>;
  /** Messages handled at once by this member (default 1). */
  concurrency?: number;
  /** Where a new group starts: the oldest retained message (default) or only new ones. */
  fromBeginning?: boolean;
}

export interface Subscription {
  /** Stops fetching, waits for in-flight handlers, commits what they finished. */
  stop(): Promise<void>;
}

/** Durable, ordered-per-key, at-least-once publish/subscribe. */
export interface EventBus {
  /** Resolves once the message is durable (fsynced locally, or acked by all in-sync replicas). */
  publish(topic: string, key: string, value: object): Promise<void>;
  subscribe<T>(options: SubscribeOptions<T>): Promise<Subscription>;
  close(): Promise<void>;
}
