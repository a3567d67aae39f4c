import type { ImageErasedEvent } from './contracts/events';
import { IngestError } from './errors';
import { erasureRecordKey } from './image/object-keys';
import type { ObjectStore } from './ports/object-store.port';

/**
 * One erasure of an image, as its audit record keeps it: who, when, why and what was removed.
 * Never image data: no metadata (camera, GPS, caption) and no file names, which senders often
 * make of people's names; object keys are content hashes.
 */
export interface Erasure extends Pick<ImageErasedEvent, 'erasedAt' | 'trigger' | 'by' | 'reason'> {
  /** The objects found and removed in each configured store (every key of the image, manifests included). */
  objects: { store: string; region: string; keys: string[] }[];
  /** Stores the index's locations named that this deployment does not configure: their copies were not removed. */
  unconfiguredStores: string[];
  /** Whether the search index held a document of the image. */
  indexed: boolean;
  /** FTP view entries forgotten, counted per account. */
  deliveries: { account: string; files: number }[];
  /** When every step had succeeded and images.erased was published; null while it has not (a repeat finishes it). */
  completedAt: string | null;
}

/** The audit record of an image (object erasureRecordKey(id) in the primary store). */
export interface ErasureRecord {
  id: string;
  /** Oldest first: the same bytes delivered again after an erasure are a new image, and may be erased again. */
  erasures: Erasure[];
}

export async function readErasureRecord(store: ObjectStore, id: string): Promise<ErasureRecord | null> {
  try {
    return JSON.parse((await store.getBuffer(erasureRecordKey(id))).toString('utf8')) as ErasureRecord;
  } catch (error) {
    if (error instanceof IngestError && error.code === 'OBJECT_NOT_FOUND') return null;
    throw error;
  }
}

export async function writeErasureRecord(store: ObjectStore, record: ErasureRecord): Promise<void> {
  await store.put(erasureRecordKey(record.id), Buffer.from(JSON.stringify(record, null, 2)), 'application/json');
}

/** When the image was last erased, or null: a delivery received after it is a new image, not an erased one. */
export function lastErasedAt(record: ErasureRecord | null): string | null {
  return record?.erasures.at(-1)?.erasedAt ?? null;
}
