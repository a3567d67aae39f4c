import pino from 'pino';
import { KafkaEventBus } from '../../shared/adapters/kafka-event-bus.adapter';
import { consumerRunnerContract } from '../contract/consumer-runner.contract';
import { eventBusContract } from '../contract/event-bus.contract';
import { stackEnv } from '../helpers/stack';

const SESSION_TIMEOUT_MS = 10_000;

const kafka = (brokers: string[]) =>
  new KafkaEventBus({
    brokers,
    clientId: 'contract',
    partitions: 3,
    replicationFactor: 1,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: 1_000,
    rebalanceTimeoutMs: 10_000,
    logger: pino({ level: 'silent' }),
  });

const harness = async () => ({
  open: async () => kafka(stackEnv().KAFKA_BROKERS.split(',')),
  // Port 1: nothing listens there, so every connection is refused.
  unreachable: async () => kafka(['127.0.0.1:1']),
  cleanup: async () => undefined,
});

eventBusContract('Kafka (kafkajs)', harness);
consumerRunnerContract('Kafka (kafkajs)', harness, { sessionTimeoutMs: SESSION_TIMEOUT_MS });
