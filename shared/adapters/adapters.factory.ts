import path from 'node:path';
import type { Config } from '../config/config.schema';
import type { Logger } from '../logging';
import type { EventBus } from '../ports/event-bus.port';
import type { ImageIndex } from '../ports/image-index.port';
import type { ObjectStore } from '../ports/object-store.port';
import { LocalObjectStore } from './local-object-store.adapter';
import { SqliteEventBus } from './sqlite-event-bus.adapter';
import { SqliteImageIndex } from './sqlite-image-index.adapter';

export interface Adapters {
  bus: EventBus;
  store: ObjectStore;
  index: ImageIndex;
  close(): Promise<void>;
}

/** The only place that knows which adapters run: services see the ports. */
export function createAdapters(config: Readonly<Config>, logger: Logger): Adapters {
  const bus = new SqliteEventBus({
    file: path.join(config.dataDir, 'bus.sqlite'),
    logger,
    retentionHours: config.bus.retentionHours,
  });
  const store = new LocalObjectStore(path.join(config.dataDir, 'objects'));
  const index = new SqliteImageIndex(path.join(config.dataDir, 'index.sqlite'));
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
