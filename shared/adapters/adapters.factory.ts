import path from 'node:path';
import type { Config } from '../config/config.schema';
import type { Logger } from '../logging';
import type { DeliveryRecord } from '../ports/delivery-record.port';
import type { EventBus } from '../ports/event-bus.port';
import type { ImageIndex } from '../ports/image-index.port';
import type { NamedStore, ObjectStore } from '../ports/object-store.port';
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
  /** The primary store: ingest and processor write here, and system files (accounts, keys) live here. */
  store: ObjectStore;
  /** Every configured store, the primary first, then the replicas in config order. */
  stores: NamedStore[];
  index: ImageIndex;
  /** What each account delivered over FTP: its FTP view, shared by every ingest node. */
  deliveries: DeliveryRecord;
  close(): Promise<void>;
}

type Ports = Omit<Adapters, 'close' | 'store' | 'stores'>;

/**
 * Credentials come from the environment only, so no file in the repository can hold them: a named
 * store's own STORE_<NAME>_ACCESS_KEY_ID / _SECRET_ACCESS_KEY, else S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY.
 */
function s3Credentials(env: NodeJS.ProcessEnv, store?: string) {
  const prefix = store ? `STORE_${store.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_` : null;
  const own = prefix ? { accessKeyId: env[`${prefix}ACCESS_KEY_ID`], secretAccessKey: env[`${prefix}SECRET_ACCESS_KEY`] } : {};
  const accessKeyId = own.accessKeyId ?? env.S3_ACCESS_KEY_ID;
  const secretAccessKey = own.secretAccessKey ?? env.S3_SECRET_ACCESS_KEY;
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}

/** The configured stores, or the single primary that `s3` (distributed) or <dataDir>/objects (embedded) stands for. */
function createStores(config: Readonly<Config>, env: NodeJS.ProcessEnv): NamedStore[] {
  if (config.stores.length === 0) {
    const store =
      config.adapters === 'distributed'
        ? new S3ObjectStore({ ...config.s3, credentials: s3Credentials(env) })
        : new LocalObjectStore(path.join(config.dataDir, 'objects'));
    const [name, region] = config.adapters === 'distributed' ? [config.s3.name, config.s3.region] : ['local', 'local'];
    return [{ name, region, role: 'primary', store }];
  }
  const stores = config.stores.map(({ name, region, role, s3, local }): NamedStore => {
    const store = s3
      ? new S3ObjectStore({ ...config.s3, ...s3, name, storeRegion: region, credentials: s3Credentials(env, name) })
      : new LocalObjectStore(path.resolve(config.dataDir, local!.dir), name, region);
    return { name, region, role, store };
  });
  return [...stores.filter((s) => s.role === 'primary'), ...stores.filter((s) => s.role === 'replica')];
}

function elasticsearchAuth(env: NodeJS.ProcessEnv) {
  if (env.ELASTICSEARCH_API_KEY) return { apiKey: env.ELASTICSEARCH_API_KEY };
  if (env.ELASTICSEARCH_USERNAME && env.ELASTICSEARCH_PASSWORD) return { username: env.ELASTICSEARCH_USERNAME, password: env.ELASTICSEARCH_PASSWORD };
  return undefined;
}

function distributed(config: Readonly<Config>, logger: Logger, env: NodeJS.ProcessEnv): Ports {
  return {
    bus: new KafkaEventBus({ ...config.kafka, logger }),
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
    index: new SqliteImageIndex(path.join(config.dataDir, 'index.sqlite'), { cacheMB: config.embeddedIndex.cacheMB }),
    deliveries: new SqliteDeliveryRecord(path.join(config.dataDir, 'deliveries.sqlite')),
  };
}

/** The only place that knows which adapters run: services see the ports. */
export function createAdapters(config: Readonly<Config>, logger: Logger, env: NodeJS.ProcessEnv = process.env): Adapters {
  const { bus, index, deliveries } = config.adapters === 'distributed' ? distributed(config, logger, env) : embedded(config, logger);
  const stores = createStores(config, env);
  return {
    bus,
    store: stores[0].store,
    stores,
    index,
    deliveries,
    async close() {
      await bus.close();
      await Promise.all([...stores.map((s) => s.store.close()), index.close(), deliveries.close()]);
    },
  };
}
