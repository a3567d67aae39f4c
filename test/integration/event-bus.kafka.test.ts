import pino from 'pino';
import { KafkaEventBus } from '../../shared/adapters/kafka-event-bus.adapter';
import { eventBusContract } from '../contract/event-bus.contract';
import { stackEnv } from '../helpers/stack';

eventBusContract('Kafka (kafkajs)', async () => ({
  open: async () =>
    new KafkaEventBus({
      brokers: stackEnv().KAFKA_BROKERS.split(','),
      clientId: 'contract',
      partitions: 3,
      replicationFactor: 1,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
      logger: pino({ level: 'silent' }),
    }),
  cleanup: async () => undefined,
}));
