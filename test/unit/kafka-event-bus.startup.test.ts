import pino from 'pino';

// The broker's half-made-topic window is milliseconds wide on a real broker; a scripted kafkajs makes it certain.
const script = {
  listTopics: [] as string[][],
  leaders: [] as number[][],
  subscribeErrors: [] as Error[],
  consumersDisconnected: 0,
  runs: 0,
  /** kafkajs's CRASH listeners, one per consumer created. */
  crashListeners: [] as ((event: { payload: { restart: boolean; error: Error } }) => void)[],
};

jest.mock('kafkajs', () => {
  const actual = jest.requireActual('kafkajs');
  class Kafka {
    producer() {
      return { connect: async () => undefined, disconnect: async () => undefined, send: async () => undefined };
    }
    admin() {
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        listTopics: async () => script.listTopics.shift() ?? ['images.processed'],
        createTopics: async () => false,
        fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
          const leaders = script.leaders.shift() ?? [0];
          return { topics: topics.map((name) => ({ name, partitions: leaders.map((leader, partitionId) => ({ partitionId, leader })) })) };
        },
      };
    }
    consumer() {
      return {
        events: { CRASH: 'consumer.crash' },
        on: (_event: string, listener: (typeof script.crashListeners)[number]) => void script.crashListeners.push(listener),
        connect: async () => undefined,
        subscribe: async () => {
          const error = script.subscribeErrors.shift();
          if (error) throw error;
        },
        run: async () => void script.runs++,
        disconnect: async () => void script.consumersDisconnected++,
        commitOffsets: async () => undefined,
      };
    }
  }
  return { ...actual, Kafka };
});

import { KafkaJSProtocolError } from 'kafkajs';
import { KafkaEventBus } from '../../shared/adapters/kafka-event-bus.adapter';
import { waitFor } from '../helpers/wait';

// Code 3, as the broker sent it in the CI run where a fresh indexer died at start.
const unknownTopicPartition = () => new KafkaJSProtocolError(Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true }));

const bus = () =>
  new KafkaEventBus({ brokers: ['127.0.0.1:1'], clientId: 't', partitions: 3, replicationFactor: 1, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, rebalanceTimeoutMs: 10_000, logger: pino({ level: 'silent' }) });

describe('KafkaEventBus start-up next to a replica that is creating the topic', () => {
  it('waits until every partition has a leader before it subscribes', async () => {
    script.leaders.push([0, -1, -1], [0, 0, -1]);
    await bus().subscribe({ group: 'indexer', topics: ['images.processed'], handle: async () => undefined });
    expect(script.leaders).toEqual([]);
    expect(script.runs).toBe(1);
  });

  it('retries a subscribe the broker refused for an unknown topic-partition, without leaking the consumer', async () => {
    script.runs = 0;
    script.consumersDisconnected = 0;
    script.subscribeErrors.push(unknownTopicPartition(), unknownTopicPartition());
    await bus().subscribe({ group: 'indexer', topics: ['images.processed'], handle: async () => undefined });
    expect(script.subscribeErrors).toEqual([]);
    expect(script.runs).toBe(1);
    expect(script.consumersDisconnected).toBe(2);
  });

});

describe('KafkaEventBus after a consumer crash', () => {
  it('replaces a consumer that kafkajs stopped for good, so the process never sits idle', async () => {
    script.runs = 0;
    script.consumersDisconnected = 0;
    script.crashListeners.length = 0;
    const subscription = await bus().subscribe({ group: 'indexer', topics: ['images.processed'], handle: async () => undefined });
    expect(script.runs).toBe(1);
    // As kafkajs reports a commit refused because the coordinator evicted the member.
    script.crashListeners[0]({ payload: { restart: false, error: new Error('The coordinator is not aware of this member') } });
    await waitFor(() => script.runs === 2, 5_000, 'a new consumer running');
    expect(script.consumersDisconnected).toBe(1);
    // A crash kafkajs restarts itself is left to it.
    script.crashListeners[1]({ payload: { restart: true, error: new Error('Connection error') } });
    await subscription.stop();
    expect(script.runs).toBe(2);
    expect(script.consumersDisconnected).toBe(2);
  });
});
