import { CompressionTypes, Kafka, logLevel, type Admin, type Consumer, type IHeaders, type Producer } from 'kafkajs';
import { IngestError, errorMessage } from '../errors';
import type { Logger } from '../logging';
import type { BusMessage, DeliveryContext, EventBus, PartitionLag, SubscribeOptions, Subscription } from '../ports/event-bus.port';
import { withRetry, type RetryOptions } from '../retry';
import { deliverUntilHandled } from './redelivery';

export interface KafkaEventBusOptions {
  brokers: readonly string[];
  clientId: string;
  partitions: number;
  replicationFactor: number;
  /** A member that stops heartbeating (killed) is dropped after this long, and its partitions move. */
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** How long the group waits for members to rejoin during a rebalance. */
  rebalanceTimeoutMs: number;
  logger: Logger;
}

/** Errors with which the coordinator says this member no longer owns what it holds. */
const LOST_MEMBERSHIP = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID']);

function lostMembership(error: unknown): boolean {
  return LOST_MEMBERSHIP.has((error as { type?: string } | null)?.type ?? '');
}

/** A value that is not JSON reaches the runner as its raw text, which fails the schema and is dead-lettered. */
function parseValue(raw: Buffer | null): unknown {
  const text = raw?.toString() ?? 'null';
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Kafka header values are bytes and may repeat; the port carries one string per name (the last). */
function readHeaders(raw: IHeaders | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) headers[name] = last.toString();
  }
  return headers;
}

/** Consumer restarts after a crash kafkajs gave up on: quick at first, then every 30 s until stopped. */
const RESTART_RETRY: RetryOptions = { initialDelayMs: 1_000, maxDelayMs: 30_000, maxAttempts: Infinity };

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
      // kafkajs's own budget covers leader moves and short blips (about 10 s). Longer outages are the
      // caller's to retry: ingest answers 451 and keeps the spool file, consumers back off in the runner.
      retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 5 },
      logCreator: () => (entry) => {
        const level = LEVELS[entry.level] ?? 'debug';
        this.logger[level]({ namespace: entry.namespace, ...entry.log }, entry.log.message);
      },
    });
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.admin = this.kafka.admin();
  }

  async publish(topic: string, key: string, value: object, headers?: Record<string, string>): Promise<void> {
    try {
      await this.connect();
      await this.ensureTopics([topic]);
      await this.producer.send({
        topic,
        acks: -1,
        compression: CompressionTypes.None,
        messages: [{ key, value: JSON.stringify(value), headers }],
      });
    } catch (error) {
      throw new IngestError('BUS_UNAVAILABLE', `cannot publish to ${topic}: ${errorMessage(error)}`, { retriable: true, cause: error });
    }
  }

  async subscribe<T>(options: SubscribeOptions<T>): Promise<Subscription> {
    const stopping = new AbortController();
    const log = this.logger.child({ group: options.group, topics: options.topics });
    const start = (retry: RetryOptions) =>
      withRetry(() => this.startConsumer(options, stopping.signal, onCrash), {
        ...retry,
        signal: stopping.signal,
        onRetry: (error, attempt, delayMs) => log.warn({ attempt, delayMs, err: errorMessage(error) }, 'subscribe failed, retrying'),
      });
    let current: Promise<Consumer | null>;
    // kafkajs restarts a consumer itself after retriable errors; after any other crash (a commit
    // refused because the member was evicted, say) it stays stopped, and a live process would
    // consume nothing. This replaces it.
    const onCrash = (restarting: boolean, error: unknown) => {
      if (stopping.signal.aborted) return;
      if (restarting) {
        log.warn({ err: errorMessage(error) }, 'consumer crashed; kafkajs restarts it');
        return;
      }
      log.error({ err: errorMessage(error) }, 'consumer crashed and stopped; starting a new one');
      current = current.then(async (old) => {
        await old?.disconnect().catch(() => undefined);
        return start(RESTART_RETRY).catch((startError: unknown) => {
          if (!stopping.signal.aborted) log.error({ err: errorMessage(startError) }, 'consumer could not be restarted');
          return null;
        });
      });
    };
    current = Promise.resolve(await start(STARTUP_RETRY));
    const subscription: Subscription = {
      stop: async () => {
        stopping.abort();
        // disconnect() waits for the message in hand and leaves the group, so its partitions move at
        // once instead of after the session timeout; what it did not finish stays uncommitted.
        await (await current)?.disconnect();
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** One attempt to join the group and start consuming; a consumer that failed half-way is disconnected. */
  private async startConsumer<T>(options: SubscribeOptions<T>, stopping: AbortSignal, onCrash: (restarting: boolean, error: unknown) => void): Promise<Consumer> {
    await this.connect();
    await this.ensureTopics(options.topics);
    const consumer = this.kafka.consumer({
      groupId: options.group,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
      rebalanceTimeout: this.options.rebalanceTimeoutMs,
      allowAutoTopicCreation: false,
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => onCrash(payload.restart, payload.error));
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: options.concurrency ?? 1,
        eachMessage: async ({ topic, partition, message, heartbeat }) => {
          const delivered: BusMessage<T> = {
            topic,
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? '',
            value: parseValue(message.value) as T,
            headers: readHeaders(message.headers),
          };
          const release = new AbortController();
          const onStop = () => release.abort();
          stopping.addEventListener('abort', onStop, { once: true });
          const context: DeliveryContext = {
            signal: release.signal,
            heartbeat: async () => {
              try {
                await heartbeat();
              } catch (error) {
                // The partition is moving to another member: let go of the message, uncommitted.
                if (lostMembership(error)) release.abort();
                throw error;
              }
            },
          };
          try {
            // Throwing (not returning) stops kafkajs from handing over the rest of the batch.
            if (!(await deliverUntilHandled(delivered, options, context, this.logger))) throw new Error('delivery called off (stopping or rebalancing)');
          } finally {
            stopping.removeEventListener('abort', onStop);
          }
          await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        },
      });
      return consumer;
    } catch (error) {
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** Asks the cluster for its brokers: answers only when a broker is reachable and speaks for it. */
  async ping(): Promise<void> {
    try {
      await this.connect();
      await this.admin.describeCluster();
    } catch (error) {
      throw new IngestError('BUS_UNAVAILABLE', `Kafka (${this.options.brokers.join(', ')}) does not answer: ${errorMessage(error)}`, { retriable: true, cause: error });
    }
  }

  /**
   * The group's committed offsets against each partition's high watermark. A partition the group has
   * not committed on counts from the oldest retained message, where a new member starts reading.
   */
  async lag(group: string, topics: string[]): Promise<PartitionLag[]> {
    try {
      await this.connect();
      const existing = new Set(await this.admin.listTopics());
      const present = topics.filter((t) => existing.has(t));
      if (present.length === 0) return [];
      const committed = await this.admin.fetchOffsets({ groupId: group, topics: present });
      const rows: PartitionLag[] = [];
      for (const topic of present) {
        const byPartition = new Map((committed.find((c) => c.topic === topic)?.partitions ?? []).map((p) => [p.partition, p.offset]));
        for (const { partition, high, low } of await this.admin.fetchTopicOffsets(topic)) {
          const offset = byPartition.get(partition);
          // kafkajs answers -1 for a partition without a committed offset.
          const has = offset !== undefined && BigInt(offset) >= 0n;
          const from = has ? BigInt(offset) : BigInt(low);
          rows.push({ topic, partition, committed: has ? offset : null, end: high, lag: Math.max(0, Number(BigInt(high) - from)) });
        }
      }
      return rows;
    } catch (error) {
      throw new IngestError('BUS_UNAVAILABLE', `cannot read the lag of ${group}: ${errorMessage(error)}`, { retriable: true, cause: error });
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
