import type { ImageFailedEvent, ImageProcessedEvent, ImageSource } from '../contracts/events';

/** `failed`: the original is stored but could not be processed; it is indexed with what could be read. */
export const IMAGE_STATUSES = ['processed', 'failed'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

/**
 * One file that delivered the image: unique per (account, path). The ImageSource fields describe its
 * first receipt; a re-send of the same file counts here instead of adding a source.
 */
export interface IndexedSource extends ImageSource {
  /** Deliveries counted: a re-send after `lastSeenAt` (or before `firstSeenAt`) counts, a replay does not. */
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
}

/**
 * What the index keeps of an image: the latest processing result (or, for a failed image, what could
 * be read of it) plus every file that sent it.
 */
export interface ImageDocument
  extends Omit<ImageProcessedEvent, 'schema' | 'source' | 'width' | 'height' | 'processedAt' | 'processingMs'> {
  status: ImageStatus;
  /** Why processing failed; null for a processed image. */
  error: { code: string; message: string } | null;
  /** Null when the pixels could not be decoded. */
  width: number | null;
  height: number | null;
  processedAt: string | null;
  processingMs: number | null;
  sources: IndexedSource[];
  /** Over all sources. `receivedAt` is the first of them. */
  firstSeenAt: string;
  lastSeenAt: string;
}

export const SORT_FIELDS = ['capturedAt', 'receivedAt'] as const;
export type SortField = (typeof SORT_FIELDS)[number];

export interface BoundingBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

export interface ImageQuery {
  /** Every whitespace-separated term must match a word of a file name, path, camera, keyword or caption. */
  text?: string;
  account?: string;
  /** Case-insensitive exact match. */
  make?: string;
  model?: string;
  /** Capture instant bounds (inclusive). A capture time without offset counts as UTC. */
  from?: Date;
  to?: Date;
  bbox?: BoundingBox;
  /** Documents indexed before statuses existed count as processed. */
  status?: ImageStatus;
  sort: { field: SortField; order: 'asc' | 'desc' };
  /** 1-based. */
  page: number;
  size: number;
}

/**
 * Matches are counted up to this many, as Elasticsearch's `track_total_hits` does: counting every
 * match of a broad query would cost as much as the archive is large.
 */
export const TOTAL_HITS_CAP = 10_000;

export interface SearchResult {
  /** Matches counted, at most TOTAL_HITS_CAP. */
  total: number;
  /** `gte`: more than TOTAL_HITS_CAP images match and `total` is the cap. */
  totalRelation: 'eq' | 'gte';
  items: ImageDocument[];
}

export interface ImageIndex {
  /**
   * Creates or merges: the processed result replaces the metadata (also of a failed image) and the
   * event's file is counted in its source. Idempotent: a replayed event changes nothing.
   */
  upsert(event: ImageProcessedEvent): Promise<void>;
  /**
   * Indexes an image that could not be processed, with status `failed`, its error and whatever
   * metadata could be read; for an image already processed it only counts the source. Call it only
   * for events with `id` and `image` (others are refused with a permanent INVALID_EVENT). Idempotent.
   */
  upsertFailed(event: ImageFailedEvent): Promise<void>;
  get(id: string): Promise<ImageDocument | null>;
  search(query: ImageQuery): Promise<SearchResult>;
  /** Keeps a dead letter for the operators' view; idempotent for a replayed event. */
  recordFailure(event: ImageFailedEvent): Promise<void>;
  /** Most recent first. */
  failures(limit: number): Promise<ImageFailedEvent[]>;
  close(): Promise<void>;
}
