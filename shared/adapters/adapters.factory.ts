import path from 'node:path';
import type { Config } from '../config/config.schema';
import type { Logger } from '../logging';
import type { EventBus } from '../ports/event-bus.port';
import type { ImageIndex } from '../ports/image-index.port';
import type { ObjectStore } from '../ports/object-store.port';
import { ElasticsearchImageIndex } from './elasticsearch-image-index.adapter';
import { KafkaEventBus } from './kafka-event-bus.adapter';
import { LocalObjectStore } from './local-object-store.adapter';
import { S3ObjectStore } from './s3-object-store.adapter';
import { SqliteEventBus } from './sqlite-event-bus.adapter';
import { SqliteImageIndex } from './sqlite-image-index.adapter';

export interface Adapters {
  bus: EventBus;
  store: ObjectStore;
  index: ImageIndex;
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
    index: new ElasticsearchImageIndex({ ...config.elasticsearch, auth: elasticsearchAuth(env) }),
  };
}

function embedded(config: Readonly<Config>, logger: Logger): Ports {
  return {
    bus: new SqliteEventBus({ file: path.join(config.dataDir, 'bus.sqlite'), logger, retentionHours: config.bus.retentionHours }),
    store: new LocalObjectStore(path.join(config.dataDir, 'objects')),
    index: new SqliteImageIndex(path.join(config.dataDir, 'index.sqlite')),
  };
}

/** The only place that knows which adapters run: services see the ports. */
export function createAdapters(config: Readonly<Config>, logger: Logger, env: NodeJS.ProcessEnv = process.env): Adapters {
  const { bus, store, index } = config.adapters === 'distributed' ? distributed(config, logger, env) : embedded(config, logger);
  return {
    bus,
    store,
    index,
    async close() {
      await bus.close();
      await Promise.all([store.close(), index.close()]);
    },
  };
}
