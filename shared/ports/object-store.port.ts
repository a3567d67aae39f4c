import type { Readable } from 'node:stream';
import type { ObjectLocation } from '../contracts/events';

export interface StoredObject {
  key: string;
  bytes: number;
  contentType: string;
}

export interface ObjectStream extends StoredObject {
  body: Readable;
}

/** An object as a listing sees it. */
export interface ListedObject {
  key: string;
  bytes: number;
  /** When the object was last written, ISO 8601. */
  modifiedAt: string;
}

export interface LocalFile {
  path: string;
  bytes: number;
  release(): Promise<void>;
}

/** How a write may be checked on the way. */
export interface PutOptions {
  /**
   * The SHA-256 (hex) of the bytes, when the caller already has it (an original's is its image id): a
   * store that can check it on write refuses bytes that do not match; one that cannot ignores it.
   */
  sha256?: string;
}

/** Content-addressed blob storage: keys are derived from the image id, so writes are idempotent. */
export interface ObjectStore {
  /** Writes atomically: a reader sees the whole object or none. Overwrites an existing key. */
  put(key: string, body: Buffer | Readable, contentType: string, options?: PutOptions): Promise<StoredObject>;
  /**
   * Stores a local file that the caller no longer changes; the store may take it over without a copy
   * (the local adapter links it in), so the caller can delete its own name afterwards.
   */
  putFile(key: string, filePath: string, contentType: string, options?: PutOptions): Promise<StoredObject>;
  /** Metadata of an object, or null when absent. */
  head(key: string): Promise<StoredObject | null>;
  /** The whole object in memory; throws OBJECT_NOT_FOUND when absent. */
  getBuffer(key: string): Promise<Buffer>;
  /**
   * The object as a local file, for readers that should not hold it whole in memory (a 260 MB
   * original). The local adapter hands over its own file; others download to a temp file that
   * `release()` removes. Throws OBJECT_NOT_FOUND when absent.
   */
  getFile(key: string): Promise<LocalFile>;
  /**
   * A stream of the object, or null when absent. With `range` (inclusive byte offsets within the
   * object) only those bytes are streamed; `bytes` is always the size of the whole object.
   */
  getStream(key: string, range?: { start: number; end: number }): Promise<ObjectStream | null>;
  delete(key: string): Promise<void>;
  /**
   * Every object whose key starts with `prefix`, read a page at a time (never the whole listing in
   * memory). The objects under one folder (`…/`) come one after another; none is listed twice.
   */
  list(prefix: string): AsyncIterable<ListedObject>;
  /** Where the object lives, for events and the index. */
  locate(key: string): ObjectLocation;
  /** Resolves when the store answers; throws a retriable STORE_UNAVAILABLE when it does not (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A configured store (config `stores`): ingest and processor write to the primary; replicas hold copies in other regions. */
export interface NamedStore {
  name: string;
  region: string;
  role: 'primary' | 'replica';
  store: ObjectStore;
}
