import path from 'node:path';
import type { Config } from '../config/config.schema';
import type { Logger } from '../logging';
import type { DeliveryRecord } from '../ports/delivery-record.port';
import type { EventBus } from '../ports/event-bus.port';
import type { ImageIndex } from '../ports/image-index.port';
import type { ObjectStore } from '../ports/object-store.port';
import { ElasticsearchDeliveryRecord } from './elasticsearch-delivery-record.adapter';
import { ElasticsearchImageIndex } from './elasticsearch-image-index.adapter';
import { KafkaEventBus } from './kafka-event-bus.adapter';
import { LocalObjectStore } from './local-object-store.adapter';
import { S3ObjectStore } from './s3-object-store.adapter';
import { SqliteDeliveryRecord } from './sqlite-delivery-record.adapter';
import { SqliteEventBus } from './sqlite-event-bus.adapter';
import { SqliteImageIndex } from './sqlite-image-index.adapter';

export interface Adapters {
  bus: EventBus;
  store: ObjectStore;
  index: ImageIndex;
  /** What each account delivered over FTP: its FTP view, shared by every ingest node. */
  deliveries: DeliveryRecord;
  close(): Promise<void>;
}

type Ports = Omit<Adapters, 'close'>;

/** Credentials come from the environment only, so no file in the repository can hold them. */
function s3Credentials(env: NodeJS.ProcessEnv) {
  const { S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey } = env;
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}

function elasticsearchAuth(env: NodeJS.ProcessEnv) {
  if (env.ELASTICSEARCH_API_KEY) return { apiKey: env.ELASTICSEARCH_API_KEY };
  if (env.ELASTICSEARCH_USERNAME && env.ELASTICSEARCH_PASSWORD) return { username: env.ELASTICSEARCH_USERNAME, password: env.ELASTICSEARCH_PASSWORD };
  return undefined;
}

function distributed(config: Readonly<Config>, logger: Logger, env: NodeJS.ProcessEnv): Ports {
  return {
    bus: new KafkaEventBus({ ...config.kafka, logger }),
    store: new S3ObjectStore({ ...config.s3, credentials: s3Credentials(env) }),
    index: new ElasticsearchImageIndex({ ...config.elasticsearch, logger, auth: elasticsearchAuth(env) }),
    deliveries: new ElasticsearchDeliveryRecord({
      node: config.elasticsearch.node,
      index: `${config.elasticsearch.index}-deliveries`,
      shards: config.elasticsearch.shards,
      replicas: config.elasticsearch.replicas,
      auth: elasticsearchAuth(env),
    }),
  };
}

function embedded(config: Readonly<Config>, logger: Logger): Ports {
  return {
    bus: new SqliteEventBus({ file: path.join(config.dataDir, 'bus.sqlite'), logger, retentionHours: config.bus.retentionHours }),
    store: new LocalObjectStore(path.join(config.dataDir, 'objects')),
    index: new SqliteImageIndex(path.join(config.dataDir, 'index.sqlite')),
    deliveries: new SqliteDeliveryRecord(path.join(config.dataDir, 'deliveries.sqlite')),
  };
}

/** The only place that knows which adapters run: services see the ports. */
export function createAdapters(config: Readonly<Config>, logger: Logger, env: NodeJS.ProcessEnv = process.env): Adapters {
  const { bus, store, index, deliveries } = config.adapters === 'distributed' ? distributed(config, logger, env) : embedded(config, logger);
  return {
    bus,
    store,
    index,
    deliveries,
    async close() {
      await bus.close();
      await Promise.all([store.close(), index.close(), deliveries.close()]);
    },
  };
}
