import type { Config } from '../../shared/config/config.schema';
import { SCHEMAS, type ImageErasedEvent } from '../../shared/contracts/events';
import { readErasureRecord, writeErasureRecord, type Erasure } from '../../shared/erasure-record';
import { imageKeyPrefixes } from '../../shared/image/object-keys';
import type { Logger } from '../../shared/logging';
import type { DeliveryRecord } from '../../shared/ports/delivery-record.port';
import type { EventBus } from '../../shared/ports/event-bus.port';
import type { ImageIndex } from '../../shared/ports/image-index.port';
import type { NamedStore } from '../../shared/ports/object-store.port';

export interface EraserDeps {
  config: Readonly<Config>;
  bus: EventBus;
  /** Every configured store, the primary first: the audit record is kept there. */
  stores: NamedStore[];
  index: ImageIndex;
  deliveries: DeliveryRecord;
  logger: Logger;
  /** The clock erasures are timed by (tests move it). */
  now?: () => Date;
}

/** Who asks and why; it goes into the audit record and the images.erased event. */
export type ErasureRequest = Pick<Erasure, 'trigger' | 'by' | 'reason'>;

/**
 * `erased`: this call removed something or finished an erasure a failed call had begun;
 * `already-erased`: nothing of the image is left and its last erasure completed;
 * `not-found`: nothing of the image is here and it was never erased.
 */
export type ErasureOutcome = { status: 'erased' | 'already-erased'; erasure: Erasure } | { status: 'not-found' };

/**
 * Removes an image everywhere: original, renditions and manifests in every store, the index
 * document (which leaves a tombstone), the accounts' FTP view entries; then publishes
 * images.erased. The one path for `cli erase`, DELETE /api/images/{id} and the retention sweep.
 *
 * Idempotent, and a failed call can be repeated: the audit record is written before anything is
 * removed (the replicator reads it to tell an erased original from a lost one), again once the FTP
 * view entries are forgotten, and marked complete only after the event is published, so a repeat
 * that finds nothing left still publishes it.
 */
export class Eraser {
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(private readonly deps: EraserDeps) {
    this.logger = deps.logger.child({ component: 'eraser' });
    this.now = deps.now ?? (() => new Date());
  }

  async erase(id: string, request: ErasureRequest): Promise<ErasureOutcome> {
    const { stores, index, deliveries } = this.deps;
    const primary = stores[0].store;
    const [doc, record, objects] = await Promise.all([index.get(id), readErasureRecord(primary, id), this.findObjects(id)]);
    const last = record?.erasures.at(-1);
    const found = doc !== null || objects.some((o) => o.keys.length > 0);
    if (!found && !last) return { status: 'not-found' };
    if (!found && last?.completedAt) return { status: 'already-erased', erasure: last };

    const configured = new Set(stores.map((s) => s.name));
    const erasure: Erasure = found
      ? {
          erasedAt: this.now().toISOString(),
          ...request,
          objects,
          unconfiguredStores: [...new Set((doc?.locations ?? []).map((l) => l.store).filter((name) => !configured.has(name)))],
          indexed: doc !== null,
          deliveries: [],
          completedAt: null,
        }
      : last!;
    const erasures = found ? [...(record?.erasures ?? []), erasure] : record!.erasures;
    if (found) await writeErasureRecord(primary, { id, erasures });

    await index.erase(id, erasure.erasedAt);
    const forgotten = await deliveries.forgetImage(id);
    for (const { account } of forgotten) {
      const counted = erasure.deliveries.find((d) => d.account === account);
      if (counted) counted.files++;
      else erasure.deliveries.push({ account, files: 1 });
    }
    // What was forgotten is known only now, and a repeat would find none of it.
    if (forgotten.length > 0) await writeErasureRecord(primary, { id, erasures });
    for (const { store, keys } of objects) {
      const named = stores.find((s) => s.name === store)!;
      for (const key of keys) await named.store.delete(key);
    }
    const event: ImageErasedEvent = { schema: SCHEMAS.erased, id, erasedAt: erasure.erasedAt, trigger: erasure.trigger, by: erasure.by, reason: erasure.reason };
    await this.deps.bus.publish(this.deps.config.bus.topics.erased, id, event);
    erasure.completedAt = this.now().toISOString();
    await writeErasureRecord(primary, { id, erasures });
    const removed = objects.reduce((n, o) => n + o.keys.length, 0);
    this.logger.info({ imageId: id, trigger: erasure.trigger, by: erasure.by, objects: removed, files: forgotten.length, resumed: !found }, 'image erased');
    return { status: 'erased', erasure };
  }

  /** Every object of the image in every configured store, listed (not taken from the index, which may be behind or already erased). */
  private async findObjects(id: string): Promise<Erasure['objects']> {
    return Promise.all(
      this.deps.stores.map(async ({ name, region, store }) => {
        const keys: string[] = [];
        for (const prefix of imageKeyPrefixes(id)) for await (const object of store.list(prefix)) keys.push(object.key);
        return { store: name, region, keys };
      }),
    );
  }
}
