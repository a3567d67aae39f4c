export interface BusMessage<T = unknown> {
  topic: string;
  partition: number;
  /** Position in the partition; strings because Kafka offsets exceed 2^53. */
  offset: string;
  key: string;
  value: T;
  /**
   * Message headers as published (Kafka record headers; the embedded log stores them beside the
   * value). Carries the W3C `traceparent` from one service to the next; empty when none were sent.
   */
  headers: Record<string, string>;
}

/** How far one consumer group is behind on one partition. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** The group's next offset to read; null when the group has not committed on this partition yet. */
  committed: string | null;
  /** The offset the next published message will get (Kafka's high watermark). */
  end: string;
  /** Messages published and not yet committed by the group. */
  lag: number;
}

/** What a consumer may do while it holds a message. */
export interface DeliveryContext {
  /**
   * Aborted when this member must let go of the message: the subscription is stopping, or (Kafka)
   * its partition is being reassigned. A handler that sees it stops retrying and rejects; the
   * message stays uncommitted and is delivered again, here or to the new owner.
   */
  signal: AbortSignal;
  /**
   * Tells the group this member is alive. kafkajs heartbeats only between messages, so a handler
   * that waits (a retry backoff, a slow store) must call it or lose its group membership.
   * Cheap to call often: the adapter throttles it.
   */
  heartbeat(): Promise<void>;
}

export interface SubscribeOptions<T = unknown> {
  /** Consumer group: members share the partitions, each group sees every message. */
  group: string;
  topics: string[];
  /**
   * Called once per delivery; the offset is committed only after the returned promise resolves,
   * so a crash redelivers. A rejection leaves the message uncommitted and it is delivered again
   * after a short pause: the bus guarantees delivery, not a retry policy. Policy (backoff, dead
   * letters) belongs to the consumer runner (shared/consumer/consumer.runner.ts), whose handlers
   * reject only when `context.signal` aborts. Messages of one key are never handled concurrently
   * and arrive in order.
   */
  handle: (message: BusMessage<T>, context: DeliveryContext) => Promise<void>;
  /** Messages handled at once by this member (default 1). */
  concurrency?: number;
  /** Where a new group starts: the oldest retained message (default) or only new ones. */
  fromBeginning?: boolean;
}

export interface Subscription {
  /** Stops fetching, waits for in-flight handlers, commits what they finished, leaves the group. */
  stop(): Promise<void>;
}

/** Durable, ordered-per-key, at-least-once publish/subscribe. */
export interface EventBus {
  /**
   * Resolves once the message is durable (fsynced locally, or acked by all in-sync replicas).
   * `headers` travel with the message to every consumer (trace context, not data: the value is
   * the public contract).
   */
  publish(topic: string, key: string, value: object, headers?: Record<string, string>): Promise<void>;
  /**
   * Joins the group and keeps consuming until stop(): a consumer that crashes or loses its group
   * is restarted by the adapter, never left alive and idle.
   */
  subscribe<T>(options: SubscribeOptions<T>): Promise<Subscription>;
  /** Resolves when the bus answers; throws a retriable BUS_UNAVAILABLE when it does not (readiness). */
  ping(): Promise<void>;
  /** Per partition of `topics`, how far `group` is behind; a topic that does not exist yet has none. */
  lag(group: string, topics: string[]): Promise<PartitionLag[]>;
  close(): Promise<void>;
}
