import { CompressionTypes, Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { IngestError, errorMessage } from '../errors';
import type { Logger } from '../logging';
import type { BusMessage, EventBus, SubscribeOptions, Subscription } from '../ports/event-bus.port';
import { withRetry, type RetryOptions } from '../retry';
import { handleUntilDone } from './redelivery';

export interface KafkaEventBusOptions {
  brokers: readonly string[];
  clientId: string;
  partitions: number;
  replicationFactor: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  logger: Logger;
}

/**
 * Replicas start together: one creates a topic while another already sees its name but not yet its
 * partition leaders, and the broker answers "does not host this topic-partition" for a few seconds.
 * Start-up waits that out (about 30 s in all) instead of exiting.
 */
const STARTUP_RETRY: RetryOptions = { initialDelayMs: 250, maxDelayMs: 4_000, maxAttempts: 12 };

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * Kafka through kafkajs: acks from all in-sync replicas, an idempotent producer, and consumers that
 * commit an offset only after the handler's side effects are done. Order per key comes from
 * Kafka's partitioning by key and one message at a time per partition.
 */
export class KafkaEventBus implements EventBus {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly logger: Logger;
  private readonly known = new Set<string>();
  private readonly subscriptions = new Set<Subscription>();
  private connecting: Promise<void> | null = null;

  constructor(private readonly options: KafkaEventBusOptions) {
    this.logger = options.logger.child({ component: 'kafka' });
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      retry: { initialRetryTime: 300, retries: 8 },
      logCreator: () => (entry) => {
        const level = LEVELS[entry.level] ?? 'debug';
        this.logger[level]({ namespace: entry.namespace, ...entry.log }, entry.log.message);
      },
    });
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.admin = this.kafka.admin();
  }

  async publish(topic: string, key: string, value: object): Promise<void> {
    try {
      await this.connect();
      await this.ensureTopics([topic]);
      await this.producer.send({
        topic,
        acks: -1,
        compression: CompressionTypes.None,
        messages: [{ key, value: JSON.stringify(value) }],
      });
    } catch (error) {
      throw new IngestError('BUS_UNAVAILABLE', `cannot publish to ${topic}: ${errorMessage(error)}`, { retriable: true, cause: error });
    }
  }

  async subscribe<T>(options: SubscribeOptions<T>): Promise<Subscription> {
    const stopping = new AbortController();
    const consumer = await withRetry(() => this.startConsumer(options, stopping.signal), {
      ...STARTUP_RETRY,
      onRetry: (error, attempt, delayMs) => this.logger.warn({ group: options.group, topics: options.topics, attempt, delayMs, err: errorMessage(error) }, 'subscribe failed, retrying'),
    });
    const subscription: Subscription = {
      stop: async () => {
        stopping.abort();
        // disconnect() waits for the message in hand; what it did not finish stays uncommitted.
        await consumer.disconnect();
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** One attempt to join the group and start consuming; a consumer that failed half-way is disconnected. */
  private async startConsumer<T>(options: SubscribeOptions<T>, stopping: AbortSignal): Promise<Consumer> {
    await this.connect();
    await this.ensureTopics(options.topics);
    const consumer = this.kafka.consumer({
      groupId: options.group,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
      allowAutoTopicCreation: false,
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: options.concurrency ?? 1,
        eachMessage: async ({ topic, partition, message }) => {
          const delivered: BusMessage<T> = {
            topic,
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? '',
            value: JSON.parse(message.value?.toString() ?? 'null') as T,
          };
          // Throwing (not returning) stops kafkajs from handing over the rest of the batch.
          if (!(await handleUntilDone(delivered, options, stopping, this.logger))) throw new Error('consumer stopping');
          await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        },
      });
      return consumer;
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    if (this.connecting) {
      await this.connecting.catch(() => undefined);
      await Promise.all([this.producer.disconnect(), this.admin.disconnect()]);
    }
  }

  private connect(): Promise<void> {
    this.connecting ??= Promise.all([this.producer.connect(), this.admin.connect()]).then(() => undefined);
    return this.connecting.catch((error: unknown) => {
      this.connecting = null;
      throw error;
    });
  }

  /**
   * Creates missing topics with the configured partitions (existing ones are left as they are), then
   * waits until every partition has a leader, also for a topic another replica has just created.
   */
  private async ensureTopics(topics: string[]): Promise<void> {
    const missing = topics.filter((t) => !this.known.has(t));
    if (missing.length === 0) return;
    const existing = new Set(await this.admin.listTopics());
    const create = missing.filter((t) => !existing.has(t));
    if (create.length > 0) {
      const created = await this.admin.createTopics({
        waitForLeaders: true,
        topics: create.map((topic) => ({ topic, numPartitions: this.options.partitions, replicationFactor: this.options.replicationFactor })),
      });
      if (created) this.logger.info({ topics: create, partitions: this.options.partitions }, 'topics created');
    }
    await withRetry(async () => {
      const { topics: described } = await this.admin.fetchTopicMetadata({ topics: missing });
      const leaderless = described.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0)).map((t) => t.name);
      if (leaderless.length > 0) throw new Error(`no partition leader yet for ${leaderless.join(', ')}`);
    }, STARTUP_RETRY);
    missing.forEach((t) => this.known.add(t));
  }
}
